import type { Transaction } from 'bitcoinjs-lib';
import { script as bscript } from 'bitcoinjs-lib';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeDecision } from '../chains/btp/codec.js';
import { equalBytes, keccak256 } from '../chains/btp/bytes.js';
import { defaultBackend, type Secp256k1Backend } from '../chains/btp/secp256k1.js';
import { recoverSigner } from '../chains/btp/sign.js';
import { bip143Digest, decodeBip143Preimage } from '../chains/bitcoin/sighash.js';
import { SIGHASH_ALL } from '../chains/bitcoin/constants.js';
import type { FederationScript } from '../chains/bitcoin/scripts.js';
import { compressPublicKey } from './keys.js';
import { outpointKey, type Ledger } from './ledger.js';

/**
 * Slashing evidence (DESIGN.md §2 "Slashing": equivocation), prepared for
 * the home contract. Verify functions return false, never throw.
 */

/** (a) Two signatures by one validator over different decisions at the same BTP height. */
export interface BtpEquivocationEvidence {
  /** 20-byte validator address. */
  readonly validator: Uint8Array;
  readonly height: number;
  /** RLP NetworkTypeSectionDecision preimages and the 65-byte R‖S‖V signatures over their keccak. */
  readonly first: { readonly decision: Uint8Array; readonly signature: Uint8Array };
  readonly second: { readonly decision: Uint8Array; readonly signature: Uint8Array };
}

export function verifyBtpEquivocation(e: BtpEquivocationEvidence, backend: Secp256k1Backend = defaultBackend()): boolean {
  try {
    const a = decodeDecision(e.first.decision);
    const b = decodeDecision(e.second.decision);
    if (a.height !== e.height || b.height !== e.height) return false;
    if (a.srcNetworkUid !== b.srcNetworkUid || a.dstNetworkTypeId !== b.dstNetworkTypeId) return false;
    const ha = keccak256(e.first.decision);
    const hb = keccak256(e.second.decision);
    if (equalBytes(ha, hb)) return false;
    const sa = recoverSigner(ha, e.first.signature, backend);
    const sb = recoverSigner(hb, e.second.signature, backend);
    return sa !== null && sb !== null && equalBytes(sa, e.validator) && equalBytes(sb, e.validator);
  } catch {
    return false;
  }
}

/** (b) A signature over a BIP-143 preimage spending a federation outpoint with a sighash no closed batch produced. */
export interface BitcoinEquivocationEvidence {
  /** 33-byte compressed key of the signer (its registered signing key). */
  readonly validatorKey: Uint8Array;
  readonly preimage: Uint8Array;
  /** 65 bytes r‖s‖v (v = recovery id 0/1): the form the contract checks with one ecrecover. */
  readonly signature: Uint8Array;
}

const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));

/**
 * True when the evidence is a valid signature by `validatorKey` over a
 * well-formed SIGHASH_ALL preimage. `isApprovedSighash` (the contract's
 * view) must say the sighash was never approved, and `isFederationOutpoint`
 * that the outpoint is the federation's (display txid).
 */
export function verifyBitcoinEquivocation(
  e: BitcoinEquivocationEvidence,
  ctx: { isApprovedSighash: (sighash: Uint8Array) => boolean; isFederationOutpoint: (txid: string, vout: number) => boolean },
  backend: Secp256k1Backend = defaultBackend(),
): boolean {
  try {
    const f = decodeBip143Preimage(e.preimage);
    if (f === undefined || f.hashType !== SIGHASH_ALL) return false;
    if (!ctx.isFederationOutpoint(Buffer.from(f.outpointTxid).reverse().toString('hex'), f.outpointVout)) return false;
    const sighash = sha256d(e.preimage);
    if (ctx.isApprovedSighash(sighash)) return false;
    const pub = backend.recover(sighash, e.signature);
    return pub !== null && equalBytes(compressPublicKey(pub), e.validatorKey);
  } catch {
    return false;
  }
}

/** Recovery id of a compact signature by `key` over `hash`, or undefined. */
function withRecovery(hash: Uint8Array, compact64: Uint8Array, key: Uint8Array, backend: Secp256k1Backend): Uint8Array | undefined {
  for (const v of [0, 1]) {
    const sig = new Uint8Array(65);
    sig.set(compact64);
    sig[64] = v;
    const pub = backend.recover(hash, sig);
    if (pub !== null && equalBytes(compressPublicKey(pub), key)) return sig;
  }
  return undefined;
}

/**
 * Evidence from a Bitcoin transaction (mempool or confirmed) that spends
 * federation outpoints with sighashes the contract never approved: one
 * entry per valid validator signature in the witnesses of such inputs.
 * `scriptOf(epoch)` gives each epoch's script; amounts come from the ledger.
 */
export function findUnapprovedSpendEvidence(
  tx: Transaction,
  ledger: Ledger,
  scriptOf: (epoch: number) => FederationScript | undefined,
  isApprovedSighash: (sighash: Uint8Array) => boolean,
  backend: Secp256k1Backend = defaultBackend(),
): BitcoinEquivocationEvidence[] {
  const out: BitcoinEquivocationEvidence[] = [];
  tx.ins.forEach((input, i) => {
    const entry = ledger.get(outpointKey(Buffer.from(input.hash).reverse().toString('hex'), input.index));
    if (entry === undefined) return;
    const script = scriptOf(entry.epoch);
    if (script === undefined) return;
    const digest = bip143Digest(tx, i, script.witnessScript, entry.amountSats);
    if (isApprovedSighash(digest.sighash)) return;
    for (const item of input.witness.slice(0, -1)) {
      if (item.length === 0) continue;
      let compact: Uint8Array;
      try {
        const d = bscript.signature.decode(item);
        if (d.hashType !== SIGHASH_ALL) continue;
        compact = d.signature;
      } catch {
        continue;
      }
      for (const key of script.keys) {
        const sig = withRecovery(digest.sighash, compact, key, backend);
        if (sig !== undefined) {
          out.push({ validatorKey: key, preimage: digest.preimage, signature: sig });
          break;
        }
      }
    }
  });
  return out;
}

/**
 * Evidence from a gossiped signature with its preimage (e.g. a payout
 * witness for a transaction no closed batch produced), or undefined when the
 * signature is not valid or the sighash is approved.
 */
export function evidenceFromSignature(
  preimage: Uint8Array,
  signature65: Uint8Array,
  validatorKey: Uint8Array,
  ctx: Parameters<typeof verifyBitcoinEquivocation>[1],
  backend: Secp256k1Backend = defaultBackend(),
): BitcoinEquivocationEvidence | undefined {
  const e = { validatorKey, preimage, signature: signature65 };
  return verifyBitcoinEquivocation(e, ctx, backend) ? e : undefined;
}

/** Hex form of the evidence, argument by argument, as a contract call (or a report) takes it. */
export function btpEvidenceToJson(e: BtpEquivocationEvidence): { validator: string; height: number; decisionA: string; signatureA: string; decisionB: string; signatureB: string } {
  const h = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');
  return { validator: h(e.validator), height: e.height, decisionA: h(e.first.decision), signatureA: h(e.first.signature), decisionB: h(e.second.decision), signatureB: h(e.second.signature) };
}

export function bitcoinEvidenceToJson(e: BitcoinEquivocationEvidence): { validatorKey: string; preimage: string; signature: string } {
  const h = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');
  return { validatorKey: h(e.validatorKey), preimage: h(e.preimage), signature: h(e.signature) };
}

/**
 * Fixtures for the Slasher tests: evidence builders (decision preimages, BIP-143 preimages),
 * the IPayoutDuties mock, and a revert matcher that knows the Slasher's errors.
 */
import { Contract, ContractFactory, Wallet, getBytes, hexlify, keccak256, type JsonRpcProvider, type Signer } from 'ethers';
import { expect } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeDecision } from '../../src/chains/btp/index.js';
import { loadArtifact } from '../../src/chains/ethereum/artifacts.js';
import { decodeCustomError, signRaw } from '../../src/chains/ethereum/contracts.js';
import { MAX_TX_GAS, waitReceipt } from '../../src/chains/ethereum/provider.js';
import { decodeSlasherError } from '../../src/chains/ethereum/slashing.js';
import type { BitcoinEquivocationEvidence, BtpEquivocationEvidence } from '../../src/consensus/equivocation.js';
import { NETWORK_TYPE_ID, SRC_UID } from './helpers.js';

/** secp256k1 group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export async function deployPayoutMock(signer: Signer, provider: JsonRpcProvider): Promise<Contract> {
  const art = loadArtifact('PayoutDutiesMock');
  const factory = new ContractFactory(art.abi, art.bytecode, signer);
  const tx = await factory.getDeployTransaction({ gasLimit: MAX_TX_GAS });
  const r = await waitReceipt(provider, await signer.sendTransaction(tx));
  return new Contract(r.contractAddress!, art.abi, signer);
}

/** Expects `p` to revert with custom error `name` (Slasher's or any fednode contract's); returns its args. */
export async function expectSlashRevert(p: Promise<unknown>, name: string): Promise<unknown[]> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected revert ${name}`).toBeDefined();
  const data = revertData(err);
  expect(data, `no revert data in ${String(err)}`).toBeDefined();
  const decoded = decodeSlasherError(data!) ?? decodeCustomError(data!);
  expect(decoded?.name, `revert data ${data}`).toBe(name);
  return decoded!.args;
}

/** The custom error name in a revert (Slasher's or any fednode contract's), if any. */
export function revertName(e: unknown): string | undefined {
  const data = revertData(e);
  return data === undefined ? undefined : (decodeSlasherError(data) ?? decodeCustomError(data))?.name;
}

function revertData(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (x: unknown, depth: number): string | undefined => {
    if (depth > 8 || x === null || typeof x !== 'object' || seen.has(x)) return undefined;
    seen.add(x);
    const d = (x as { data?: unknown }).data;
    if (typeof d === 'string' && d.startsWith('0x') && d.length >= 10) return d;
    for (const k of ['error', 'info', 'cause', 'revert', 'data']) {
      const r = walk((x as Record<string, unknown>)[k], depth + 1);
      if (r) return r;
    }
    return undefined;
  };
  return walk(e, 0);
}

/** A NetworkTypeSectionDecision preimage of this federation (overridable fields). */
export function decision(height: number, ntsByte: number, opts: { src?: string; ntid?: number; round?: number } = {}): Uint8Array {
  return encodeDecision({
    srcNetworkUid: opts.src ?? SRC_UID,
    dstNetworkTypeId: opts.ntid ?? NETWORK_TYPE_ID,
    height,
    round: opts.round ?? 0,
    networkTypeSectionHash: new Uint8Array(32).fill(ntsByte),
  });
}

/** 65-byte R‖S‖V (V ∈ {0,1}) by `key` over keccak256(preimage) or over a given digest. */
export function signKeccak(key: string, preimage: Uint8Array): Uint8Array {
  return getBytes(signRaw(key, keccak256(preimage)));
}

export function signDigest(key: string, digest: Uint8Array): Uint8Array {
  return getBytes(signRaw(key, hexlify(digest)));
}

/** The malleable twin (n − s, flipped V) of a valid signature: same key by raw ecrecover, refused by the rules. */
export function highS(sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig);
  const s = BigInt(hexlify(sig.subarray(32, 64)));
  out.set(getBytes('0x' + (SECP256K1_N - s).toString(16).padStart(64, '0')), 32);
  out[64] = sig[64]! ^ 1;
  return out;
}

export function btpEvidence(key: string, a: Uint8Array, b: Uint8Array, height: number, signB: string = key): BtpEquivocationEvidence {
  return {
    validator: getBytes(new Wallet(key).address),
    height,
    first: { decision: a, signature: signKeccak(key, a) },
    second: { decision: b, signature: signKeccak(signB, b) },
  };
}

export const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));

const u32le = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};

/**
 * A BIP-143 preimage spending (txid, vout): the fields that matter here are the outpoint, the
 * hash type, and `variant` (standing for a different hashOutputs, e.g. a fee-bumped version).
 */
export function bip143Preimage(txid: Uint8Array, vout: number, opts: { hashType?: number; variant?: number; script?: Uint8Array } = {}): Uint8Array {
  const script = opts.script ?? new Uint8Array(71).fill(0x52);
  const amount = new Uint8Array(8);
  new DataView(amount.buffer).setBigUint64(0, 100_000n, true);
  const parts = [
    u32le(2),
    new Uint8Array(32).fill(0x11),
    new Uint8Array(32).fill(0x22),
    txid,
    u32le(vout),
    Uint8Array.of(script.length),
    script,
    amount,
    u32le(0xfffffffd),
    new Uint8Array(32).fill(0x30 + (opts.variant ?? 0)),
    u32le(0),
    u32le(opts.hashType ?? 1),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bitcoinEvidence(key: string, preimage: Uint8Array, signer: string = key): BitcoinEquivocationEvidence {
  return {
    validatorKey: getBytes(new Wallet(key).signingKey.compressedPublicKey),
    preimage,
    signature: signDigest(signer, sha256d(preimage)),
  };
}

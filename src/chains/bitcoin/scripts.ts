import { opcodes, payments, script as bscript, type Network } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { BridgeError } from '../../errors.js';
import {
  MAX_MULTISIG_KEYS,
  MAX_OPS_PER_SCRIPT,
  MAX_P2SH_REDEEM_SCRIPT_BYTES,
  MAX_STANDARD_P2WSH_SCRIPT_BYTES,
  MAX_STANDARD_P2WSH_STACK_ITEMS,
  MAX_THRESH_KEYS,
  MULTISIG_TEMPLATE_MAX_KEYS,
} from './constants.js';
import { compareBytes, equalBytes } from './bytes.js';

/**
 * `multisig`: `[<epoch> DROP] <m> <K1..Kn> <n> CHECKMULTISIG`.
 * `thresh`: `[<epoch> DROP] <K1> CHECKSIG SWAP <K2> CHECKSIG ADD … SWAP <Kn> CHECKSIG ADD <m> GREATERTHANOREQUAL`.
 */
export type ScriptTemplate = 'multisig' | 'thresh';

export interface FederationScriptParams {
  /** Compressed secp256k1 public keys, any order (they are sorted, BIP-67). */
  keys: readonly Uint8Array[];
  /** Signatures needed (m). */
  threshold: number;
  /** The federation epoch; tagged as `<epoch> DROP` so every set's address is unique. Omit for an untagged script. */
  epoch?: number;
  /** Defaults to {@link templateForKeyCount}. */
  template?: ScriptTemplate;
}

export interface FederationScript {
  readonly template: ScriptTemplate;
  readonly threshold: number;
  /** Keys in script order: ascending lexicographic order of the 33-byte compressed keys (BIP-67). */
  readonly keys: readonly Uint8Array[];
  readonly epoch: number | undefined;
  readonly witnessScript: Uint8Array;
  /** Non-push opcodes the script executes (CHECKMULTISIG counts its keys), ≤ 201. */
  readonly opCount: number;
  /** P2WSH output script: `OP_0 <sha256(witnessScript)>`. */
  readonly p2wshOutput: Uint8Array;
  /** P2SH-P2WSH redeem script, the single push of the spending scriptSig: `OP_0 <sha256(witnessScript)>`. */
  readonly p2shRedeemScript: Uint8Array;
  /** P2SH-P2WSH output script: `OP_HASH160 <hash160(redeemScript)> OP_EQUAL`. */
  readonly p2shP2wshOutput: Uint8Array;
}

/** The template DESIGN §4 and docs/PROTOCOL.md prescribe: multisig up to 15 keys, thresh from 16 to 67. */
export function templateForKeyCount(n: number): ScriptTemplate {
  return n <= MULTISIG_TEMPLATE_MAX_KEYS ? 'multisig' : 'thresh';
}

/** BIP-67: sort compressed public keys lexicographically. Returns a new array. */
export function sortPublicKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  return [...keys].sort(compareBytes);
}

/** Script-number encoding of the epoch (minimal CScriptNum, small values as OP_0..OP_16). */
export function encodeEpoch(epoch: number): Uint8Array {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0x7fffffff) {
    throw new BridgeError({ code: 'BTC_BAD_EPOCH', epoch, limit: '0 <= epoch <= 2^31-1' });
  }
  return bscript.compile([bscript.number.encode(epoch)]);
}

/**
 * Builds and checks a federation witness script. Every limit is checked here,
 * before anything is signed or paid to, with an error code naming it.
 */
export function federationScript(params: FederationScriptParams): FederationScript {
  const n = params.keys.length;
  const m = params.threshold;
  const template = params.template ?? templateForKeyCount(n);
  if (n === 0) throw new BridgeError({ code: 'BTC_SCRIPT_NO_KEYS' });
  if (!Number.isSafeInteger(m) || m < 1 || m > n) {
    throw new BridgeError({ code: 'BTC_SCRIPT_BAD_THRESHOLD', threshold: m, keys: n });
  }
  const keys = sortPublicKeys(params.keys);
  keys.forEach((k, i) => {
    if (!isCompressedPublicKey(k)) throw new BridgeError({ code: 'BTC_SCRIPT_BAD_KEY', index: i, limit: 'compressed secp256k1 point (BIP-143 policy)' });
    if (i > 0 && equalBytes(k, keys[i - 1]!)) throw new BridgeError({ code: 'BTC_SCRIPT_DUPLICATE_KEY', index: i });
  });
  if (template === 'multisig' && n > MAX_MULTISIG_KEYS) {
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_MANY_MULTISIG_KEYS', keys: n, limit: MAX_MULTISIG_KEYS });
  }
  if (template === 'thresh' && n > MAX_THRESH_KEYS) {
    // The 201-opcode check below would catch this too; naming the template cap is clearer.
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_MANY_THRESH_KEYS', keys: n, limit: MAX_THRESH_KEYS });
  }
  const tag = params.epoch === undefined ? [] : [...bscript.decompile(encodeEpoch(params.epoch))!, opcodes.OP_DROP];
  const mNum = bscript.number.encode(m);
  const body =
    template === 'multisig'
      ? [mNum, ...keys, bscript.number.encode(n), opcodes.OP_CHECKMULTISIG]
      : [
          ...keys.flatMap((k, i) => (i === 0 ? [k, opcodes.OP_CHECKSIG] : [opcodes.OP_SWAP, k, opcodes.OP_CHECKSIG, opcodes.OP_ADD])),
          mNum,
          opcodes.OP_GREATERTHANOREQUAL,
        ];
  const witnessScript = bscript.compile([...tag, ...body] as (number | Uint8Array)[]);
  const opCount = countExecutedOps(witnessScript);
  if (opCount > MAX_OPS_PER_SCRIPT) {
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_MANY_OPCODES', opCount, limit: MAX_OPS_PER_SCRIPT });
  }
  if (witnessScript.length > MAX_STANDARD_P2WSH_SCRIPT_BYTES) {
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_LARGE_P2WSH', bytes: witnessScript.length, limit: MAX_STANDARD_P2WSH_SCRIPT_BYTES });
  }
  const items = witnessItemCount(template, m, n);
  if (items > MAX_STANDARD_P2WSH_STACK_ITEMS) {
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_MANY_WITNESS_ITEMS', items, limit: MAX_STANDARD_P2WSH_STACK_ITEMS });
  }
  const p2wshOutput = p2wshOutputScript(witnessScript);
  const p2shRedeemScript = p2wshOutput;
  const p2shP2wshOutput = payments.p2sh({ redeem: { output: p2shRedeemScript } }).output!;
  return { template, threshold: m, keys, epoch: params.epoch, witnessScript, opCount, p2wshOutput, p2shRedeemScript, p2shP2wshOutput };
}

/** Witness stack items before the witness script: multisig's dummy plus m signatures; one per key for thresh. */
export function witnessItemCount(template: ScriptTemplate, m: number, n: number): number {
  return template === 'multisig' ? m + 1 : n;
}

/**
 * Non-push opcodes executed by a straight-line script (no IF branches in our
 * templates), as Bitcoin Core's interpreter counts them towards the 201 cap:
 * every opcode above OP_16, plus the key count for CHECKMULTISIG(VERIFY).
 */
export function countExecutedOps(script: Uint8Array): number {
  const chunks = bscript.decompile(script);
  if (chunks === null) throw new BridgeError({ code: 'BTC_SCRIPT_UNPARSEABLE' });
  let count = 0;
  chunks.forEach((c, i) => {
    if (typeof c !== 'number' || c <= opcodes.OP_16) return;
    count += 1;
    if (c === opcodes.OP_CHECKMULTISIG || c === opcodes.OP_CHECKMULTISIGVERIFY) {
      const prev = chunks[i - 1];
      const keys = typeof prev === 'number' ? prev - opcodes.OP_RESERVED : bscript.number.decode(prev as Uint8Array);
      count += keys;
    }
  });
  return count;
}

export function isCompressedPublicKey(key: Uint8Array): boolean {
  if (key.length !== 33 || (key[0] !== 0x02 && key[0] !== 0x03)) return false;
  try {
    secp256k1.Point.fromBytes(key);
    return true;
  } catch {
    return false;
  }
}

/** `OP_0 <sha256(witnessScript)>` (BIP-141 P2WSH). */
export function p2wshOutputScript(witnessScript: Uint8Array): Uint8Array {
  return Uint8Array.of(0x00, 0x20, ...sha256(witnessScript));
}

/** Legacy P2SH output for a redeem script, refusing scripts over the 520-byte push limit (BIP-16). */
export function p2shOutputScript(redeemScript: Uint8Array): Uint8Array {
  if (redeemScript.length > MAX_P2SH_REDEEM_SCRIPT_BYTES) {
    throw new BridgeError({ code: 'BTC_SCRIPT_TOO_LARGE_P2SH', bytes: redeemScript.length, limit: MAX_P2SH_REDEEM_SCRIPT_BYTES });
  }
  return payments.p2sh({ redeem: { output: redeemScript } }).output!;
}

export type FederationAddressKind = 'p2wsh' | 'p2sh-p2wsh';

/** The federation's deposit address of either kind on `network`. */
export function federationAddress(script: FederationScript, kind: FederationAddressKind, network: Network): string {
  return kind === 'p2wsh'
    ? payments.p2wsh({ output: script.p2wshOutput, network }).address!
    : payments.p2sh({ output: script.p2shP2wshOutput, network }).address!;
}

/** Legacy P2SH address of a redeem script (used for BIP-67's vectors). */
export function p2shAddress(redeemScript: Uint8Array, network: Network): string {
  return payments.p2sh({ output: p2shOutputScript(redeemScript), network }).address!;
}

/** The scriptPubKeys at which `script` receives funds. */
export function federationOutputScripts(script: FederationScript): readonly [Uint8Array, Uint8Array] {
  return [script.p2wshOutput, script.p2shP2wshOutput];
}

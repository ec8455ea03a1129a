import { ESTIMATED_SIGNATURE_BYTES } from './constants.js';
import type { FederationScript } from './scripts.js';

/** How a federation UTXO is locked: native P2WSH or P2SH-wrapped P2WSH. */
export type FederationOutputKind = 'p2wsh' | 'p2sh-p2wsh';

/** CompactSize length (BIP-144 serialisation). */
export function compactSizeLength(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** scriptSig bytes: empty for P2WSH; one 34-byte push of `OP_0 <32>` for P2SH-P2WSH (BIP-141). */
export function scriptSigLength(kind: FederationOutputKind): number {
  return kind === 'p2wsh' ? 0 : 35;
}

/**
 * Witness bytes of a federation input under the fee assumption that every
 * signature is 73 bytes (DESIGN §2): item count, m signatures, the empty
 * items (multisig dummy, or n − m non-signers for thresh), the script.
 */
export function estimatedWitnessBytes(script: FederationScript): number {
  const m = script.threshold;
  const n = script.keys.length;
  const empties = script.template === 'multisig' ? 1 : n - m;
  const items = m + empties + 1;
  const ws = script.witnessScript.length;
  return compactSizeLength(items) + m * (1 + ESTIMATED_SIGNATURE_BYTES) + empties + compactSizeLength(ws) + ws;
}

/** Weight of one federation input: 4 × (outpoint 36 + scriptSig + sequence 4) + witness. */
export function inputWeight(script: FederationScript, kind: FederationOutputKind): number {
  const ss = scriptSigLength(kind);
  return 4 * (36 + compactSizeLength(ss) + ss + 4) + estimatedWitnessBytes(script);
}

/** Weight of one output: 4 × (value 8 + script length + script). */
export function outputWeight(scriptPubKey: Uint8Array): number {
  return 4 * (8 + compactSizeLength(scriptPubKey.length) + scriptPubKey.length);
}

/** version 4 + input count + output count + locktime 4, ×4, plus the segwit marker and flag (2 WU). */
export function fixedWeight(inputs: number, outputs: number): number {
  return 4 * (4 + compactSizeLength(inputs) + compactSizeLength(outputs) + 4) + 2;
}

/** BIP-141 virtual size. */
export function vsizeOf(weight: number): number {
  return Math.ceil(weight / 4);
}

/** fee = ceil(vsize × rate / 1000) with the rate in sat per 1000 vB (integer arithmetic only). */
export function feeFor(vsize: number, feeRateSatPerKvB: bigint): bigint {
  return (BigInt(vsize) * feeRateSatPerKvB + 999n) / 1000n;
}

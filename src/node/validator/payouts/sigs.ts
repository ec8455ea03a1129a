import { bytesToHex, concatBytes, equalBytes, hexToBytes, reverseBytes } from '../../../chains/bitcoin/bytes.js';
import type { FederationUtxo } from '../../../chains/bitcoin/payout.js';
import type { InputSignature } from '../../../chains/bitcoin/payout-signing.js';
import { addressFromPublicKey } from '../../../chains/btp/sign.js';
import { toHex } from '../../../chains/btp/bytes.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { WitnessMessage } from '../../../consensus/payout-aggregator.js';
import type { GossipWitness, WitnessRecord, WitnessSig } from './types.js';

/**
 * Conversions between the three forms one witness signature takes
 * (docs/PAYOUTS.md §3): the signer's `InputSignature` (DER + compact +
 * recovery id), the 65-byte r‖s‖v of gossip and of the aggregator
 * (docs/P2P.md §4.3), and the contract's `WitnessSig` struct
 * `{input, keyIndex, recid, r, s}` (PROTOCOL.md §5.2).
 */

/** r‖s‖v, v = recovery id. */
export function sig65(s: InputSignature): Uint8Array {
  return concatBytes(s.signature.compact, Uint8Array.of(s.signature.recovery));
}

export function gossipOf(batchId: bigint, version: bigint, txid: string, sigs: readonly InputSignature[]): GossipWitness {
  return {
    batchId,
    version,
    txid: reverseBytes(hexToBytes(txid)),
    inputs: [...sigs].sort((a, b) => a.inputIndex - b.inputIndex).map((s) => ({ index: s.inputIndex, signature: sig65(s) })),
  };
}

export function witnessMessageOf(batchId: bigint, txid: string, inputs: readonly { index: number; signature: Uint8Array }[]): WitnessMessage {
  return { batchId, txid, inputs: inputs.map((i) => ({ index: i.index, signature: i.signature })) };
}

/** The contract struct of one r‖s‖v signature of input `input` by the key at `keyIndex`. */
export function witnessSigOf(input: number, keyIndex: number, signature: Uint8Array): WitnessSig {
  return { input, keyIndex, recid: signature[64]!, r: signature.slice(0, 32), s: signature.slice(32, 64) };
}

/**
 * `contractSignatures(key)` of the aggregator → `WitnessSig[]` grouped by validator (by key, then
 * input): the contract emits one `WitnessRecorded` per run of one validator's signatures.
 */
export function contractSigsOf(collected: readonly { inputIndex: number; validatorKey: Uint8Array; signature: Uint8Array }[], inputs: readonly FederationUtxo[]): WitnessSig[] {
  return collected
    .map((c) => ({ key: bytesToHex(c.validatorKey), sig: witnessSigOf(c.inputIndex, inputs[c.inputIndex]!.script.keys.findIndex((k) => equalBytes(k, c.validatorKey)), c.signature) }))
    .filter((x) => x.sig.keyIndex >= 0)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.sig.input - b.sig.input))
    .map((x) => x.sig);
}

/** This node's own signatures as the contract takes them. */
export function ownContractSigs(own: readonly { index: number; signature: Uint8Array }[], inputs: readonly FederationUtxo[], publicKey: Uint8Array): WitnessSig[] {
  return own.map((o) => witnessSigOf(o.index, inputs[o.index]!.script.keys.findIndex((k) => equalBytes(k, publicKey)), o.signature));
}

/** The r‖s‖v signatures of a `WitnessRecorded` event, as one aggregator message (verified again by the aggregator). */
export function messageFromRecord(rec: WitnessRecord, txid: string): WitnessMessage {
  return { batchId: rec.batchId, txid, inputs: rec.sigs.map((s) => ({ index: s.input, signature: concatBytes(s.r, s.s, Uint8Array.of(s.recid)) })) };
}

/** Lowercase 0x Ethereum address of a compressed secp256k1 key (the validator id, DESIGN.md §1). */
export function addressOfKey(compressed: Uint8Array): string {
  return toHex(addressFromPublicKey(secp256k1.Point.fromBytes(compressed).toBytes(false))).toLowerCase();
}

/** Who may submit a version's witnesses: every key of every input script, as addresses, ascending (rotated on the batch id). */
export function submittersOf(inputs: readonly FederationUtxo[]): Uint8Array[] {
  const set = new Set<string>();
  for (const u of inputs) for (const k of u.script.keys) set.add(addressOfKey(k));
  return [...set].sort().map((a) => hexToBytes(a.slice(2)));
}

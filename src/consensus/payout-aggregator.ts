import { script as bscript } from 'bitcoinjs-lib';
import { equalBytes } from '../chains/btp/bytes.js';
import { defaultBackend, type Secp256k1Backend } from '../chains/btp/secp256k1.js';
import { SIGHASH_ALL } from '../chains/bitcoin/constants.js';
import type { FederationScript } from '../chains/bitcoin/scripts.js';
import { compressPublicKey, hexOf } from './keys.js';
import type { ConsensusMetrics } from './metrics.js';
import { CollectionClock, DEFAULT_COLLECTION_TIMING, rotationOrder, type CollectionTiming, type Phase } from './quorum.js';

/**
 * Witness aggregation for one version of a payout batch (DESIGN.md §2
 * "home -> Bitcoin" step 3): quorum is counted **per input, against that
 * input's script keys and threshold**; the batch has quorum when every input
 * has. Signatures arrive as 65-byte r‖s‖v (v = recovery id), the form the
 * contract checks with one ecrecover; each is verified once, by recovering
 * the key and finding it in the input's script.
 */

export interface PayoutInputToSign {
  /** BIP-143 SIGHASH_ALL message of the input (re-derived by this node, never taken from a peer). */
  readonly sighash: Uint8Array;
  readonly script: FederationScript;
}

export interface OpenBatch {
  readonly batchId: bigint;
  /** Display-order txid of this version. */
  readonly txid: string;
  readonly inputs: readonly PayoutInputToSign[];
  /** Who may submit, canonical order (e.g. the current epoch's addresses, ascending); rotated on the batch id. */
  readonly submitters: readonly Uint8Array[];
  readonly startedAt?: number;
}

export interface WitnessMessage {
  readonly batchId: bigint;
  readonly txid: string;
  readonly inputs: readonly { readonly index: number; readonly signature: Uint8Array }[];
}

export interface WitnessAddResult {
  readonly counted: number;
  readonly duplicate: number;
  /** Not recoverable, recovering to a key outside the input's script, or an unknown input. */
  readonly invalid: number;
}

export type PayoutEvent =
  | { readonly type: 'quorum'; readonly key: string; readonly at: number }
  | { readonly type: 'final'; readonly key: string; readonly at: number; readonly missingByInput: readonly (readonly number[])[] };

interface BatchState {
  readonly batch: OpenBatch;
  /** per input: key index -> 65-byte signature */
  readonly sigs: Map<number, Uint8Array>[];
  readonly seen: Set<string>;
  readonly clock: CollectionClock;
  quorumReported: boolean;
  finalReported: boolean;
}

export function batchKey(batchId: bigint, txid: string): string {
  return `${batchId}:${txid.toLowerCase()}`;
}

export class PayoutAggregator {
  readonly #timing: CollectionTiming;
  readonly #backend: Secp256k1Backend;
  readonly #metrics: ConsensusMetrics | undefined;
  readonly #batches = new Map<string, BatchState>();

  constructor(opts: { timing?: CollectionTiming; backend?: Secp256k1Backend; metrics?: ConsensusMetrics } = {}) {
    this.#timing = opts.timing ?? DEFAULT_COLLECTION_TIMING;
    this.#backend = opts.backend ?? defaultBackend();
    this.#metrics = opts.metrics;
  }

  open(b: OpenBatch, now: number): string {
    const key = batchKey(b.batchId, b.txid);
    if (!this.#batches.has(key)) {
      this.#batches.set(key, {
        batch: b,
        sigs: b.inputs.map(() => new Map()),
        seen: new Set(),
        clock: new CollectionClock(b.startedAt ?? now, this.#timing),
        quorumReported: false,
        finalReported: false,
      });
    }
    return key;
  }

  /** Adds a validator's witness signatures; unknown batches are refused (the node opens a batch once it re-derived it). */
  add(m: WitnessMessage, now: number): WitnessAddResult | undefined {
    const st = this.#batches.get(batchKey(m.batchId, m.txid));
    if (st === undefined) return undefined;
    let counted = 0;
    let duplicate = 0;
    let invalid = 0;
    for (const s of m.inputs) {
      const input = st.batch.inputs[s.index];
      const seenKey = `${s.index}|${hexOf(s.signature)}`;
      if (st.seen.has(seenKey)) {
        duplicate++;
        continue;
      }
      st.seen.add(seenKey);
      if (input === undefined) {
        invalid++;
        continue;
      }
      const pub = input.sighash.length === 32 ? this.#backend.recover(input.sighash, s.signature) : null;
      const keyIndex = pub === null ? -1 : input.script.keys.findIndex((k) => equalBytes(k, compressPublicKey(pub)));
      if (keyIndex < 0) {
        invalid++;
        continue;
      }
      const per = st.sigs[s.index]!;
      if (per.has(keyIndex)) {
        duplicate++;
        continue;
      }
      per.set(keyIndex, s.signature);
      counted++;
    }
    const quorum = st.batch.inputs.every((inp, i) => st.sigs[i]!.size >= inp.script.threshold);
    const all = st.batch.inputs.every((inp, i) => st.sigs[i]!.size === inp.script.keys.length);
    if (st.clock.update(quorum, all, now)) this.#metrics?.quorum('payout', Math.max(0, now - st.clock.startedAt) / 1000);
    return { counted, duplicate, invalid };
  }

  tick(now: number): PayoutEvent[] {
    const events: PayoutEvent[] = [];
    for (const [key, st] of this.#batches) {
      const q = st.clock.quorumAt;
      if (q !== undefined && !st.quorumReported) {
        st.quorumReported = true;
        events.push({ type: 'quorum', key, at: q });
      }
      if (!st.finalReported && st.clock.phase(now) === 'final') {
        st.finalReported = true;
        const missingByInput = st.batch.inputs.map((inp, i) => inp.script.keys.map((_, k) => k).filter((k) => !st.sigs[i]!.has(k)));
        const signedAny = new Set<string>();
        const members = new Set<string>();
        st.batch.inputs.forEach((inp, i) => inp.script.keys.forEach((k, ki) => {
          members.add(hexOf(k));
          if (st.sigs[i]!.has(ki)) signedAny.add(hexOf(k));
        }));
        for (const k of members) this.#metrics?.signature('payout', k, signedAny.has(k));
        events.push({ type: 'final', key, at: st.clock.finalAt!, missingByInput });
      }
    }
    return events;
  }

  phase(key: string, now: number): Phase | undefined {
    return this.#batches.get(key)?.clock.phase(now);
  }

  /** Per input, key index -> DER‖SIGHASH_ALL: what `assemblePayout` takes. */
  witnessSignatures(key: string): Map<number, Map<number, Uint8Array>> {
    const st = this.#batches.get(key);
    const out = new Map<number, Map<number, Uint8Array>>();
    st?.sigs.forEach((per, i) => out.set(i, new Map([...per].map(([k, s]) => [k, bscript.signature.encode(s.subarray(0, 64), SIGHASH_ALL)]))));
    return out;
  }

  /** Every collected signature as the contract takes it: input, signer key, r‖s‖v. */
  contractSignatures(key: string): { inputIndex: number; validatorKey: Uint8Array; signature: Uint8Array }[] {
    const st = this.#batches.get(key);
    if (st === undefined) return [];
    return st.sigs.flatMap((per, i) => [...per].sort((a, b) => a[0] - b[0]).map(([k, s]) => ({ inputIndex: i, validatorKey: st.batch.inputs[i]!.script.keys[k]!, signature: s })));
  }

  rotation(key: string): Uint8Array[] {
    const st = this.#batches.get(key);
    return st === undefined ? [] : rotationOrder(st.batch.submitters, st.batch.batchId);
  }

  shouldSubmit(key: string, self: Uint8Array, now: number): boolean {
    const st = this.#batches.get(key);
    if (st === undefined) return false;
    const pos = this.rotation(key).findIndex((v) => equalBytes(v, self));
    return pos >= 0 && pos < st.clock.eligiblePositions(now, st.batch.submitters.length);
  }

  markSubmitted(key: string): void {
    this.#batches.get(key)?.clock.markSubmitted();
  }

  /** Forget a batch (confirmed on Bitcoin, or replaced by a newer version that confirmed). */
  close(key: string): void {
    this.#batches.delete(key);
  }
}

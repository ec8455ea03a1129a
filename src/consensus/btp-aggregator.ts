import { assembleProof } from '../chains/btp/builder.js';
import { encodeDecision } from '../chains/btp/codec.js';
import { equalBytes, toHex } from '../chains/btp/bytes.js';
import { decisionHash as hashDecision } from '../chains/btp/hashes.js';
import { defaultBackend, type Secp256k1Backend } from '../chains/btp/secp256k1.js';
import { recoverSigner } from '../chains/btp/sign.js';
import type { EthProof } from '../chains/btp/types.js';
import type { BtpEquivocationEvidence } from './equivocation.js';
import type { ConsensusMetrics } from './metrics.js';
import { CollectionClock, DEFAULT_COLLECTION_TIMING, majorityThreshold, rotationOrder, type CollectionTiming, type Phase, type ThresholdRule } from './quorum.js';

/**
 * Signature aggregation for BTP blocks (DESIGN.md §2 "Bitcoin -> home" steps
 * 3-4): per (height, decision hash), each signature verified once,
 * duplicates never counted twice, quorum by the threshold rule, collection
 * until a short deadline after quorum, then one submitter by rotation on the
 * height. A state machine: every call takes `now` (ms); no timers, no I/O.
 */

export interface BtpAggregatorOptions {
  readonly srcNetworkUid: string;
  readonly networkTypeId: number;
  readonly threshold?: ThresholdRule;
  readonly timing?: CollectionTiming;
  readonly backend?: Secp256k1Backend;
  readonly metrics?: ConsensusMetrics;
  /** Attestations buffered for heights not opened yet (bounded; extra ones are dropped and counted). */
  readonly maxBuffered?: number;
  /**
   * Signatures over decisions other than ours verified per height, as a
   * multiple of the set size: honest validators send none, so a peer spraying
   * signatures over made-up hashes cannot grow memory or CPU without bound
   * (default 8; enough to catch equivocation).
   */
  readonly maxVerifiedPerValidator?: number;
}

export interface Attestation {
  readonly height: number;
  readonly decisionHash: Uint8Array;
  readonly signature: Uint8Array;
  /**
   * Optional H(NetworkTypeSection): lets the decision preimage be rebuilt
   * (needed as equivocation evidence). Must hash to `decisionHash`.
   */
  readonly networkTypeSectionHash?: Uint8Array;
}

export type AddResult =
  | 'counted' // valid, by a validator, on our decision
  | 'other-decision' // valid, by a validator, on a decision we did not derive
  | 'duplicate' // already seen (not verified again, not counted again)
  | 'invalid' // does not recover, or the NTS hash does not match
  | 'not-validator'
  | 'buffered' // height not opened yet
  | 'dropped' // buffer full, or height already pruned
  | 'equivocation'; // valid, and this validator signed another decision at this height

export interface OpenHeight {
  /** The set that signs this block (the chain state's validators before the block), ProofContext order. */
  readonly validators: readonly Uint8Array[];
  /** Our derived block's decision hash and its RLP preimage. */
  readonly decisionHash: Uint8Array;
  readonly decision: Uint8Array;
  /** Start of collection for the latency metric (e.g. when the block reached k confirmations). Default: now. */
  readonly startedAt?: number;
}

export type AggregatorEvent =
  | { readonly type: 'quorum'; readonly height: number; readonly at: number }
  | { readonly type: 'final'; readonly height: number; readonly at: number; readonly signers: readonly Uint8Array[]; readonly missing: readonly Uint8Array[] }
  | { readonly type: 'conflicting-quorum'; readonly height: number; readonly decisionHash: Uint8Array };

interface HeightState {
  readonly validators: readonly Uint8Array[];
  readonly index: Map<string, number>;
  readonly ours: string;
  /** decision hash hex -> preimage (when known) */
  readonly preimages: Map<string, Uint8Array>;
  /** decision hash hex -> signer hex -> signature */
  readonly byDecision: Map<string, Map<string, Uint8Array>>;
  /** signature cache: `${decision}|${sig}` -> signer hex or null (verify once) */
  readonly verified: Map<string, string | null>;
  readonly clock: CollectionClock;
  otherVerified: number;
  quorumReported: boolean;
  finalReported: boolean;
  conflictReported: boolean;
}

export class BtpAggregator {
  readonly #o: Required<Omit<BtpAggregatorOptions, 'metrics'>> & Pick<BtpAggregatorOptions, 'metrics'>;
  readonly #heights = new Map<number, HeightState>();
  readonly #buffer = new Map<number, Attestation[]>();
  #buffered = 0;
  #prunedBelow = -Infinity;
  readonly #evidence: BtpEquivocationEvidence[] = [];
  readonly #evidenceKeys = new Set<string>();
  dropped = 0;

  constructor(opts: BtpAggregatorOptions) {
    this.#o = { threshold: majorityThreshold, timing: DEFAULT_COLLECTION_TIMING, backend: defaultBackend(), maxBuffered: 4096, maxVerifiedPerValidator: 8, ...opts };
  }

  /** Start collecting for our derived block at `height`; buffered attestations are processed now. */
  open(height: number, h: OpenHeight, now: number): AddResult[] {
    if (this.#heights.has(height) || height < this.#prunedBelow) return [];
    const ours = toHex(h.decisionHash);
    const st: HeightState = {
      validators: [...h.validators],
      index: new Map(h.validators.map((v, i) => [toHex(v), i])),
      ours,
      preimages: new Map([[ours, h.decision]]),
      byDecision: new Map(),
      verified: new Map(),
      clock: new CollectionClock(h.startedAt ?? now, this.#o.timing),
      otherVerified: 0,
      quorumReported: false,
      finalReported: false,
      conflictReported: false,
    };
    this.#heights.set(height, st);
    const pending = this.#buffer.get(height) ?? [];
    this.#buffer.delete(height);
    this.#buffered -= pending.length;
    return pending.map((a) => this.add(a, now));
  }

  /** Our own signature goes in through the same path (it is verified like any other). */
  add(a: Attestation, now: number): AddResult {
    if (a.height < this.#prunedBelow) return 'dropped';
    const st = this.#heights.get(a.height);
    if (st === undefined) {
      if (this.#buffered >= this.#o.maxBuffered) {
        this.dropped++;
        return 'dropped';
      }
      const list = this.#buffer.get(a.height) ?? [];
      list.push(a);
      this.#buffer.set(a.height, list);
      this.#buffered++;
      return 'buffered';
    }
    const dh = toHex(a.decisionHash);
    const cacheKey = `${dh}|${toHex(a.signature)}`;
    if (st.verified.has(cacheKey)) return 'duplicate';
    if (dh !== st.ours) {
      // Signatures over our decision are always checked (the p2p layer scores peers that send bad
      // ones); those over other decisions are capped per height.
      if (st.otherVerified >= this.#o.maxVerifiedPerValidator * st.validators.length) {
        this.dropped++;
        return 'dropped';
      }
      st.otherVerified++;
    }
    if (a.networkTypeSectionHash !== undefined) {
      const decision = { srcNetworkUid: this.#o.srcNetworkUid, dstNetworkTypeId: this.#o.networkTypeId, height: a.height, round: 0, networkTypeSectionHash: a.networkTypeSectionHash };
      if (!equalBytes(hashDecision(decision), a.decisionHash)) return 'invalid';
      if (!st.preimages.has(dh)) st.preimages.set(dh, encodeDecision(decision));
    }
    const signer = a.decisionHash.length === 32 ? recoverSigner(a.decisionHash, a.signature, this.#o.backend) : null;
    const signerHex = signer === null ? null : toHex(signer);
    st.verified.set(cacheKey, signerHex);
    if (signerHex === null) return 'invalid';
    if (!st.index.has(signerHex)) return 'not-validator';
    let sigs = st.byDecision.get(dh);
    if (sigs === undefined) st.byDecision.set(dh, (sigs = new Map()));
    if (sigs.has(signerHex)) return 'duplicate'; // another valid signature by the same signer: counts once
    sigs.set(signerHex, a.signature);
    const equivocated = this.#checkEquivocation(a.height, st, signerHex, signer!);
    this.#update(st, now);
    if (equivocated) return 'equivocation';
    return dh === st.ours ? 'counted' : 'other-decision';
  }

  #checkEquivocation(height: number, st: HeightState, signerHex: string, signer: Uint8Array): boolean {
    const decisions = [...st.byDecision.entries()].filter(([, m]) => m.has(signerHex)).map(([d]) => d);
    if (decisions.length < 2) return false;
    const [d1, d2] = decisions.sort();
    const p1 = st.preimages.get(d1!);
    const p2 = st.preimages.get(d2!);
    const key = `${height}|${signerHex}`;
    if (p1 !== undefined && p2 !== undefined && !this.#evidenceKeys.has(key)) {
      this.#evidenceKeys.add(key);
      this.#evidence.push({
        validator: signer,
        height,
        first: { decision: p1, signature: st.byDecision.get(d1!)!.get(signerHex)! },
        second: { decision: p2, signature: st.byDecision.get(d2!)!.get(signerHex)! },
      });
      this.#o.metrics?.equivocation('btp');
    }
    return true;
  }

  #count(st: HeightState, dh: string): number {
    return st.byDecision.get(dh)?.size ?? 0;
  }

  #update(st: HeightState, now: number): void {
    const n = st.validators.length;
    const have = this.#count(st, st.ours);
    if (st.clock.update(have >= this.#o.threshold(n), have === n, now)) {
      this.#o.metrics?.quorum('btp', Math.max(0, now - st.clock.startedAt) / 1000);
    }
  }

  /**
   * Advance to `now`: returns what happened since the last call (quorum,
   * end of collection, a quorum on a decision other than ours — our
   * derivation disagrees with a majority: stop and alert).
   */
  tick(now: number): AggregatorEvent[] {
    const events: AggregatorEvent[] = [];
    for (const [height, st] of [...this.#heights.entries()].sort((a, b) => a[0] - b[0])) {
      const q = st.clock.quorumAt;
      if (q !== undefined && !st.quorumReported) {
        st.quorumReported = true;
        events.push({ type: 'quorum', height, at: q });
      }
      if (!st.conflictReported) {
        for (const [dh, m] of st.byDecision) {
          if (dh !== st.ours && m.size >= this.#o.threshold(st.validators.length)) {
            st.conflictReported = true;
            events.push({ type: 'conflicting-quorum', height, decisionHash: Buffer.from(dh.slice(2), 'hex') });
          }
        }
      }
      if (!st.finalReported && st.clock.phase(now) === 'final') {
        st.finalReported = true;
        const mine = st.byDecision.get(st.ours) ?? new Map<string, Uint8Array>();
        const signers = st.validators.filter((v) => mine.has(toHex(v)));
        const missing = st.validators.filter((v) => !mine.has(toHex(v)));
        for (const v of st.validators) this.#o.metrics?.signature('btp', toHex(v), mine.has(toHex(v)));
        events.push({ type: 'final', height, at: st.clock.finalAt!, signers, missing });
      }
    }
    return events;
  }

  phase(height: number, now: number): Phase | undefined {
    return this.#heights.get(height)?.clock.phase(now);
  }

  /** Valid signatures on our decision at `height`. */
  signatureCount(height: number): number {
    const st = this.#heights.get(height);
    return st === undefined ? 0 : this.#count(st, st.ours);
  }

  quorumAt(height: number): number | undefined {
    return this.#heights.get(height)?.clock.quorumAt;
  }

  /** The ETH Proof for our decision (ProofContext order, nil for the missing). */
  proof(height: number): EthProof | undefined {
    const st = this.#heights.get(height);
    if (st === undefined) return undefined;
    return assembleProof(st.validators, st.byDecision.get(st.ours) ?? new Map());
  }

  /** Rotation order for `height`: the set in ProofContext order starting at height mod n. */
  rotation(height: number): Uint8Array[] {
    const st = this.#heights.get(height);
    return st === undefined ? [] : rotationOrder(st.validators, height);
  }

  /** True when `self` may submit at `now`: collection has ended and its rotation slot has come. */
  shouldSubmit(height: number, self: Uint8Array, now: number): boolean {
    const st = this.#heights.get(height);
    if (st === undefined) return false;
    const pos = this.rotation(height).findIndex((v) => equalBytes(v, self));
    return pos >= 0 && pos < st.clock.eligiblePositions(now, st.validators.length);
  }

  /** When `self` would first be allowed to submit (undefined before quorum or for a non-member). */
  submitTime(height: number, self: Uint8Array): number | undefined {
    const st = this.#heights.get(height);
    const pos = this.rotation(height).findIndex((v) => equalBytes(v, self));
    return st === undefined || pos < 0 ? undefined : st.clock.submitTime(pos);
  }

  /** The relay was accepted on chain (by us or anyone): nobody needs to submit any more. */
  markSubmitted(height: number): void {
    this.#heights.get(height)?.clock.markSubmitted();
  }

  /** Evidence prepared so far (each equivocating validator and height once); drained by the call. */
  takeEvidence(): BtpEquivocationEvidence[] {
    return this.#evidence.splice(0);
  }

  /** Forget heights below `height` (delivered on chain). Later attestations for them are dropped. */
  prune(belowHeight: number): void {
    this.#prunedBelow = Math.max(this.#prunedBelow, belowHeight);
    for (const h of [...this.#heights.keys()]) if (h < belowHeight) this.#heights.delete(h);
    for (const [h, l] of [...this.#buffer.entries()]) {
      if (h < belowHeight) {
        this.#buffered -= l.length;
        this.#buffer.delete(h);
      }
    }
  }
}

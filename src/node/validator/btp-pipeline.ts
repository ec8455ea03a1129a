import { EventEmitter } from 'node:events';
import type { EmittedBlock } from '../../chains/bitcoin/watcher.js';
import type { WatcherState } from '../../chains/bitcoin/watcher-store.js';
import { buildRelayMessages } from '../../chains/btp/builder.js';
import { decodeHeader, encodeDecision, encodeProof, encodeRelayMessage } from '../../chains/btp/codec.js';
import { equalBytes, toHex } from '../../chains/btp/bytes.js';
import type { BTPBlockHeader } from '../../chains/btp/types.js';
import type { BtpAggregator, Attestation as ConsensusAttestation } from '../../consensus/btp-aggregator.js';
import { deriveHeight, type DerivationConfig, type DerivationState } from '../../consensus/derivation.js';
import type { BtpEquivocationEvidence } from '../../consensus/equivocation.js';
import type { HomeSnapshot } from '../../consensus/home-state.js';
import { pushTimestamp, windowMedianTime, type TimestampWindow } from '../../consensus/mtp.js';
import { assertMaySign } from '../../consensus/safety.js';
import { isBridgeError } from '../../errors.js';
import type { Logger } from '../logger.js';
import type { MetricsFactory } from '../metrics.js';
import type { Attestation } from '../p2p/messages.js';
import type { Verdict } from '../p2p/validation.js';
import { signBtpBlock } from '../signlog/sign.js';
import type { SignLog } from '../signlog/signlog.js';
import type { LevelBtpStore } from '../stores/btp-store.js';
import type { PendingRecord, ValidatorStateStore } from './state-store.js';

/**
 * The Bitcoin → home half of the validator (docs/CONSENSUS.md §8, steps 1-3,
 * 5, 6): each watcher block at k confirmations is derived, persisted with the
 * watcher cursor, signed through the sign-log, gossiped and aggregated; at
 * the end of collection the rotation's submitter relays the block to the
 * BMC. I/O is behind the deps (stores, publish, relay); timers belong to the
 * caller, which calls {@link BtpPipeline.tick}.
 */

export interface BtpPipelineDeps {
  config: DerivationConfig;
  networkId: number;
  /** This validator's signing address and key. */
  self: Uint8Array;
  signingKey: Uint8Array;
  signLog: SignLog;
  store: ValidatorStateStore;
  btpStore: LevelBtpStore;
  aggregator: BtpAggregator;
  snapshot: () => HomeSnapshot | undefined;
  /** Gossip one attestation (false: queue full). */
  publish: (a: Attestation) => boolean;
  /** Submit a relay message for `height` (crash-safe sender, idempotent per height). */
  relay: (height: number, part: number, relayMessage: Uint8Array) => Promise<void>;
  /** Equivocation evidence collected from gossip (submission to the slasher: TODO, see docs/VALIDATOR.md). */
  onEvidence?: (evidence: BtpEquivocationEvidence[]) => void;
  /** Largest relay message (bytes). */
  maxRelayBytes: number;
  /** Back-off after a failed relay attempt (e.g. the previous height not accepted yet). */
  relayRetryMs: number;
  /** Wall clock, unix ms. */
  now: () => number;
  log: Logger;
  metrics?: MetricsFactory;
}

export interface PipelineEvents {
  /** Quorum on our decision at `height`, `at` unix ms. */
  quorum: [{ height: number; at: number }];
  final: [{ height: number; at: number; signers: number; missing: number }];
  derived: [{ height: number; block: boolean; messages: number }];
  relayed: [{ height: number }];
}

export type BlockResult = 'done' | 'retry';

interface Pending {
  record: PendingRecord;
  header: BTPBlockHeader;
  messages: Uint8Array[];
  own?: Attestation;
  /** A signing attempt is in flight (open and tick must not sign the same height twice at once). */
  signing: boolean;
  /** A withheld signature is retried from this time on (unix ms). */
  signRetryAt: number;
  final: boolean;
  retryAt: number;
  submitting: boolean;
}

const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex'));
const plain = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A signature withheld (stale view, halt) is tried again after this long. */
const SIGN_RETRY_MS = 1_000;
const RETRYABLE = new Set(['CONSENSUS_HOME_VIEW_STALE', 'CONSENSUS_HOME_VIEW_BEHIND_CHAIN']);

export class BtpPipeline extends EventEmitter<PipelineEvents> {
  readonly #d: BtpPipelineDeps;
  readonly #log: Logger;
  #state: DerivationState | undefined;
  #window: TimestampWindow | undefined;
  readonly #pending = new Map<number, Pending>();
  #relayed = -1;
  #lastSigned = -1;
  #lastFinal = -1;
  #signedCount = 0;
  #conflict: { height: number } | undefined;
  #lastError: string | undefined;
  /** When the current run of derivation failures began (unix ms). */
  #failingSince: number | undefined;
  readonly #m;

  constructor(deps: BtpPipelineDeps) {
    super();
    this.#d = deps;
    this.#log = deps.log.child({ module: 'btp-pipeline' });
    const f = deps.metrics;
    this.#m = f && {
      derived: f.counter('fednode_validator_heights_derived_total', 'Bitcoin heights derived', ['block']),
      signed: f.counter('fednode_validator_btp_signed_total', 'BTP blocks signed by this validator'),
      attestations: f.counter('fednode_validator_attestations_total', 'Gossiped attestations by aggregation result', ['result']),
      relays: f.counter('fednode_validator_relay_submissions_total', 'Relay submissions by outcome', ['outcome']),
      heights: f.gauge('fednode_validator_btp_height', 'BTP heights: derived, signed, final, relayed', ['kind']),
      pending: f.gauge('fednode_validator_pending_btp_blocks', 'Derived BTP blocks not yet accepted on the home chain'),
      refusals: f.counter('fednode_validator_signing_refused_total', 'Signatures withheld (halt, stale home view)', ['reason']),
    };
  }

  // ------------------------------------------------------------------ state

  get derivedHeight(): number {
    return (this.#state?.nextHeight ?? 0) - 1;
  }
  get nextHeight(): number | undefined {
    return this.#state?.nextHeight;
  }
  get lastSignedHeight(): number {
    return this.#lastSigned;
  }
  get lastFinalHeight(): number {
    return this.#lastFinal;
  }
  get lastRelayedHeight(): number {
    return this.#relayed;
  }
  get signedCount(): number {
    return this.#signedCount;
  }
  get pendingCount(): number {
    return this.#pending.size;
  }
  get conflict(): { height: number } | undefined {
    return this.#conflict;
  }
  get lastError(): string | undefined {
    return this.#lastError;
  }
  /** Unix ms since which every derivation attempt has failed (undefined while deriving). */
  get failingSince(): number | undefined {
    return this.#failingSince;
  }
  get state(): DerivationState | undefined {
    return this.#state;
  }

  #gauge(kind: string, v: number): void {
    this.#m?.heights.set({ kind }, v);
  }

  /**
   * Restores state at start: the derivation state and timestamp window, the highest relayed
   * height, and every derived block not yet relayed (collection resumes with the persisted
   * signatures; our own signature is re-made — same key, same decision, same bytes — after the
   * sign-log confirms it is a repeat).
   */
  async init(state: DerivationState, window: TimestampWindow | undefined, relayed: number, signedBefore: number): Promise<void> {
    this.#state = state;
    this.#window = window;
    this.#relayed = relayed;
    this.#signedCount = signedBefore;
    this.#lastSigned = (await this.#d.signLog.highestSignedHeight()) ?? -1;
    this.#gauge('derived', this.derivedHeight);
    this.#gauge('relayed', relayed);
    this.#gauge('signed', this.#lastSigned);
    await this.#d.store.prune(relayed);
    for (const rec of await this.#d.store.pending()) {
      const stored = await this.#d.btpStore.block(this.#d.networkId, rec.height);
      if (stored === null || stored === undefined) continue;
      await this.#open(rec, decodeHeader(stored.header), stored.messages, true);
    }
    this.#m?.pending.set(this.#pending.size);
  }

  // ------------------------------------------------------------------ derivation

  /**
   * Derives one watcher block (heights strictly in order). `cursor` is the watcher state right
   * after this block; it is committed in the same batch as the derivation. 'retry': the home view
   * cannot vouch for this block yet (stale or behind): call again with the same block later.
   */
  async processBlock(b: EmittedBlock, cursor: WatcherState): Promise<BlockResult> {
    const state = this.#state;
    if (state === undefined) throw new Error('pipeline not initialised');
    const snap = this.#d.snapshot();
    if (snap === undefined) return 'retry';
    const window = pushTimestamp(this.#window, b.height, b.timestamp);
    const nowMs = this.#d.now();
    let d;
    try {
      d = deriveHeight(state, { height: b.height, hash: b.hash, transactions: b.transactions, medianTime: windowMedianTime(window) }, snap, this.#d.config, { now: Math.floor(nowMs / 1000) });
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#failingSince ??= nowMs;
      if (isBridgeError(err) && RETRYABLE.has(err.code)) {
        this.#log.debug({ height: b.height, code: err.code }, 'home view cannot vouch for this block yet: retrying');
        return 'retry';
      }
      this.#log.error({ err, height: b.height }, 'derivation failed: retrying (operator attention needed if it persists)');
      return 'retry';
    }
    this.#lastError = undefined;
    this.#failingSince = undefined;
    const ops = [...this.#d.store.derivationOps(d.state, window, cursor), ...this.#d.btpStore.latestOps(b.height)];
    let rec: PendingRecord | undefined;
    if (d.block !== null) {
      const blk = d.block;
      ops.push(...this.#d.btpStore.putBlockOps({ height: b.height, networkId: this.#d.networkId, header: blk.headerBytes, proof: null, messages: blk.messages }));
      rec = {
        height: b.height,
        decisionHash: plain(blk.decisionHash),
        decision: plain(encodeDecision(blk.decision)),
        networkTypeSectionHash: plain(blk.decision.networkTypeSectionHash),
        validators: state.chain.validators.map(plain),
        btcBlockHash: b.hash,
        startedAt: nowMs,
      };
      ops.push(...this.#d.store.pendingOps(rec));
    }
    await this.#d.store.commit(ops);
    this.#d.btpStore.notify();
    this.#state = d.state;
    this.#window = window;
    this.#m?.derived.inc({ block: d.block === null ? 'no' : 'yes' });
    this.#gauge('derived', b.height);
    this.emit('derived', { height: b.height, block: d.block !== null, messages: d.block?.messages.length ?? 0 });
    if (d.block !== null && rec !== undefined) {
      this.#log.info({ height: b.height, messages: d.block.messages.length, decision: toHex(d.block.decisionHash) }, 'derived BTP block');
      // Catching up below what the home chain already accepted: nothing to collect or relay, but
      // the block is signed into the sign-log, so the accountability module can record our
      // signature on chain (BMV recordSignature) while the window is open and we are not
      // slashed for a duty we missed only because we were down (DESIGN.md §2 "Missed duty").
      if (b.height <= this.#relayed) {
        await this.#signCatchUp(rec);
        await this.#d.store.prune(this.#relayed);
      } else await this.#open(rec, d.block.header, d.block.messages, false);
    }
    return 'done';
  }

  async #open(rec: PendingRecord, header: BTPBlockHeader, messages: Uint8Array[], restoring: boolean): Promise<void> {
    const now = this.#d.now();
    const p: Pending = { record: rec, header, messages, signing: false, signRetryAt: 0, final: false, retryAt: 0, submitting: false };
    this.#pending.set(rec.height, p);
    this.#m?.pending.set(this.#pending.size);
    this.#d.aggregator.open(rec.height, { validators: rec.validators.map(unhex), decisionHash: unhex(rec.decisionHash), decision: unhex(rec.decision), startedAt: rec.startedAt }, now);
    if (restoring) {
      for (const s of await this.#d.store.signatures(rec.height)) {
        this.#d.aggregator.add({ height: s.height, decisionHash: unhex(s.decisionHash), signature: unhex(s.signature), ...(s.networkTypeSectionHash !== null ? { networkTypeSectionHash: unhex(s.networkTypeSectionHash) } : {}) }, now);
      }
    }
    await this.#sign(p);
  }

  /** Sign-log entry (no gossip) for a block the home chain accepted while we were behind. */
  async #signCatchUp(rec: PendingRecord): Promise<void> {
    const snap = this.#d.snapshot();
    const nowMs = this.#d.now();
    try {
      if (snap === undefined) return;
      assertMaySign({ now: Math.floor(nowMs / 1000), homeViewTime: snap.viewTime, schedulingMarginSeconds: snap.schedulingMarginSeconds, halt: await this.#d.signLog.haltState() });
      await signBtpBlock(this.#d.signLog, { decisionHash: unhex(rec.decisionHash), header: { mainHeight: rec.height } as BTPBlockHeader }, rec.btcBlockHash, this.#d.signingKey, nowMs);
      if (rec.height > this.#lastSigned) this.#lastSigned = rec.height;
    } catch (err) {
      // Not signing here only costs the chance to record a late signature; never fatal.
      this.#log.warn({ height: rec.height, code: (err as { code?: string }).code, err: (err as Error).message }, 'catch-up block not signed');
    }
  }

  /** Signs our block at `p` if allowed now (halt / stale view: later, from tick). */
  async #sign(p: Pending): Promise<void> {
    if (p.own !== undefined || p.signing) return;
    p.signing = true;
    try {
      await this.#signNow(p);
    } finally {
      p.signing = false;
    }
  }

  async #signNow(p: Pending): Promise<void> {
    const snap = this.#d.snapshot();
    const nowMs = this.#d.now();
    const h = p.record.height;
    try {
      if (snap === undefined) throw Object.assign(new Error('no home view'), { code: 'NO_HOME_VIEW' });
      assertMaySign({ now: Math.floor(nowMs / 1000), homeViewTime: snap.viewTime, schedulingMarginSeconds: snap.schedulingMarginSeconds, halt: await this.#d.signLog.haltState() });
      const decisionHash = unhex(p.record.decisionHash);
      const before = this.#lastSigned;
      const signature = await signBtpBlock(this.#d.signLog, { decisionHash, header: { mainHeight: h } as BTPBlockHeader }, p.record.btcBlockHash, this.#d.signingKey, nowMs);
      const nts = unhex(p.record.networkTypeSectionHash);
      p.own = { height: BigInt(h), decisionHash, networkTypeSectionHash: nts, signature };
      if (h > before) {
        this.#lastSigned = h;
        this.#signedCount++;
        this.#m?.signed.inc();
        this.#gauge('signed', h);
      }
      this.#d.aggregator.add({ height: h, decisionHash, signature, networkTypeSectionHash: nts }, this.#d.now());
      // The sign-log entry above is what must precede the signature leaving the node; the copy
      // among the collected signatures only speeds up a restart, so it is written after.
      this.#d.publish(p.own);
      await this.#d.store
        .saveSignature({ height: h, signer: plain(this.#d.self), decisionHash: p.record.decisionHash, networkTypeSectionHash: p.record.networkTypeSectionHash, signature: plain(signature) })
        .catch((err: unknown) => this.#log.warn({ err, height: h }, 'could not persist our own signature among the collected ones (re-made on restart)'));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      p.signRetryAt = nowMs + SIGN_RETRY_MS;
      this.#m?.refusals.inc({ reason: code });
      this.#log.warn({ height: h, code, err: (err as Error).message }, 'not signing this BTP block now');
    }
  }

  // ------------------------------------------------------------------ gossip

  /** A gossiped attestation; the verdict goes back to gossipsub (reject lowers the sender's score). */
  onAttestation(a: Attestation, signer?: string): Verdict | undefined {
    if (a.height > BigInt(Number.MAX_SAFE_INTEGER)) return 'reject';
    const height = Number(a.height);
    const att: ConsensusAttestation = { height, decisionHash: a.decisionHash, signature: a.signature, networkTypeSectionHash: a.networkTypeSectionHash };
    const res = this.#d.aggregator.add(att, this.#d.now());
    this.#m?.attestations.inc({ result: res });
    const evidence = this.#d.aggregator.takeEvidence();
    if (evidence.length > 0) this.#evidence(evidence);
    switch (res) {
      case 'counted': {
        if (signer !== undefined) {
          void this.#d.store
            .saveSignature({ height, signer: signer.replace(/^0x/, '').toLowerCase(), decisionHash: plain(a.decisionHash), networkTypeSectionHash: plain(a.networkTypeSectionHash), signature: plain(a.signature) })
            .catch((err: unknown) => this.#log.warn({ err }, 'could not persist a collected signature'));
        }
        return undefined;
      }
      case 'buffered':
        return undefined;
      case 'duplicate':
      case 'dropped':
        return 'ignore';
      case 'invalid':
      case 'not-validator':
      case 'other-decision':
      case 'equivocation':
        this.#log.warn({ height, result: res }, 'rejected an attestation');
        return 'reject';
    }
  }

  #evidence(ev: BtpEquivocationEvidence[]): void {
    for (const e of ev) this.#log.error({ validator: toHex(e.validator), height: e.height }, 'equivocation: a validator signed two decisions at one height (evidence kept)');
    this.#d.onEvidence?.(ev);
  }

  // ------------------------------------------------------------------ collection, submission

  /** Advance collection to now: quorum/final events, proofs to the RPC store, and our submissions. */
  async tick(): Promise<void> {
    const now = this.#d.now();
    for (const ev of this.#d.aggregator.tick(now)) {
      if (ev.type === 'quorum') {
        // `at` is when the quorum-th signature was counted (the tick only reports it).
        this.#log.info({ height: ev.height, at: ev.at }, 'quorum reached');
        this.emit('quorum', { height: ev.height, at: ev.at });
      } else if (ev.type === 'final') {
        const p = this.#pending.get(ev.height);
        if (p !== undefined) p.final = true;
        this.#lastFinal = Math.max(this.#lastFinal, ev.height);
        this.#gauge('final', this.#lastFinal);
        const proof = this.#d.aggregator.proof(ev.height);
        if (proof !== undefined) await this.#d.btpStore.setProof(ev.height, encodeProof(proof));
        this.#log.info({ height: ev.height, signers: ev.signers.length, missing: ev.missing.length }, 'BTP block final');
        this.emit('final', { height: ev.height, at: ev.at, signers: ev.signers.length, missing: ev.missing.length });
      } else {
        this.#conflict = { height: ev.height };
        this.#log.error({ height: ev.height, decisionHash: toHex(ev.decisionHash) }, 'a majority signed another decision than ours: not submitting; operator attention needed');
      }
    }
    // Our signature could have been withheld (stale view): try again.
    for (const p of this.#pending.values()) if (p.own === undefined && now >= p.signRetryAt) await this.#sign(p);
    if (this.#conflict !== undefined) return;
    // Relays go in height order: only the lowest pending block can be accepted next.
    const lowest = [...this.#pending.keys()].sort((a, b) => a - b)[0];
    if (lowest === undefined) return;
    const p = this.#pending.get(lowest)!;
    if (!p.final || p.submitting || now < p.retryAt) return;
    if (!this.#d.aggregator.shouldSubmit(lowest, this.#d.self, now)) return;
    const proof = this.#d.aggregator.proof(lowest);
    if (proof === undefined) return;
    p.submitting = true;
    const relays = buildRelayMessages({ header: p.header, proof }, p.messages, this.#d.maxRelayBytes);
    const submit = async (): Promise<void> => {
      // Parts in order; a part already submitted is deduplicated by its sender key.
      for (const [i, rm] of relays.entries()) await this.#d.relay(lowest, i, encodeRelayMessage(rm));
    };
    submit()
      .then(() => this.#m?.relays.inc({ outcome: 'submitted' }))
      .catch((err: unknown) => {
        this.#m?.relays.inc({ outcome: 'failed' });
        this.#log.debug({ height: lowest, err: (err as Error).message }, 'relay not submitted: retrying later');
        p.retryAt = this.#d.now() + this.#d.relayRetryMs;
      })
      .finally(() => {
        p.submitting = false;
      });
  }

  /** The BMV accepted `height` (any submitter): stop collecting and submitting it and everything below. */
  async markRelayed(height: number): Promise<void> {
    if (height <= this.#relayed) return;
    this.#relayed = height;
    this.#gauge('relayed', height);
    for (const h of [...this.#pending.keys()]) {
      if (h <= height) {
        this.#d.aggregator.markSubmitted(h);
        this.#pending.delete(h);
      }
    }
    this.#d.aggregator.prune(height + 1);
    this.#m?.pending.set(this.#pending.size);
    await this.#d.store.commit(this.#d.store.relayedOps(height));
    await this.#d.store.prune(height);
    this.emit('relayed', { height });
  }

  /** Gossip our signatures of blocks not yet relayed again (peers that restarted or joined late). */
  regossip(): number {
    let n = 0;
    for (const p of this.#pending.values()) if (p.own !== undefined && this.#d.publish(p.own)) n++;
    return n;
  }

  /** Signatures counted so far on our decision at `height`. */
  signatureCount(height: number): number {
    return this.#d.aggregator.signatureCount(height);
  }

  /** True when `a` is our own signature at its height (tests). */
  isOwn(a: Attestation): boolean {
    const p = this.#pending.get(Number(a.height));
    return p?.own !== undefined && equalBytes(p.own.signature, a.signature);
  }
}

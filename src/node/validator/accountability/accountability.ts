/**
 * The node's accountability duties (docs/ACCOUNTABILITY.md, DESIGN.md §2 "Slashing"):
 *
 * 1. evidence — equivocation evidence (BTP and Bitcoin) checked locally and submitted once;
 * 2. own defence — a BTP block accepted without this node's bit gets `recordSignature` within
 *    the BMV's window;
 * 3. keeper — after a block's / batch's duty deadline, `reportMissedBlock` / `reportMissedBatch`
 *    by rotation with a takeover, after an eth_call that the duty is not settled.
 *
 * Transactions go through the node's TxSender (idempotency keys of `submissionKey`), reads through
 * its EthRpc. Duties come from `onBlockAccepted` / `onBatchApproved` (or the built-in event
 * watcher of `start()`), and are persisted in a sublevel when a database is given.
 */
import { computeAddress, hexlify } from 'ethers';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeBip143Preimage } from '../../../chains/bitcoin/sighash.js';
import type { CreateEventWatcherArgs, EventWatcher } from '../../../chains/ethereum/events/watcher.js';
import type { EthRpc } from '../../../chains/ethereum/rpc/client.js';
import type { TxSender } from '../../../chains/ethereum/sender/sender.js';
import { bitcoinEquivocationArgs, btpEquivocationArgs, decodeSlasherError } from '../../../chains/ethereum/slashing.js';
import { verifyBitcoinEquivocation, type BitcoinEquivocationEvidence, type BtpEquivocationEvidence } from '../../../consensus/equivocation.js';
import { BridgeError, isBridgeError } from '../../../errors.js';
import type { NodeDb } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { MetricsFactory } from '../../metrics.js';
import { AccountabilityChain, accountabilityInterfaces, type AccountabilityContracts } from './chain.js';
import { checkBtpEvidence, defenceDecision, keeperDecision, submissionKey, type DutyKind, type DutyView } from './rules.js';
import { DutyStore, dutyKey, type DutyRef, type PendingEvidence } from './store.js';

export interface AccountabilityOptions {
  /** Keeper rotation: position j reports from `deadline + 1 + j · takeoverBlocks` (home blocks). */
  takeoverBlocks: number;
  /** Period of `tick()` when started. */
  tickIntervalMs: number;
  /** Open duties kept at most (the oldest are dropped with a warning beyond). */
  maxDuties: number;
  /** Evidence whose submission failed (RPC down, ...) is retried on later ticks, this many times at most. */
  evidenceRetries: number;
}

export const DEFAULT_ACCOUNTABILITY_OPTIONS: AccountabilityOptions = { takeoverBlocks: 10, tickIntervalMs: 2_000, maxDuties: 10_000, evidenceRetries: 30 };

/**
 * This node's signature over an accepted block's decision (from its sign-log): the signature when
 * it signed that decision, 'other-decision' when it signed another one at that height (it must
 * never sign this one), undefined when it has not signed that height (yet: a node catching up
 * signs heights the federation already relayed, so the module asks again until the window closes).
 */
export type OwnSignatureSource = (height: bigint, decisionHash: string) => Promise<Uint8Array | 'other-decision' | undefined>;

export interface AccountabilityWatch {
  /** `ValidatorServices.createEventWatcher` (the node's rpc, db, log, metrics). */
  createEventWatcher(args: Pick<CreateEventWatcherArgs, 'options' | 'onBatch'>): EventWatcher;
  /** First home block to read on a first start (genesis `homeStartBlock`). */
  startBlock: number;
  confirmations: number;
  pollIntervalMs: number;
}

export interface AccountabilityDeps {
  rpc: EthRpc;
  /** The node's sender (one per operator account: share it, never create a second one). */
  sender: TxSender;
  contracts: AccountabilityContracts;
  /** The validator's signing address (its id in the sets). */
  self: string;
  /** This federation's decisions: evidence about another network is never sent. */
  network: { srcNetworkUid: string; networkTypeId: number };
  /** Own defence is off without it. */
  ownSignature?: OwnSignatureSource;
  /** Open duties survive restarts when given. */
  db?: NodeDb;
  /** `start()` watches `BlockAccepted` / `BatchApproved` itself when given. */
  watch?: AccountabilityWatch;
  log: Logger;
  metrics?: MetricsFactory;
  options?: Partial<AccountabilityOptions>;
}

/**
 * 'refused': the contract rejects it for good (e.g. `NoStake`); 'failed': not sent this time
 * (retried by `acceptEvidence`).
 */
export type EvidenceResult = 'submitted' | 'already-used' | 'invalid' | 'foreign-network' | 'refused' | 'failed';

interface OpenDuty {
  kind: DutyKind;
  id: bigint;
  /** Skip reads until the head reaches this (a known wait). */
  nextCheck: bigint;
  defended: boolean;
}

const hex = (b: Uint8Array): string => hexlify(b);
const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));

export class Accountability {
  readonly chain: AccountabilityChain;
  readonly #d: AccountabilityDeps;
  readonly #o: AccountabilityOptions;
  readonly #log: Logger;
  readonly #self: string;
  readonly #store: DutyStore;
  readonly #duties = new Map<string, OpenDuty>();
  readonly #m: {
    submissions?: ReturnType<MetricsFactory['counter']>;
    evidence?: ReturnType<MetricsFactory['counter']>;
    open?: ReturnType<MetricsFactory['gauge']>;
  };
  #watcher: EventWatcher | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking: Promise<void> | undefined;
  #loaded = false;
  /** Evidence to submit again (a failed attempt), with the attempts left. */
  readonly #retry: Array<PendingEvidence & { left: number }> = [];

  constructor(deps: AccountabilityDeps) {
    this.#d = deps;
    this.#o = { ...DEFAULT_ACCOUNTABILITY_OPTIONS, ...deps.options };
    if (!Number.isInteger(this.#o.takeoverBlocks) || this.#o.takeoverBlocks < 1) throw new BridgeError({ code: 'ACCOUNTABILITY_BAD_OPTIONS', field: 'takeoverBlocks', value: this.#o.takeoverBlocks });
    this.#log = deps.log.child({ module: 'accountability' });
    this.#self = deps.self.toLowerCase();
    this.chain = new AccountabilityChain(deps.rpc, deps.contracts);
    this.#store = new DutyStore(deps.db);
    const m = deps.metrics;
    this.#m = {
      submissions: m?.counter('accountability_submissions_total', 'Slashing-related transactions handed to the sender, by kind and outcome', ['kind', 'outcome']),
      evidence: m?.counter('accountability_evidence_total', 'Equivocation evidence seen, by kind and result', ['kind', 'result']),
      open: m?.gauge('accountability_open_duties', 'Duties (accepted blocks, approved batches) the keeper still watches'),
    };
  }

  // ------------------------------------------------------------------ duties

  /** Loads persisted duties (idempotent; `start()` calls it). */
  async load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    for (const d of await this.#store.load()) this.#track(d);
    for (const p of await this.#store.loadEvidence()) this.#retry.push({ ...p, left: this.#o.evidenceRetries });
  }

  #track(d: DutyRef): boolean {
    const k = dutyKey(d);
    if (this.#duties.has(k)) return false;
    if (this.#duties.size >= this.#o.maxDuties) {
      const [oldest, duty] = this.#duties.entries().next().value!;
      this.#log.warn({ dropped: oldest }, 'too many open duties: dropping the oldest');
      this.#duties.delete(oldest);
      this.#store.commit(this.#store.del(duty)).catch((err: unknown) => this.#log.warn({ err }, 'could not delete a dropped duty'));
    }
    this.#duties.set(k, { ...d, nextCheck: 0n, defended: false });
    this.#m.open?.set(this.#duties.size);
    return true;
  }

  async #untrack(d: DutyRef): Promise<void> {
    if (this.#duties.delete(dutyKey(d))) {
      this.#m.open?.set(this.#duties.size);
      await this.#store.commit(this.#store.del(d));
    }
  }

  /** A BTP block was accepted (BMV `BlockAccepted`): a keeper duty, and maybe our own defence. */
  async onBlockAccepted(height: bigint): Promise<void> {
    const d: DutyRef = { kind: 'block', id: height };
    if (this.#track(d)) await this.#store.commit(this.#store.put(d));
  }

  /** A payout batch was approved (`BatchApproved`): a keeper duty. */
  async onBatchApproved(batchId: bigint): Promise<void> {
    if (this.#d.contracts.payout === undefined) return;
    const d: DutyRef = { kind: 'batch', id: batchId };
    if (this.#track(d)) await this.#store.commit(this.#store.put(d));
  }

  /** Open duties (tests, status). */
  openDuties(): DutyRef[] {
    return [...this.#duties.values()].map((d) => ({ kind: d.kind, id: d.id }));
  }

  /** One round over the open duties at the current home head. Never throws for one duty. */
  async tick(): Promise<void> {
    if (this.#ticking !== undefined) return this.#ticking;
    this.#ticking = this.#tick().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    await this.load();
    for (const r of this.#retry.splice(0)) {
      const result = await this.#attempt(r);
      if (result === 'failed' && r.left > 1) this.#retry.push({ ...r, left: r.left - 1 });
      else if (result === 'failed') this.#log.error({ height: r.btp?.height }, 'equivocation evidence could not be submitted: giving up until the next start');
    }
    const head = BigInt(await this.chain.head());
    for (const d of [...this.#duties.values()]) {
      if (head < d.nextCheck) continue;
      try {
        await this.#handle(d, head);
      } catch (err) {
        this.#log.warn({ kind: d.kind, id: d.id.toString(), err }, 'accountability duty check failed; will retry');
      }
    }
  }

  async #handle(d: OpenDuty, head: bigint): Promise<void> {
    const view = d.kind === 'block' ? await this.chain.blockDuty(d.id) : await this.chain.batchDuty(d.id);
    if (view === undefined) {
      // Not accepted / approved (a reorg, or an event we misread): nothing to do.
      this.#log.warn({ kind: d.kind, id: d.id.toString() }, 'duty unknown on chain: dropping it');
      await this.#untrack(d);
      return;
    }
    if (d.kind === 'block' && !d.defended) d.defended = await this.#defend(view, head);
    const k = keeperDecision(view, this.#self, head, this.#o.takeoverBlocks);
    if (k.action === 'drop') {
      // Our own missing bit is handled above, before the deadline: after it nothing changes.
      if (d.kind === 'batch' || d.defended || k.reason === 'settled') await this.#untrack(d);
      return;
    }
    if (k.action === 'wait') {
      // Before the deadline only our own defence needs earlier looks.
      if (d.defended || d.kind === 'batch') d.nextCheck = k.until;
      return;
    }
    await this.#report(view, k.missing, k.position);
  }

  async #report(view: DutyView, missing: string[], position: number): Promise<void> {
    const isBlock = view.kind === 'block';
    const key = isBlock ? submissionKey.missedBlock(view.id) : submissionKey.missedBatch(view.id);
    const kind = isBlock ? 'missed-block' : 'missed-batch';
    const settled = (): Promise<boolean> => (isBlock ? this.chain.blockSettled(view.id) : this.chain.batchSettled(view.id));
    const outcome = await this.#send(kind, {
      key,
      to: this.#d.contracts.slasher,
      data: this.chain.encode('slasher', isBlock ? 'reportMissedBlock' : 'reportMissedBatch', [view.id]),
      alreadyDone: settled,
    });
    if (outcome === 'sent') this.#log.warn({ kind, id: view.id.toString(), missing, position }, 'missed duty reported to the slasher');
    if (outcome === 'done' || outcome === 'refused') await this.#untrack(view);
  }

  /** Own defence: true once nothing more is to be done for this block. */
  async #defend(view: DutyView, head: bigint): Promise<boolean> {
    if (this.#d.ownSignature === undefined) return true;
    const [rec, window] = await Promise.all([this.chain.blockRecord(view.id), this.chain.signatureWindow()]);
    const dec = defenceDecision({ validators: view.validators, signers: rec.signers, acceptedAt: rec.acceptedAt }, this.#self, window, head);
    if (dec.action === 'none') return true;
    if (dec.action === 'too-late') {
      this.#log.error({ height: view.id.toString(), windowEnd: dec.windowEnd.toString() }, 'our signature is missing from an accepted block and the window closed');
      return true;
    }
    const decision = await this.#decisionOf(view.id);
    const sig = await this.#d.ownSignature(view.id, decision);
    if (sig === 'other-decision') {
      this.#log.error({ height: view.id.toString(), decision }, 'our signature is missing from an accepted block whose decision we did not sign (we signed another one)');
      return true;
    }
    if (sig === undefined) return false; // not signed (yet): look again next tick while the window is open
    const outcome = await this.#send('record-signature', {
      key: submissionKey.recordSignature(view.id),
      to: this.#d.contracts.bmv,
      data: this.chain.encode('bmv', 'recordSignature', [view.id, dec.index, hex(sig)]),
      alreadyDone: async () => {
        const r = await this.chain.blockRecord(view.id);
        return ((r.signers >> BigInt(dec.index)) & 1n) === 1n;
      },
    });
    if (outcome === 'sent') this.#log.warn({ height: view.id.toString(), index: dec.index }, 'our signature was missing from an accepted block: recording it');
    return outcome !== 'retry';
  }

  async #decisionOf(height: bigint): Promise<string> {
    const i = accountabilityInterfaces().bmv;
    const out = await this.#d.rpc.call({ to: this.#d.contracts.bmv, data: i.encodeFunctionData('decisionOf', [height]) });
    return (i.decodeFunctionResult('decisionOf', out)[0] as string).toLowerCase();
  }

  /**
   * Hands one transaction to the sender: 'sent' (or deduplicated), 'done' (alreadyDone said so,
   * or the contract says it is done), 'refused' (reverts for good), 'retry' (try again later).
   */
  async #send(kind: string, req: { key: string; to: string; data: string; alreadyDone: () => Promise<boolean> }): Promise<'sent' | 'pending' | 'done' | 'refused' | 'retry'> {
    // Already handed over (an earlier tick): no second submit, no second log line.
    const existing = this.#d.sender.get(req.key);
    if (existing !== undefined) return existing.state === 'pending' ? 'pending' : existing.state === 'reverted' ? 'refused' : 'done';
    try {
      const h = await this.#d.sender.submit(req);
      const rec = h.record();
      const outcome = rec.state === 'skipped' ? 'done' : rec.state === 'reverted' ? 'refused' : 'sent';
      this.#m.submissions?.inc({ kind, outcome });
      return outcome;
    } catch (err) {
      if (isBridgeError(err, 'ETH_TX_REVERTED')) {
        const data = err.context.revertData as string | undefined;
        const name = (data === undefined ? undefined : decodeSlasherError(data)?.name) ?? (err.context.errorName as string | undefined);
        const done = ['DutyAlreadySettled', 'EvidenceAlreadyUsed', 'SignatureAlreadyRecorded'].includes(name ?? '');
        const retry = name === 'DutyNotDue' || name === undefined;
        const outcome = done ? 'done' : retry ? 'retry' : 'refused';
        this.#m.submissions?.inc({ kind, outcome });
        (outcome === 'refused' ? this.#log.error.bind(this.#log) : this.#log.info.bind(this.#log))({ kind, key: req.key, error: name ?? data?.slice(0, 10) }, `slashing transaction reverts in estimation (${outcome})`);
        return outcome;
      }
      this.#m.submissions?.inc({ kind, outcome: 'retry' });
      this.#log.warn({ kind, key: req.key, err }, 'slashing transaction not sent; will retry');
      return 'retry';
    }
  }

  // ------------------------------------------------------------------ evidence

  /** BTP equivocation evidence (`BtpAggregator.takeEvidence()`): checked, then submitted once. */
  async submitBtpEvidence(e: BtpEquivocationEvidence): Promise<EvidenceResult> {
    const result = await this.#btpEvidence(e);
    this.#m.evidence?.inc({ kind: 'btp', result });
    return result;
  }

  async #btpEvidence(e: BtpEquivocationEvidence): Promise<EvidenceResult> {
    const check = checkBtpEvidence(e, this.#d.network);
    if (!check.ok) {
      this.#log.warn({ height: e.height, reason: check.reason }, 'BTP equivocation evidence refused locally');
      return check.reason;
    }
    const args = btpEquivocationArgs(e);
    const validator = args[0];
    const height = BigInt(e.height);
    if (await this.chain.btpEvidenceUsed(validator, height)) return 'already-used';
    const outcome = await this.#send('btp-equivocation', {
      key: submissionKey.btpEquivocation(validator, height),
      to: this.#d.contracts.slasher,
      data: this.chain.encode('slasher', 'submitBtpEquivocation', args),
      alreadyDone: () => this.chain.btpEvidenceUsed(validator, height),
    });
    if (outcome === 'sent') this.#log.error({ validator, height: e.height }, 'BTP equivocation evidence submitted to the slasher');
    return this.#evidenceOutcome(outcome);
  }

  /** Bitcoin equivocation evidence (an unapproved federation sighash): checked, then submitted once. */
  async submitBitcoinEvidence(e: BitcoinEquivocationEvidence): Promise<EvidenceResult> {
    const result = await this.#bitcoinEvidence(e);
    this.#m.evidence?.inc({ kind: 'bitcoin', result });
    return result;
  }

  async #bitcoinEvidence(e: BitcoinEquivocationEvidence): Promise<EvidenceResult> {
    if (this.#d.contracts.payout === undefined) return 'refused';
    const f = decodeBip143Preimage(e.preimage);
    if (f === undefined || e.validatorKey.length !== 33) return 'invalid';
    const sighash = hex(sha256d(e.preimage));
    const [federation, derived] = await Promise.all([this.chain.wasFederationOutpoint(hex(f.outpointTxid), f.outpointVout), this.chain.isDerivedSighash(sighash)]);
    const ok = verifyBitcoinEquivocation(e, { isApprovedSighash: () => derived, isFederationOutpoint: () => federation });
    if (!ok) {
      this.#log.warn({ sighash, federation, derived }, 'Bitcoin equivocation evidence refused locally');
      return 'invalid';
    }
    const validator = computeAddress(hex(e.validatorKey));
    if (await this.chain.bitcoinEvidenceUsed(validator, sighash)) return 'already-used';
    const outcome = await this.#send('btc-equivocation', {
      key: submissionKey.bitcoinEquivocation(validator, sighash),
      to: this.#d.contracts.slasher,
      data: this.chain.encode('slasher', 'submitBitcoinEquivocation', bitcoinEquivocationArgs(e)),
      alreadyDone: () => this.chain.bitcoinEvidenceUsed(validator, sighash),
    });
    if (outcome === 'sent') this.#log.error({ validator, sighash }, 'Bitcoin equivocation evidence submitted to the slasher');
    return this.#evidenceOutcome(outcome);
  }

  #evidenceOutcome(o: 'sent' | 'pending' | 'done' | 'refused' | 'retry'): EvidenceResult {
    return o === 'sent' || o === 'pending' ? 'submitted' : o === 'done' ? 'already-used' : o === 'refused' ? 'refused' : 'failed';
  }

  async #safe(fn: () => Promise<EvidenceResult>): Promise<EvidenceResult> {
    try {
      return await fn();
    } catch (err) {
      this.#log.warn({ err }, 'equivocation evidence submission failed; will retry');
      return 'failed';
    }
  }

  /** One attempt; the stored copy is deleted once the result is final (anything but 'failed'). */
  async #attempt(p: PendingEvidence): Promise<EvidenceResult> {
    const result = await this.#safe(() => (p.btp !== undefined ? this.submitBtpEvidence(p.btp) : this.submitBitcoinEvidence(p.bitcoin)));
    if (result !== 'failed') await this.#store.commit(this.#store.delEvidence(p)).catch((err: unknown) => this.#log.warn({ err }, 'could not delete submitted evidence'));
    return result;
  }

  /** Persists the evidence (when a database is given) and submits it; returns the first attempt's result. */
  async #accept(p: PendingEvidence): Promise<EvidenceResult> {
    try {
      await this.#store.commit(this.#store.putEvidence(p));
    } catch (err) {
      this.#log.warn({ err }, 'could not persist equivocation evidence');
    }
    const result = await this.#attempt(p);
    if (result === 'failed') this.#retry.push({ ...p, left: this.#o.evidenceRetries });
    return result;
  }

  /**
   * Fire-and-forget form for `onEvidence` callbacks: each piece is persisted and submitted now; a
   * failed attempt (RPC down, a revert we cannot read) is retried on later ticks
   * (`evidenceRetries`, and again after a restart while it stays in the database).
   */
  acceptEvidence(btp: readonly BtpEquivocationEvidence[], bitcoin: readonly BitcoinEquivocationEvidence[] = []): void {
    const all: PendingEvidence[] = [...btp.map((e) => ({ btp: e })), ...bitcoin.map((e) => ({ bitcoin: e }))];
    for (const p of all) void this.#accept(p);
  }

  /** For /status: open duties by kind and evidence waiting for another attempt. */
  status(): { blocks: number; batches: number; pendingEvidence: number } {
    const ds = [...this.#duties.values()];
    return { blocks: ds.filter((d) => d.kind === 'block').length, batches: ds.filter((d) => d.kind === 'batch').length, pendingEvidence: this.#retry.length };
  }

  /** Evidence waiting for another attempt (tests, status). */
  get pendingEvidence(): number {
    return this.#retry.length;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Loads duties, starts the event watcher (when `watch` is given) and the tick timer. */
  async start(): Promise<void> {
    await this.load();
    const w = this.#d.watch;
    if (w !== undefined && this.#watcher === undefined) {
      const { bmv, payout } = accountabilityInterfaces();
      const accepted = bmv.getEvent('BlockAccepted')!.topicHash;
      const approved = payout.getEvent('BatchApproved')!.topicHash;
      const addresses = [this.#d.contracts.bmv, ...(this.#d.contracts.payout !== undefined ? [this.#d.contracts.payout] : [])];
      const bmvAddr = this.#d.contracts.bmv.toLowerCase();
      this.#watcher = w.createEventWatcher({
        options: { name: 'accountability', addresses, topics: [[accepted, approved]], startBlock: w.startBlock, confirmations: w.confirmations, pollIntervalMs: w.pollIntervalMs },
        onBatch: async (batch) => {
          if (batch.kind !== 'events') return [];
          const ops = [];
          for (const ev of batch.events) {
            const id = BigInt(ev.topics[1] ?? '0x0');
            const ref: DutyRef | undefined =
              ev.topics[0] === accepted && ev.address.toLowerCase() === bmvAddr ? { kind: 'block', id } : ev.topics[0] === approved && this.#d.contracts.payout !== undefined ? { kind: 'batch', id } : undefined;
            if (ref !== undefined && this.#track(ref)) ops.push(...this.#store.put(ref));
          }
          return ops;
        },
      });
      await this.#watcher.start();
    }
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => {
        this.tick().catch((err: unknown) => this.#log.warn({ err }, 'accountability tick failed'));
      }, this.#o.tickIntervalMs);
    }
    this.#log.info({ self: this.#self, slasher: this.#d.contracts.slasher, duties: this.#duties.size, persistent: this.#store.persistent }, 'accountability started');
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#watcher?.stop();
    this.#watcher = undefined;
    await this.#ticking?.catch(() => undefined);
  }
}

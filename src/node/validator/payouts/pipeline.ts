import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BridgeError, isBridgeError } from '../../../errors.js';
import { bytesToHex, compareBytes, concatBytes, hexToBytes, reverseBytes, u32be } from '../../../chains/bitcoin/bytes.js';
import { assemblePayout, payoutSighashes } from '../../../chains/bitcoin/payout-signing.js';
import type { BitcoinRpcClient } from '../../../chains/bitcoin/rpc.js';
import type { FederationScript } from '../../../chains/bitcoin/scripts.js';
import type { Secp256k1Backend } from '../../../chains/btp/secp256k1.js';
import { closedBatchVersion } from '../../../consensus/batch-version.js';
import type { ConsensusMetrics } from '../../../consensus/metrics.js';
import { PayoutAggregator, batchKey } from '../../../consensus/payout-aggregator.js';
import { DEFAULT_COLLECTION_TIMING, rotationOrder, type CollectionTiming } from '../../../consensus/quorum.js';
import type { TxSender } from '../../../chains/ethereum/sender/sender.js';
import type { Logger } from '../../logger.js';
import type { MetricsFactory } from '../../metrics.js';
import type { SignLog } from '../../signlog/signlog.js';
import { signPayoutVersion } from '../../signlog/sign.js';
import { rederiveVersion, type LedgerLookup } from './rederive.js';
import { parseFederationScript } from './script-parse.js';
import { addressOfKey, contractSigsOf, gossipOf, messageFromRecord, ownContractSigs, sig65, submittersOf, witnessMessageOf } from './sigs.js';
import { newRecord, PayoutStore, storedVersion, type BatchRecord, type OpenedVersion, type PayoutSublevel } from './store.js';
import type { BatchView, DepositOutpoint, GossipVerdict, GossipWitness, KeeperView, PayoutContract, WitnessGossip, WitnessRecord } from './types.js';

/**
 * The validator's payout pipeline (DESIGN.md §2 "home → Bitcoin",
 * docs/CONSENSUS.md §8 step 4, docs/PAYOUTS.md): re-derive every version the
 * contract closes, sign it through the sign-log, gossip and collect
 * witnesses, submit them by rotation, broadcast the approved version to
 * Bitcoin, and take turns at the permissionless keeper calls. Driven by
 * `tick()` (a timer after `start()`; tests call it directly); the home
 * contract is re-read on each tick, so missed events or a restart cost
 * nothing but a tick.
 */

export type BitcoinBroadcaster = Pick<BitcoinRpcClient, 'sendRawTransaction' | 'getMempoolEntry' | 'getRawTransaction'>;

export interface PayoutPipelineDeps {
  /** The validator's signing key (32 bytes): its compressed public key is its key in the federation scripts. */
  readonly signingKey: Uint8Array;
  readonly signLog: SignLog;
  readonly gossip: WitnessGossip;
  readonly bitcoin: BitcoinBroadcaster;
  readonly contract: PayoutContract;
  /** The operator account's sender (idempotency keys `payout-*`). */
  readonly sender: Pick<TxSender, 'submit'>;
  readonly store: PayoutSublevel;
  readonly log: Logger;
  readonly metrics?: MetricsFactory;
  readonly consensusMetrics?: ConsensusMetrics;
  /** Wall clock, unix ms. */
  readonly now?: () => number;
  /** Current epoch's validators (lowercase 0x addresses, any order): who takes keeper turns. */
  readonly keepers: () => readonly string[] | Promise<readonly string[]>;
  /**
   * The node's own ledger (its BTP derivation state, docs/CONSENSUS.md §2.4), read when a version is
   * re-derived: the inputs of an open batch are checked against it when given (undefined: no check).
   */
  readonly ledger?: () => LedgerLookup | undefined | Promise<LedgerLookup | undefined>;
  /**
   * Deposit outpoints the node's own BTP derivation recorded at a Bitcoin height (undefined: not
   * derived yet). Enables the `importDeposits` keeper duty; without it the node never imports.
   */
  readonly depositOutpoints?: (btpHeight: number) => Promise<readonly DepositOutpoint[] | undefined> | readonly DepositOutpoint[] | undefined;
  /** Called after every tick with figures for /status. */
  readonly onStatus?: (s: { signedInputs: number; queuedWithdrawals: number; openVersions: number }) => void;
  /** Throws when signing is not allowed now (e.g. `assertMaySign`: stale home view, halt). */
  readonly maySign?: () => Promise<void> | void;
  readonly backend?: Secp256k1Backend;
}

export interface PayoutPipelineOptions {
  /** Aggregation deadline and submitter takeover (docs/CONSENSUS.md §3). */
  timing: CollectionTiming;
  /** Keeper rotation: position j calls `closeBatch`/`bumpFee` from when the duty became due + j × this. */
  keeperTakeoverMs: number;
  /** Own witness re-published this often while its version is not approved (late joiners, restarts). */
  regossipIntervalMs: number;
  /** Approved transaction re-sent to Bitcoin this often until the batch confirms. */
  rebroadcastIntervalMs: number;
  /** After approval, wait this long for a submitter to carry our signatures before recording them ourselves. */
  ownSubmitDelayMs: number;
  /** `WitnessRecorded` logs are read at most this often per batch. */
  recordsRefreshMs: number;
  /** Timer period of `start()`. */
  tickIntervalMs: number;
  /** Gossiped witnesses for versions not derived yet, kept at most. */
  maxBufferedWitnesses: number;
  /** Take part in the keeper duties (closeBatch, bumpFee). */
  keeper: boolean;
  /** Most deposit heights imported in one `importDeposits` call. */
  maxImportHeights: number;
  /** Refuse to sign fee bumps paying more than this rate (sat/kvB of the estimated vsize); undefined: no cap. */
  maxBumpFeeRateSatPerKvB: bigint | undefined;
  /**
   * A version still without quorum this long after this node opened it is reported (warning naming
   * each input below its epoch's threshold, at most this often): e.g. a sweep of an old epoch whose
   * running members are fewer than its threshold can never be approved (docs/PAYOUTS.md §2).
   */
  quorumWarnAfterMs: number;
}

export const DEFAULT_PAYOUT_PIPELINE_OPTIONS: Readonly<PayoutPipelineOptions> = {
  timing: DEFAULT_COLLECTION_TIMING,
  keeperTakeoverMs: 30_000,
  regossipIntervalMs: 60_000,
  rebroadcastIntervalMs: 60_000,
  ownSubmitDelayMs: 30_000,
  recordsRefreshMs: 10_000,
  tickIntervalMs: 1_000,
  maxBufferedWitnesses: 256,
  keeper: true,
  maxImportHeights: 20,
  maxBumpFeeRateSatPerKvB: undefined,
  quorumWarnAfterMs: 120_000,
};

interface Live {
  readonly opened: OpenedVersion;
  readonly key: string;
  submitted: boolean;
  /** When this node opened the version (ms). */
  readonly openedAt: number;
  /** Inputs below their script's threshold at the last check (while unapproved). */
  lacking: number;
  lastQuorumWarning?: number;
}

interface Metrics {
  rederive: (result: string) => void;
  gossip: (result: string, n?: number) => void;
  submission: (kind: string) => void;
  broadcast: (result: string) => void;
  signed: (n: number) => void;
  withoutQuorum: (n: number) => void;
}

function metricsOf(f: MetricsFactory | undefined): Metrics {
  const rederive = f?.counter('fednode_payouts_rederive_total', 'Closed batch versions re-derived, by result', ['result']);
  const gossip = f?.counter('fednode_payouts_witness_signatures_total', 'Gossiped witness signatures, by result', ['result']);
  const submissions = f?.counter('fednode_payouts_submissions_total', 'Home transactions handed to the sender, by kind', ['kind']);
  const broadcasts = f?.counter('fednode_payouts_broadcasts_total', 'Approved payouts sent to Bitcoin, by result', ['result']);
  const signed = f?.counter('fednode_payouts_signed_inputs_total', 'Payout inputs this node signed');
  const withoutQuorum = f?.gauge('fednode_payouts_inputs_without_quorum', 'Inputs of open, unapproved versions still below their epoch script\'s threshold (signatures this node collected)');
  return {
    rederive: (result) => rederive?.inc({ result }),
    gossip: (result, n = 1) => gossip?.inc({ result }, n),
    submission: (kind) => submissions?.inc({ kind }),
    broadcast: (result) => broadcasts?.inc({ result }),
    signed: (n) => signed?.inc(n),
    withoutQuorum: (n) => withoutQuorum?.set(n),
  };
}

const vkey = (batchId: bigint, version: bigint): string => `${batchId}:${version}`;

export class PayoutPipeline {
  readonly #d: PayoutPipelineDeps;
  readonly #o: PayoutPipelineOptions;
  readonly #log: Logger;
  readonly #m: Metrics;
  readonly #store: PayoutStore;
  readonly #agg: PayoutAggregator;
  readonly #now: () => number;
  readonly #publicKey: Uint8Array;
  readonly #self: Uint8Array;
  readonly #selfHex: string;
  /** Open versions by `batchId:version`. */
  readonly #live = new Map<string, Live>();
  /** Gossip that arrived before its version was derived, by `batchId:version`. */
  readonly #buffered = new Map<string, { w: GossipWitness; signer: string }[]>();
  #bufferedCount = 0;
  /** Batches still to follow (not confirmed). */
  readonly #tracked = new Set<bigint>();
  /** Versions this node refused (never opened): their gossip is ignored, not buffered. */
  readonly #refused = new Set<string>();
  readonly #lastGossip = new Map<string, number>();
  readonly #records = new Map<bigint, { at: number; list: WitnessRecord[] }>();
  readonly #approvedAt = new Map<bigint, number>();
  readonly #dueSince = new Map<string, number>();
  readonly #scriptCache = new Map<number, FederationScript>();
  #signedInputs = 0;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(deps: PayoutPipelineDeps, options: Partial<PayoutPipelineOptions> = {}) {
    this.#d = deps;
    this.#o = { ...DEFAULT_PAYOUT_PIPELINE_OPTIONS, ...options };
    this.#log = deps.log.child({ module: 'payouts' });
    this.#m = metricsOf(deps.metrics);
    this.#store = new PayoutStore(deps.store);
    this.#now = deps.now ?? Date.now;
    this.#agg = new PayoutAggregator({ timing: this.#o.timing, ...(deps.backend ? { backend: deps.backend } : {}), ...(deps.consensusMetrics ? { metrics: deps.consensusMetrics } : {}) });
    this.#publicKey = secp256k1.getPublicKey(deps.signingKey, true);
    this.#selfHex = addressOfKey(this.#publicKey);
    this.#self = hexToBytes(this.#selfHex.slice(2));
  }

  /** Lowercase 0x address of this validator. */
  get address(): string {
    return this.#selfHex;
  }

  /** Loads unfinished batches, re-opens their versions with the stored own signatures, subscribes to gossip. */
  async init(): Promise<void> {
    const now = this.#now();
    for (const r of await this.#store.unfinished()) {
      this.#tracked.add(BigInt(r.batchId));
      for (const x of r.refused) this.#refused.add(vkey(BigInt(r.batchId), BigInt(x.version)));
      for (const v of r.versions) {
        const o = this.#store.opened(r, v);
        this.#openVersion(o, now);
        this.#agg.add(witnessMessageOf(o.batchId, o.txid, v.ownSigs.map((s) => ({ index: s.index, signature: hexToBytes(s.signature) }))), now);
      }
    }
    this.#unsubscribe ??= this.#d.gossip.subscribe((w, meta) => this.onWitness(w, meta));
  }

  /** `init()`, then `tick()` every `tickIntervalMs` (never two at once). */
  async start(): Promise<void> {
    await this.init();
    this.#stopped = false;
    const loop = (): void => {
      if (this.#stopped) return;
      this.#running = this.tick().catch((e: unknown) => this.#log.warn({ err: e }, 'payout tick failed')).finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.tickIntervalMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#running;
  }

  /** A gossiped `payout-witness` (docs/P2P.md §4.3). Never trusted for sighashes: verified against this node's own. */
  onWitness(w: GossipWitness, meta: { signer: string }): GossipVerdict {
    const live = this.#live.get(vkey(w.batchId, w.version));
    if (live === undefined && this.#refused.has(vkey(w.batchId, w.version))) {
      this.#m.gossip('refused-version', w.inputs.length);
      return 'ignore';
    }
    if (live === undefined) {
      if (this.#bufferedCount >= this.#o.maxBufferedWitnesses) {
        this.#m.gossip('dropped', w.inputs.length);
        return 'ignore';
      }
      const list = this.#buffered.get(vkey(w.batchId, w.version)) ?? [];
      list.push({ w, signer: meta.signer });
      this.#buffered.set(vkey(w.batchId, w.version), list);
      this.#bufferedCount++;
      this.#m.gossip('buffered', w.inputs.length);
      return undefined;
    }
    const txid = bytesToHex(reverseBytes(w.txid));
    if (txid !== live.opened.txid) {
      this.#m.gossip('other-txid', w.inputs.length);
      this.#log.warn({ batchId: w.batchId.toString(), version: w.version.toString(), signer: meta.signer, txid, ours: live.opened.txid }, 'witness for another transaction of this version');
      return 'ignore';
    }
    const r = this.#agg.add(witnessMessageOf(w.batchId, txid, w.inputs), this.#now());
    if (r === undefined) return 'ignore';
    if (r.counted) this.#m.gossip('counted', r.counted);
    if (r.duplicate) this.#m.gossip('duplicate', r.duplicate);
    if (r.invalid) {
      this.#m.gossip('invalid', r.invalid);
      this.#log.warn({ batchId: w.batchId.toString(), version: w.version.toString(), signer: meta.signer, invalid: r.invalid }, 'invalid witness signatures');
      return 'reject';
    }
    return undefined;
  }

  /** One round: follow the batches the contract has, sign new versions, submit, broadcast, keeper duties. */
  async tick(): Promise<void> {
    const kv = await this.#d.contract.keeperView();
    // Every batch closed since we last looked (also those that settled while we were away: our
    // signatures may still be owed), but a fresh node starts at the batch in flight.
    const stored = await this.#store.cursor();
    const cursor = stored ?? kv.inFlight ?? kv.nextBatchId;
    for (let id = cursor; id < kv.nextBatchId; id++) this.#tracked.add(id);
    if (kv.inFlight !== undefined) this.#tracked.add(kv.inFlight);
    if (stored !== kv.nextBatchId) await this.#store.setCursor(kv.nextBatchId);
    for (const id of [...this.#tracked].sort((a, b) => (a < b ? -1 : 1))) {
      try {
        await this.#follow(id);
      } catch (e) {
        this.#log.warn({ err: e, batchId: id.toString() }, 'payout batch step failed');
      }
    }
    await this.#submitWitnesses();
    let withoutQuorum = 0;
    for (const l of this.#live.values()) withoutQuorum += l.lacking;
    this.#m.withoutQuorum(withoutQuorum);
    if (this.#o.keeper) await this.#keeperDuties(kv);
    this.#d.onStatus?.({ signedInputs: this.#signedInputs, queuedWithdrawals: kv.queuedWithdrawals, openVersions: this.#live.size });
  }

  // ---- batches ---------------------------------------------------------------------------

  async #follow(id: bigint): Promise<void> {
    const view = await this.#d.contract.batch(id);
    if (view === undefined) return;
    let rec = (await this.#store.get(id)) ?? newRecord(id, view.kind, view.closedAtBlock);
    if (view.confirmed) {
      // Settled before we recorded our signatures of the approved version: record them now, the
      // duty still counts (DESIGN.md §2 "Slashing"), and keep following until they are handed over.
      const approved = view.approvedVersion;
      if (approved !== undefined && !rec.ownRecorded && !this.#live.has(vkey(id, approved)) && !rec.refused.some((r) => r.version === approved.toString())) {
        rec = await this.#deriveAndSign(view, approved, rec);
      }
      const live = approved === undefined ? undefined : this.#live.get(vkey(id, approved));
      if (approved !== undefined && live !== undefined && !rec.ownRecorded) {
        const own = rec.versions.find((v) => v.version === approved.toString())?.ownSigs ?? [];
        const missing = this.#missingOwn(await this.#witnessRecords(id, view.closedAtBlock, false), approved, own);
        if (missing.length > 0) {
          this.#approvedAt.set(id, Number.NEGATIVE_INFINITY);
          if (!(await this.#ownDuty(view, approved, missing, live))) return;
        }
      }
      for (const v of rec.versions) this.#close(id, BigInt(v.version));
      rec = { ...rec, confirmed: true, ...(view.approvedVersion !== undefined ? { approvedVersion: view.approvedVersion.toString() } : {}) };
      await this.#store.put(rec);
      this.#tracked.delete(id);
      this.#records.delete(id);
      this.#dropBuffered((k) => k.startsWith(`${id}:`));
      this.#log.info({ batchId: id.toString() }, 'payout batch confirmed on Bitcoin');
      return;
    }
    const wanted = new Set<bigint>([view.latestVersion]);
    if (view.approvedVersion !== undefined) wanted.add(view.approvedVersion);
    for (const v of wanted) {
      if (this.#live.has(vkey(id, v)) || rec.refused.some((r) => r.version === v.toString())) continue;
      rec = await this.#deriveAndSign(view, v, rec);
    }
    if (view.approvedVersion !== view.latestVersion) {
      this.#regossip(rec, view.latestVersion);
      this.#checkQuorum(view, view.latestVersion);
    }
    if (view.approvedVersion !== undefined) await this.#approved(view, view.approvedVersion, rec);
  }

  async #deriveAndSign(view: BatchView, version: bigint, rec: BatchRecord): Promise<BatchRecord> {
    const id = view.batchId;
    const contractTx = await this.#d.contract.versionTx(id, version);
    const scripts = new Map<number, FederationScript>();
    for (const epoch of new Set([view.changeEpoch, ...view.inputs.map((i) => i.epoch)])) scripts.set(epoch, await this.#script(epoch));
    // A settled batch's inputs are spent (gone from the ledger): it is re-derived only to record our duty.
    const ledger = view.confirmed ? undefined : await this.#d.ledger?.();
    let opened: OpenedVersion;
    try {
      opened = rederiveVersion({
        view, version, contractTx, scripts,
        ...(ledger !== undefined ? { ledger } : {}),
        ...(this.#o.maxBumpFeeRateSatPerKvB !== undefined ? { maxBumpFeeRateSatPerKvB: this.#o.maxBumpFeeRateSatPerKvB } : {}),
      });
      const theirs = (await this.#d.contract.sighashes(id, version)).map(bytesToHex);
      const ours = payoutSighashes(opened.tx, opened.inputs).map(bytesToHex);
      if (theirs.join() !== ours.join()) throw new BridgeError({ code: 'PAYOUT_SIGHASH_MISMATCH', batchId: id, version, ours, theirs });
    } catch (e) {
      if (isBridgeError(e, 'PAYOUT_INPUT_UNKNOWN')) {
        this.#m.rederive('deferred');
        this.#log.info({ batchId: id.toString(), version: version.toString(), outpoint: e.context['outpoint'] }, 'batch input not in our ledger yet: retrying later');
        return rec;
      }
      const code = e instanceof BridgeError ? e.code : 'PAYOUT_REDERIVATION_FAILED';
      this.#m.rederive('mismatch');
      this.#log.error({ err: e, batchId: id.toString(), version: version.toString(), code }, 'refusing to sign a closed batch: re-derivation differs from the contract');
      const next = { ...rec, refused: [...rec.refused, { version: version.toString(), code, at: this.#now() }] };
      await this.#store.put(next);
      this.#refused.add(vkey(id, version));
      this.#dropBuffered((k) => k === vkey(id, version));
      return next;
    }
    this.#m.rederive('match');
    const now = this.#now();
    await this.#d.maySign?.();
    await this.#d.signLog.registerClosedBatch(closedBatchVersion(id, opened.tx, opened.inputs));
    this.#openVersion(opened, now);
    const sigs = await signPayoutVersion(this.#d.signLog, id, opened.tx, opened.inputs, this.#d.signingKey, now);
    const own = sigs.map((s) => ({ index: s.inputIndex, signature: sig65(s) }));
    const scriptsHex = { ...rec.scripts };
    for (const [epoch, s] of scripts) scriptsHex[String(epoch)] = bytesToHex(s.witnessScript);
    const next: BatchRecord = { ...rec, scripts: scriptsHex, versions: [...rec.versions.filter((v) => v.version !== version.toString()), storedVersion(opened, own, now)] };
    await this.#store.put(next);
    this.#m.signed(sigs.length);
    this.#signedInputs += sigs.length;
    this.#log.info({ batchId: id.toString(), version: version.toString(), txid: opened.txid, inputs: opened.inputs.length, signed: sigs.length }, 'payout version re-derived and signed');
    if (sigs.length > 0) {
      this.#agg.add(witnessMessageOf(id, opened.txid, own), now);
      this.#publish(gossipOf(id, version, opened.txid, sigs));
    }
    const buffered = this.#buffered.get(vkey(id, version)) ?? [];
    this.#dropBuffered((k) => k === vkey(id, version));
    for (const b of buffered) this.onWitness(b.w, { signer: b.signer });
    return next;
  }

  /** Forget buffered gossip of versions that will never be opened (refused, settled). */
  #dropBuffered(match: (key: string) => boolean): void {
    for (const [k, list] of this.#buffered) {
      if (!match(k)) continue;
      this.#bufferedCount -= list.length;
      this.#buffered.delete(k);
    }
  }

  #openVersion(o: OpenedVersion, now: number): void {
    const sighashes = payoutSighashes(o.tx, o.inputs);
    const key = this.#agg.open({ batchId: o.batchId, txid: o.txid, inputs: o.inputs.map((u, i) => ({ sighash: sighashes[i]!, script: u.script })), submitters: submittersOf(o.inputs), startedAt: now }, now);
    if (!this.#live.has(vkey(o.batchId, o.version))) this.#live.set(vkey(o.batchId, o.version), { opened: o, key, submitted: false, openedAt: now, lacking: 0 });
  }

  #close(id: bigint, version: bigint): void {
    const live = this.#live.get(vkey(id, version));
    if (live) this.#agg.close(live.key);
    this.#live.delete(vkey(id, version));
  }

  /**
   * Per input of an open, unapproved version: the signatures collected (gossip, verified against
   * this node's sighash and the input's script) against that script's threshold. Each input needs
   * its own epoch's quorum, so a batch spending an old epoch's coins (a sweep, or a payout after a
   * rotation) waits for that epoch's members; when fewer of them are running than its threshold,
   * the version can never be approved. This makes that visible: the gauge counts the inputs below
   * threshold, and after `quorumWarnAfterMs` a warning names them and their epochs.
   */
  #checkQuorum(view: BatchView, version: bigint): void {
    for (const l of this.#live.values()) if (l.opened.batchId === view.batchId && l.opened.version !== version) l.lacking = 0; // superseded by a bump
    const live = this.#live.get(vkey(view.batchId, version));
    if (live === undefined) return;
    const collected = this.#agg.witnessSignatures(live.key);
    const lacking = live.opened.inputs
      .map((u, input) => ({ input, epoch: u.script.epoch ?? null, signatures: collected.get(input)?.size ?? 0, threshold: u.script.threshold, keys: u.script.keys.length }))
      .filter((x) => x.signatures < x.threshold);
    live.lacking = lacking.length;
    const now = this.#now();
    if (lacking.length === 0 || now - live.openedAt < this.#o.quorumWarnAfterMs) return;
    if (live.lastQuorumWarning !== undefined && now - live.lastQuorumWarning < this.#o.quorumWarnAfterMs) return;
    live.lastQuorumWarning = now;
    this.#log.warn(
      { batchId: view.batchId.toString(), version: version.toString(), kind: view.kind, txid: live.opened.txid, waitingMs: now - live.openedAt, lacking, epochs: [...new Set(lacking.map((x) => x.epoch))] },
      'payout version without quorum: inputs below their epoch\'s threshold (that epoch\'s members must sign; docs/PAYOUTS.md)',
    );
  }

  async #script(epoch: number): Promise<FederationScript> {
    let s = this.#scriptCache.get(epoch);
    if (s === undefined) {
      s = parseFederationScript(await this.#d.contract.epochScript(epoch), epoch);
      this.#scriptCache.set(epoch, s);
    }
    return s;
  }

  #publish(w: GossipWitness): void {
    this.#lastGossip.set(vkey(w.batchId, w.version), this.#now());
    if (!this.#d.gossip.publish(w)) this.#log.warn({ batchId: w.batchId.toString(), version: w.version.toString() }, 'witness gossip queue full');
  }

  #regossip(rec: BatchRecord, version: bigint): void {
    const v = rec.versions.find((x) => x.version === version.toString());
    if (v === undefined || v.ownSigs.length === 0) return;
    const last = this.#lastGossip.get(vkey(BigInt(rec.batchId), version));
    if (last !== undefined && this.#now() - last < this.#o.regossipIntervalMs) return;
    this.#publish({ batchId: BigInt(rec.batchId), version, txid: reverseBytes(hexToBytes(v.txid)), inputs: v.ownSigs.map((s) => ({ index: s.index, signature: hexToBytes(s.signature) })) });
  }

  // ---- submission of witnesses (rotation) ----------------------------------------------------

  async #submitWitnesses(): Promise<void> {
    const now = this.#now();
    this.#agg.tick(now);
    for (const [k, live] of this.#live) {
      if (live.submitted) continue;
      if (!this.#agg.shouldSubmit(live.key, this.#self, now)) continue;
      const { batchId, version, inputs } = live.opened;
      const sigs = contractSigsOf(this.#agg.contractSignatures(live.key), inputs);
      live.submitted = true;
      this.#m.submission('witnesses');
      this.#log.info({ batchId: batchId.toString(), version: version.toString(), signatures: sigs.length }, 'submitting collected witnesses (our rotation turn)');
      const call = this.#d.contract.encodeSubmitSignatures(batchId, version, sigs);
      void this.#send(`payout-witnesses:${batchId}:${version}`, call, async () => {
        const v = await this.#d.contract.batch(batchId);
        return v === undefined || v.confirmed || v.approvedVersion === version;
      }).then((ok) => {
        if (!ok) {
          const again = this.#live.get(k);
          if (again) again.submitted = false;
        }
      });
    }
  }

  /** Hands a call to the sender; resolves false when it could not be handed over (retry on a later tick). */
  async #send(key: string, call: { to: string; data: string }, alreadyDone: () => Promise<boolean>): Promise<boolean> {
    try {
      const h = await this.#d.sender.submit({ key, to: call.to, data: call.data, alreadyDone });
      h.wait().then(
        (r) => this.#log.info({ key, state: r.state }, 'payout home transaction final'),
        (e: unknown) => this.#log.warn({ key, err: e }, 'payout home transaction failed'),
      );
      return true;
    } catch (e) {
      this.#log.warn({ key, err: e }, 'payout home transaction not sent');
      return false;
    }
  }

  // ---- approval: assemble, broadcast, own duty -------------------------------------------------

  async #approved(view: BatchView, version: bigint, rec: BatchRecord): Promise<void> {
    const id = view.batchId;
    const live = this.#live.get(vkey(id, version));
    if (live === undefined) return; // not derived (refused or deferred): never assemble what we did not check
    live.submitted = true;
    live.lacking = 0;
    this.#agg.markSubmitted(live.key);
    const now = this.#now();
    if (!this.#approvedAt.has(id)) this.#approvedAt.set(id, now);
    if (rec.approvedVersion !== version.toString()) {
      rec = { ...rec, approvedVersion: version.toString() };
      await this.#store.put(rec);
      this.#log.info({ batchId: id.toString(), version: version.toString(), txid: live.opened.txid }, 'payout version approved on chain');
    }
    let signed = this.#tryAssemble(live);
    const own = rec.versions.find((v) => v.version === version.toString())?.ownSigs ?? [];
    let missing = own;
    if (signed === undefined || !rec.ownRecorded) {
      const records = await this.#witnessRecords(id, view.closedAtBlock, signed === undefined);
      for (const r of records) if (r.version === version) this.#agg.add(messageFromRecord(r, live.opened.txid), now);
      signed ??= this.#tryAssemble(live);
      missing = this.#missingOwn(records, version, own);
      if (missing.length === 0 && !rec.ownRecorded) {
        rec = { ...rec, ownRecorded: true };
        await this.#store.put(rec);
      }
    }
    if (signed !== undefined) rec = await this.#broadcast(rec, signed);
    if (!rec.ownRecorded) await this.#ownDuty(view, version, missing, live);
  }

  /** Own signatures of `version` whose input the contract has not recorded for this validator. */
  #missingOwn(records: readonly WitnessRecord[], version: bigint, own: readonly { index: number; signature: string }[]): { index: number; signature: string }[] {
    const recorded = new Set(records.filter((r) => r.version === version && r.validator === this.#selfHex).flatMap((r) => r.sigs.map((x) => x.input)));
    return own.filter((o) => !recorded.has(o.index));
  }

  #tryAssemble(live: Live): { hex: string; txid: string } | undefined {
    try {
      const tx = assemblePayout(live.opened.tx, live.opened.inputs, this.#agg.witnessSignatures(live.key));
      return { hex: tx.toHex(), txid: tx.getId() };
    } catch (e) {
      if (isBridgeError(e, 'BTC_WITNESS_TOO_FEW_SIGNATURES')) return undefined;
      throw e;
    }
  }

  async #witnessRecords(id: bigint, fromBlock: number, force: boolean): Promise<WitnessRecord[]> {
    const cached = this.#records.get(id);
    const now = this.#now();
    if (cached !== undefined && !force && now - cached.at < this.#o.recordsRefreshMs) return cached.list;
    if (cached !== undefined && force && now - cached.at < Math.min(this.#o.recordsRefreshMs, 1_000)) return cached.list;
    const list = await this.#d.contract.witnessRecords(id, fromBlock);
    this.#records.set(id, { at: now, list });
    return list;
  }

  async #broadcast(rec: BatchRecord, signed: { hex: string; txid: string }): Promise<BatchRecord> {
    const now = this.#now();
    if (rec.broadcast?.txid === signed.txid && now - rec.broadcast.at < this.#o.rebroadcastIntervalMs) return rec;
    const result = await this.#sendRaw(signed);
    this.#m.broadcast(result);
    if (result === 'error') return rec;
    this.#log.info({ batchId: rec.batchId, txid: signed.txid, result }, rec.broadcast?.txid === signed.txid ? 'payout re-broadcast' : 'payout broadcast to Bitcoin');
    const next = { ...rec, broadcast: { txid: signed.txid, at: now } };
    await this.#store.put(next);
    return next;
  }

  /** `sent`, `known` (already in the mempool or a block: success), or `error` (retried next tick). */
  async #sendRaw(signed: { hex: string; txid: string }): Promise<'sent' | 'known' | 'error'> {
    try {
      await this.#d.bitcoin.sendRawTransaction(signed.hex);
    } catch (e) {
      const reason = String((e as BridgeError).context?.['reason'] ?? (e as Error).message ?? e).toLowerCase();
      if (reason.includes('already') || reason.includes('known') || (e as BridgeError).context?.['rpcCode'] === -27) return 'known';
      if (await this.#known(signed.txid)) return 'known';
      this.#log.warn({ err: e, txid: signed.txid }, 'payout broadcast refused');
      return 'error';
    }
    return 'sent';
  }

  async #known(txid: string): Promise<boolean> {
    try {
      if ((await this.#d.bitcoin.getMempoolEntry(txid)) !== undefined) return true;
      await this.#d.bitcoin.getRawTransaction(txid);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A validator whose signatures are missing on chain after approval records them itself
   * (`submitSignature`, DESIGN.md §2 "Slashing": the duty counts recordings after approval).
   * Only the missing inputs are sent: the contract refuses duplicates in this call.
   */
  async #ownDuty(view: BatchView, version: bigint, missing: readonly { index: number; signature: string }[], live: Live): Promise<boolean> {
    if (missing.length === 0) return true;
    if (this.#now() - (this.#approvedAt.get(view.batchId) ?? this.#now()) < this.#o.ownSubmitDelayMs) return false;
    const sigs = ownContractSigs(missing.map((s) => ({ index: s.index, signature: hexToBytes(s.signature) })), live.opened.inputs, this.#publicKey);
    const key = `payout-own:${view.batchId}:${version}:${missing.map((m) => m.index).join('-')}`;
    if (this.#keeperSent.has(key)) return true;
    this.#keeperSent.add(key);
    this.#m.submission('own');
    this.#log.info({ batchId: view.batchId.toString(), version: version.toString(), inputs: missing.length }, 'recording our own witness signatures after approval');
    const handed = await this.#send(key, this.#d.contract.encodeSubmitSignature(view.batchId, version, sigs), async () => {
      const list = await this.#d.contract.witnessRecords(view.batchId, view.closedAtBlock);
      return this.#missingOwn(list, version, missing).length === 0;
    });
    if (!handed) this.#keeperSent.delete(key);
    return handed;
  }

  // ---- keeper duties (rotation) --------------------------------------------------------------

  async #keeperDuties(kv: KeeperView): Promise<void> {
    const keepers = [...(await this.#d.keepers())].map((a) => a.toLowerCase()).sort();
    const now = this.#now();
    const turn = (duty: string, rotationKey: bigint): boolean => {
      const since = this.#dueSince.get(duty) ?? now;
      this.#dueSince.set(duty, since);
      const pos = rotationOrder(keepers, rotationKey).indexOf(this.#selfHex);
      return pos >= 0 && now >= since + pos * this.#o.keeperTakeoverMs;
    };
    const due = new Set<string>();
    if (kv.importBacklog > 0 && this.#d.depositOutpoints !== undefined) {
      const duty = `payout-import:${kv.importedHeights}`;
      due.add(duty);
      if (turn(duty, BigInt(kv.importedHeights))) await this.#importDeposits(duty, kv);
    }
    if (kv.closeDue) {
      const duty = `payout-close:${kv.nextBatchId}`;
      due.add(duty);
      if (turn(duty, kv.nextBatchId)) {
        const handed = await this.#keeperSend(duty, this.#d.contract.encodeCloseBatch(), async () => {
          const now2 = await this.#d.contract.keeperView();
          return now2.inFlight !== undefined || now2.nextBatchId !== kv.nextBatchId;
        });
        if (handed) this.#m.submission('close');
      }
    }
    if (kv.inFlight !== undefined && kv.bumpDue) {
      const view = await this.#d.contract.batch(kv.inFlight);
      if (view !== undefined && !view.confirmed) {
        const duty = `payout-bump:${view.batchId}:${view.latestVersion + 1n}`;
        due.add(duty);
        if (turn(duty, view.batchId + view.latestVersion)) {
          const handed = await this.#keeperSend(duty, this.#d.contract.encodeBumpFee(view.batchId), async () => {
            const v = await this.#d.contract.batch(view.batchId);
            return v === undefined || v.confirmed || v.latestVersion > view.latestVersion;
          });
          if (handed) this.#m.submission('bump');
        }
      }
    }
    for (const k of [...this.#dueSince.keys()]) if (!due.has(k)) this.#dueSince.delete(k);
  }

  readonly #keeperSent = new Set<string>();

  /**
   * `importDeposits`: the outpoints the BSH recorded at each pending deposit height, from this
   * node's own derivation, as `txid (internal) 32 ‖ vout u32 BE`, ascending by (txid as a
   * big-endian uint256, vout) — the order the contract checks. Stops at the first height the
   * node has not derived or whose count differs from the BSH's.
   */
  async #importDeposits(duty: string, kv: KeeperView): Promise<void> {
    if (this.#keeperSent.has(duty)) return;
    const heights = await this.#d.contract.depositHeights(kv.importedHeights, Math.min(kv.importBacklog, this.#o.maxImportHeights));
    const blobs: Uint8Array[] = [];
    for (const h of heights) {
      const ops = await this.#d.depositOutpoints!(h.height);
      if (ops === undefined || ops.length !== h.count) {
        if (ops !== undefined) this.#log.warn({ btpHeight: h.height, ours: ops.length, bsh: h.count }, 'deposit count at a BTP height differs from the BSH: not importing');
        break;
      }
      const sorted = ops.map((o) => ({ txid: reverseBytes(hexToBytes(o.txid)), vout: o.vout })).sort((a, b) => compareBytes(a.txid, b.txid) || a.vout - b.vout);
      blobs.push(concatBytes(...sorted.map((o) => concatBytes(o.txid, u32be(o.vout)))));
    }
    if (blobs.length === 0) return;
    const handed = await this.#keeperSend(duty, this.#d.contract.encodeImportDeposits(blobs), async () => (await this.#d.contract.keeperView()).importedHeights > kv.importedHeights);
    if (handed) this.#m.submission('import');
  }

  async #keeperSend(key: string, call: { to: string; data: string }, alreadyDone: () => Promise<boolean>): Promise<boolean> {
    if (this.#keeperSent.has(key)) return false;
    this.#keeperSent.add(key);
    this.#log.info({ key }, 'keeper duty: our turn');
    const ok = await this.#send(key, call, alreadyDone);
    if (!ok) this.#keeperSent.delete(key);
    return ok;
  }

  // ---- introspection (tests, status) ---------------------------------------------------------

  /** Versions open for collection: `batchId:version` → txid and phase. */
  status(): { batchId: string; version: string; txid: string; phase: string | undefined }[] {
    const now = this.#now();
    return [...this.#live.values()].map((l) => ({ batchId: l.opened.batchId.toString(), version: l.opened.version.toString(), txid: l.opened.txid, phase: this.#agg.phase(l.key, now) }));
  }

  /** For tests: the aggregator key of a version. */
  keyOf(batchId: bigint, txid: string): string {
    return batchKey(batchId, txid);
  }
}

import { BridgeError } from '../../errors.js';
import type { NodeDb } from '../db/database.js';
import type { ConsensusMetrics } from '../../consensus/metrics.js';
import { reorgHalt, type ReorgNotice, type SigningHalt } from '../../consensus/safety.js';
import { planMerge, type MergePlan, type SignLogContents } from '../../consensus/signlog-format.js';
import {
  checkBatchVersion,
  checkBtp,
  checkPayout,
  refusalError,
  type BtpSignEntry,
  type ClosedBatchVersion,
  type PayoutSignEntry,
  type PolicyResult,
} from '../../consensus/signlog-policy.js';

/**
 * The persistent sign-log (docs/CONSENSUS.md §4). Every `authorize*` call
 * checks the rules of `src/consensus/signlog-policy.ts` and, when allowed,
 * writes the entry with one awaited atomic batch **before** it returns: the
 * caller signs and gossips only after. Calls are serialised in-process; the
 * data-dir lock keeps other processes out.
 *
 * Layout (level sublevels, JSON values):
 *   signlog-btp     key: height, 16 decimal digits   value: BtpSignEntry
 *   signlog-batch   key: batchId (20 digits) ':' txid value: ClosedBatchVersion (batchId as string)
 *   signlog-payout  key: sighash hex                  value: PayoutSignEntry (batchId as string)
 *   signlog-meta    key: 'halt'                        value: SigningHalt
 */

type Sub = ReturnType<NodeDb['sublevel']>;
type Json = Record<string, unknown>;

const heightKey = (h: number): string => String(h).padStart(16, '0');
const batchPrefix = (id: bigint): string => id.toString().padStart(20, '0');
const batchKeyOf = (id: bigint, txid: string): string => `${batchPrefix(id)}:${txid}`;

function batchToJson(v: ClosedBatchVersion): Json {
  return { batchId: v.batchId.toString(), txid: v.txid, outpoints: [...v.outpoints], sighashes: [...v.sighashes] };
}
function batchFromJson(j: Json): ClosedBatchVersion {
  return { batchId: BigInt(j.batchId as string), txid: j.txid as string, outpoints: j.outpoints as string[], sighashes: j.sighashes as string[] };
}
function payoutToJson(p: PayoutSignEntry): Json {
  return { ...p, batchId: p.batchId.toString() };
}
function payoutFromJson(j: Json): PayoutSignEntry {
  return { ...(j as unknown as PayoutSignEntry), batchId: BigInt(j.batchId as string) };
}

export interface PayoutAuthorization {
  readonly batchId: bigint;
  readonly txid: string;
  readonly inputIndex: number;
  /** `0x` hex sighash this node is about to sign. */
  readonly sighash: string;
}

export class SignLog {
  readonly #btp: Sub;
  readonly #batch: Sub;
  readonly #payout: Sub;
  readonly #meta: Sub;
  readonly #db: NodeDb;
  readonly #metrics: ConsensusMetrics | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(db: NodeDb, opts: { metrics?: ConsensusMetrics } = {}) {
    this.#db = db;
    const sub = (name: string): Sub => db.sublevel<string, unknown>(name, { valueEncoding: 'json' }) as unknown as Sub;
    this.#btp = sub('signlog-btp');
    this.#batch = sub('signlog-batch');
    this.#payout = sub('signlog-payout');
    this.#meta = sub('signlog-meta');
    this.#metrics = opts.metrics;
  }

  /** One operation at a time: check-then-write must not interleave. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #get(sub: Sub, key: string): Promise<Json | undefined> {
    return (await (sub as unknown as { get(k: string): Promise<unknown> }).get(key)) as Json | undefined;
  }

  #refuse(r: Extract<PolicyResult, { ok: false }>): never {
    this.#metrics?.signlogRefusal(r.rule);
    throw refusalError(r);
  }

  async #assertNotHalted(): Promise<void> {
    const halt = await this.#get(this.#meta, 'halt');
    if (halt !== undefined) this.#refuse({ ok: false, rule: 'halted', context: halt });
  }

  /**
   * Records that this node signs `decisionHash` at BTP height `height`.
   * Returns 'repeat' for the same decision again (idempotent re-sign);
   * throws `SIGNLOG_REFUSED` (rule `btp-conflict` or `halted`).
   */
  authorizeBtp(e: { height: number; decisionHash: string; btcBlockHash?: string }, now: number): Promise<'new' | 'repeat'> {
    return this.#serial(async () => {
      await this.#assertNotHalted();
      const decisionHash = e.decisionHash.toLowerCase();
      const existing = (await this.#get(this.#btp, heightKey(e.height))) as BtpSignEntry | undefined;
      const r = checkBtp(existing, e.height, decisionHash);
      if (!r.ok) this.#refuse(r);
      if (r.repeat) return 'repeat';
      const entry: BtpSignEntry = { height: e.height, decisionHash, ...(e.btcBlockHash !== undefined ? { btcBlockHash: e.btcBlockHash } : {}), signedAt: now };
      await this.#db.batch([{ type: 'put', sublevel: this.#btp, key: heightKey(e.height), value: entry }]);
      return 'new';
    });
  }

  /** Registers a version of a batch the contract closed (after this node re-derived it). */
  registerClosedBatch(v: ClosedBatchVersion): Promise<'new' | 'repeat'> {
    return this.#serial(async () => {
      const norm: ClosedBatchVersion = { ...v, txid: v.txid.toLowerCase(), sighashes: v.sighashes.map((s) => s.toLowerCase()) };
      const r = checkBatchVersion(await this.#versions(v.batchId), norm);
      if (!r.ok) this.#refuse(r);
      if (r.repeat) return 'repeat';
      await this.#db.batch([{ type: 'put', sublevel: this.#batch, key: batchKeyOf(v.batchId, norm.txid), value: batchToJson(norm) }]);
      return 'new';
    });
  }

  async #versions(batchId: bigint): Promise<ClosedBatchVersion[]> {
    const out: ClosedBatchVersion[] = [];
    const p = batchPrefix(batchId) + ':';
    for await (const v of (this.#batch as unknown as { values(o: object): AsyncIterable<Json> }).values({ gte: p, lt: p + '~' })) out.push(batchFromJson(v));
    return out;
  }

  /**
   * Records the payout signatures this node is about to make (all inputs of
   * one call in one atomic batch; all refused if any is). Throws
   * `SIGNLOG_REFUSED` (`batch-not-closed`, `sighash-not-of-batch`, `halted`).
   */
  authorizePayout(reqs: readonly PayoutAuthorization[], now: number): Promise<void> {
    return this.#serial(async () => {
      await this.#assertNotHalted();
      const writes: { type: 'put'; sublevel: Sub; key: string; value: Json }[] = [];
      for (const req of reqs) {
        const sighash = req.sighash.toLowerCase();
        const norm = { ...req, txid: req.txid.toLowerCase(), sighash };
        const existing = await this.#get(this.#payout, sighash);
        const r = checkPayout(await this.#versions(req.batchId), norm, existing === undefined ? undefined : payoutFromJson(existing));
        if (!r.ok) this.#refuse(r);
        if (!r.repeat) writes.push({ type: 'put', sublevel: this.#payout, key: sighash, value: payoutToJson({ ...norm, signedAt: now }) });
      }
      if (writes.length > 0) await this.#db.batch(writes);
    });
  }

  /** Highest BTP height signed, if any. */
  async highestSignedHeight(): Promise<number | undefined> {
    for await (const k of (this.#btp as unknown as { keys(o: object): AsyncIterable<string> }).keys({ reverse: true, limit: 1 })) return Number(k);
    return undefined;
  }

  /** A reorg on Bitcoin: halts (persistently) when it touches a height this node signed. */
  onReorg(reorg: ReorgNotice, now: number): Promise<SigningHalt | undefined> {
    return this.#serial(async () => {
      const halt = reorgHalt(await this.highestSignedHeight(), reorg, now);
      if (halt !== undefined && (await this.#get(this.#meta, 'halt')) === undefined) {
        await this.#db.batch([{ type: 'put', sublevel: this.#meta, key: 'halt', value: halt }]);
      }
      return halt;
    });
  }

  async haltState(): Promise<SigningHalt | undefined> {
    return (await this.#get(this.#meta, 'halt')) as SigningHalt | undefined;
  }

  /** The operator's recovery step (docs/CONSENSUS.md §5). Throws `SIGNLOG_NOT_HALTED` when there is nothing to clear. */
  clearHalt(): Promise<SigningHalt> {
    return this.#serial(async () => {
      const halt = (await this.#get(this.#meta, 'halt')) as SigningHalt | undefined;
      if (halt === undefined) throw new BridgeError({ code: 'SIGNLOG_NOT_HALTED' });
      await this.#db.batch([{ type: 'del', sublevel: this.#meta, key: 'halt' }]);
      return halt;
    });
  }

  async contents(): Promise<SignLogContents> {
    const all = async (sub: Sub): Promise<Json[]> => {
      const out: Json[] = [];
      for await (const v of (sub as unknown as { values(): AsyncIterable<Json> }).values()) out.push(v);
      return out;
    };
    return {
      btp: (await all(this.#btp)) as unknown as BtpSignEntry[],
      batches: (await all(this.#batch)).map(batchFromJson),
      payouts: (await all(this.#payout)).map(payoutFromJson),
      halt: await this.haltState(),
    };
  }

  /** Imports another log: refuses as a whole on any conflict, merges identical entries, writes the rest atomically. */
  importContents(incoming: SignLogContents): Promise<MergePlan> {
    return this.#serial(async () => {
      const plan = planMerge(await this.contents(), incoming);
      if (plan.conflicts.length > 0) {
        throw new BridgeError({ code: 'SIGNLOG_IMPORT_CONFLICT', conflicts: plan.conflicts.slice(0, 20), count: plan.conflicts.length });
      }
      const ops: { type: 'put'; sublevel: Sub; key: string; value: unknown }[] = [
        ...plan.add.btp.map((e) => ({ type: 'put' as const, sublevel: this.#btp, key: heightKey(e.height), value: e })),
        ...plan.add.batches.map((v) => ({ type: 'put' as const, sublevel: this.#batch, key: batchKeyOf(v.batchId, v.txid), value: batchToJson(v) })),
        ...plan.add.payouts.map((p) => ({ type: 'put' as const, sublevel: this.#payout, key: p.sighash, value: payoutToJson(p) })),
        ...(plan.add.halt !== undefined ? [{ type: 'put' as const, sublevel: this.#meta, key: 'halt', value: plan.add.halt }] : []),
      ];
      if (ops.length > 0) await this.#db.batch(ops);
      return plan;
    });
  }
}

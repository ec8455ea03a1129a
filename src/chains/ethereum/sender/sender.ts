/**
 * The transaction sender: sends the node's transactions from its operator account, exactly once
 * per idempotency key, and sees them mined.
 *
 * - A key gets one record forever; submitting it again returns the same submission.
 * - Before a nonce is spent, the caller's `alreadyDone()` check (an `eth_call` such as "is this
 *   BTP height relayed?") may skip the send; a reverting gas estimate raises a typed error.
 * - Nonce, record and signed transaction are committed in one atomic batch *before* the
 *   broadcast, so after a crash the database holds everything the network may have seen; the
 *   poll loop rebroadcasts what nodes do not know.
 * - Every version of a submission (fee bumps) uses its nonce, so at most one can be mined.
 * - A transaction unmined for `stuckBlocks` blocks is replaced with fees raised ≥ `bumpPercent`.
 * - A nonce taken by another transaction of the account (nonce too low, resync) is given up and
 *   the submission re-signed with a fresh nonce (unless `alreadyDone()` now says it is done).
 * - Receipts are polled (never `waitForTransaction`), and a submission is final at
 *   `confirmations` blocks deep.
 */
import { getAddress, isAddress, isHexString, keccak256, type Interface, type InterfaceAbi, type TransactionRequest } from 'ethers';
import { BridgeError, isBridgeError } from '../../../errors.js';
import type { NodeDb } from '../../../node/db/database.js';
import type { Logger } from '../../../node/logger.js';
import type { MetricsFactory } from '../../../node/metrics.js';
import type { EthRpc } from '../rpc/client.js';
import { classifySendRejection, isTransportError, revertDataOf, type SendRejection } from '../rpc/errors.js';
import type { BlockHeader, RpcReceipt } from '../rpc/types.js';
import { bumpedFees, initialFees, validateFeePolicy, type FeePolicy, type Fees } from './fees.js';
import { revertError, toInterface } from './revert.js';
import { SenderStore, type Attempt, type BatchOp, type SubmissionRecord } from './store.js';

/** What the sender needs from a key: an ethers `Wallet` fits. */
export interface TxSigner {
  readonly address: string;
  signTransaction(tx: TransactionRequest): Promise<string>;
}

export interface TxSenderOptions extends FeePolicy {
  /** Receipt / stuck / rebroadcast poll period. */
  pollIntervalMs: number;
  /** Blocks without inclusion after which the fees are bumped. */
  stuckBlocks: number;
  /** Depth at which a submission is final (1 = included). */
  confirmations: number;
  /** Gas limit = estimate × this / 100. */
  gasMultiplierPercent: number;
  /** No transaction gets more gas than this (EIP-7825 cap, 2^24). */
  gasLimitCap: bigint;
  /** Consecutive polls that must see a nonce taken by someone else before re-signing. */
  consumedNonceChecks: number;
  /** Gap fillers (self-transfers) sent per poll at most. */
  maxGapFillsPerPoll: number;
  /** Bound on one `alreadyDone()` check (it runs while submissions are serialised). */
  alreadyDoneTimeoutMs: number;
  /** ABI whose custom errors decode reverts (e.g. the target contract's). */
  errorAbi?: Interface | InterfaceAbi;
}

export const DEFAULT_TX_SENDER_OPTIONS: TxSenderOptions = {
  pollIntervalMs: 250,
  stuckBlocks: 3,
  confirmations: 1,
  gasMultiplierPercent: 125,
  gasLimitCap: 1n << 24n,
  consumedNonceChecks: 3,
  maxGapFillsPerPoll: 16,
  alreadyDoneTimeoutMs: 30_000,
  baseFeeMultiplier: 2n,
  defaultPriorityFeePerGas: 1_000_000_000n,
  maxFeePerGasCap: 1_000_000_000_000n,
  bumpPercent: 12.5,
};

export interface SubmitRequest {
  /** Idempotency key: the same key is one submission, never two transactions. */
  key: string;
  to: string;
  data?: string;
  value?: bigint;
  /** Skips the gas estimate (e.g. when the call depends on transactions still pending). */
  gasLimit?: bigint;
  /** "Is this work already done?", e.g. an `eth_call`; true skips the send. */
  alreadyDone?: () => Promise<boolean>;
}

export interface SubmissionHandle {
  readonly key: string;
  /** The current record (a copy). */
  record(): SubmissionRecord;
  /**
   * Resolves with the final record (`confirmed` or `skipped`); rejects with `ETH_TX_REVERTED`
   * if it was mined reverted, or `ETH_TX_WAIT_TIMEOUT` after `timeoutMs`.
   */
  wait(opts?: { timeoutMs?: number }): Promise<SubmissionRecord>;
}

export interface TxSender {
  readonly address: string;
  /** Loads the database, resyncs the nonce from the chain and starts polling. */
  start(): Promise<void>;
  /** Stops polling; pending submissions stay in the database for the next start. */
  stop(): Promise<void>;
  submit(req: SubmitRequest): Promise<SubmissionHandle>;
  /** Submissions not final yet, by nonce. */
  pending(): SubmissionRecord[];
  get(key: string): SubmissionRecord | undefined;
  /** One poll round now (the loop calls it; tests and tools may too). */
  poll(): Promise<void>;
  /**
   * Deletes final records last updated before `olderThanMs` ago (bounded database growth).
   * A pruned key is no longer deduplicated by the sender: prune only past the horizon where
   * callers can still resubmit it, and rely on `alreadyDone()` beyond. Returns the count.
   */
  prune(opts: { olderThanMs: number }): Promise<number>;
}

export interface CreateTxSenderArgs {
  rpc: EthRpc;
  db: NodeDb;
  signer: TxSigner;
  log: Logger;
  metrics?: MetricsFactory;
  options?: Partial<TxSenderOptions>;
}

const FILLER_PREFIX = 'nonce-filler:';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): string => new Date().toISOString();

export function createTxSender(args: CreateTxSenderArgs): TxSender {
  const o: TxSenderOptions = { ...DEFAULT_TX_SENDER_OPTIONS, ...args.options };
  validateFeePolicy(o);
  const { rpc, signer } = args;
  const address = getAddress(signer.address);
  const log = args.log.child({ module: 'eth-sender', account: address });
  const store = new SenderStore(args.db, address);
  const abi = toInterface(o.errorAbi);
  const m = args.metrics;
  const mSubmissions = m?.counter('eth_tx_submissions_total', 'Ethereum submissions by outcome of submit()', ['outcome']);
  const mBroadcasts = m?.counter('eth_tx_broadcasts_total', 'Raw transaction broadcasts by result', ['result']);
  const mBumps = m?.counter('eth_tx_fee_bumps_total', 'Replacements of stuck transactions with higher fees');
  const mResyncs = m?.counter('eth_tx_nonce_resyncs_total', 'Nonces re-assigned after another transaction took them, or moved up from the chain', ['reason']);
  const mFinal = m?.counter('eth_tx_final_total', 'Submissions that reached a final state', ['state']);
  const mPending = m?.gauge('eth_tx_pending', 'Submissions not final yet');
  const mLatency = m?.histogram('eth_tx_confirm_seconds', 'From first signing to final receipt', [], [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800]);

  const records = new Map<string, SubmissionRecord>();
  const checks = new Map<string, () => Promise<boolean>>();
  const consumedSeen = new Map<string, number>();
  const waiters = new Map<string, Set<() => void>>();
  let next = 0;
  let loaded: Promise<void> | undefined;
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<void> | undefined;

  // One mutation at a time: submit and poll both read-modify-write records and the nonce.
  let queue: Promise<unknown> = Promise.resolve();
  function locked<T>(fn: () => Promise<T>): Promise<T> {
    const r = queue.then(fn, fn);
    queue = r.then(() => undefined, () => undefined);
    return r;
  }

  const setPendingGauge = (): void => { mPending?.set([...records.values()].filter((r) => r.state === 'pending').length); };

  async function resyncNonce(): Promise<void> {
    const chainPending = await rpc.getTransactionCount(address, 'pending');
    if (chainPending > next) {
      log.warn({ stored: next, chain: chainPending }, 'nonce moved up from the chain (account used elsewhere?)');
      mResyncs?.inc({ reason: 'chain_ahead' });
      next = chainPending;
      await store.commit([store.putNext(next)]);
    }
  }

  function ensureLoaded(): Promise<void> {
    loaded ??= (async () => {
      const s = await store.load();
      for (const r of s.records) records.set(r.key, r);
      next = s.next ?? 0;
      await resyncNonce();
      setPendingGauge();
      log.info({ next, pending: [...records.values()].filter((r) => r.state === 'pending').length }, 'sender state loaded');
    })().catch((err: unknown) => { loaded = undefined; throw err; });
    return loaded;
  }

  function notify(key: string): void {
    const ws = waiters.get(key);
    if (ws === undefined) return;
    waiters.delete(key);
    for (const w of ws) w();
  }

  async function sign(r: SubmissionRecord, nonce: number, fees: Fees, head: number): Promise<Attempt> {
    const raw = await signer.signTransaction({
      type: 2, chainId: rpc.chainId, nonce, to: r.to, data: r.data, value: BigInt(r.value), gasLimit: BigInt(r.gasLimit),
      maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return { hash: keccak256(raw), raw, maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(), sentAtBlock: head };
  }

  async function suggestedTip(): Promise<bigint | undefined> {
    try {
      return await rpc.maxPriorityFeePerGas();
    } catch (err) {
      if (isBridgeError(err, 'ETH_RPC_UNAVAILABLE')) throw err;
      return undefined; // the node has no fee oracle: the configured default applies
    }
  }

  async function latestHead(): Promise<BlockHeader> {
    const head = await rpc.getBlock('latest');
    if (head === undefined) throw new BridgeError({ code: 'ETH_RPC_BAD_RESULT', what: 'latest block missing' });
    return head;
  }

  /** Sends one signed version; never throws for a refusal (the next poll settles it), returns what happened. */
  async function broadcast(r: SubmissionRecord, a: Attempt): Promise<'ok' | 'unavailable' | SendRejection> {
    try {
      await rpc.sendRawTransaction(a.raw);
      mBroadcasts?.inc({ result: 'ok' });
      log.debug({ key: r.key, nonce: r.nonce, hash: a.hash }, 'transaction broadcast');
      return 'ok';
    } catch (err) {
      if (isBridgeError(err, 'ETH_RPC_UNAVAILABLE') || isTransportError(err)) {
        mBroadcasts?.inc({ result: 'unavailable' });
        log.warn({ key: r.key, hash: a.hash }, 'broadcast failed: no RPC endpoint; will retry');
        return 'unavailable';
      }
      const kind = classifySendRejection(err);
      mBroadcasts?.inc({ result: kind.replaceAll('-', '_') });
      // Everything else is settled by the next poll: receipts, nonce ownership, bumps.
      if (kind !== 'already-known') log.warn({ key: r.key, nonce: r.nonce, hash: a.hash, kind, err: (err as Error).message?.slice(0, 300) }, 'node refused the transaction');
      return kind;
    }
  }

  async function estimate(req: SubmitRequest, value: bigint, data: string): Promise<bigint> {
    let est: bigint;
    try {
      est = await rpc.estimateGas({ from: address, to: req.to, data, value });
    } catch (err) {
      if (isBridgeError(err, 'ETH_RPC_UNAVAILABLE')) throw err;
      const code = (err as { code?: unknown }).code;
      const revertData = revertDataOf(err);
      if (code === 'CALL_EXCEPTION' || revertData !== undefined) throw revertError({ key: req.key, to: req.to, phase: 'estimate', data: revertData, abi, cause: err });
      throw new BridgeError({ code: 'ETH_TX_ESTIMATE_FAILED', key: req.key, to: req.to, reason: (err as Error).message?.slice(0, 300), cause: err });
    }
    if (est > o.gasLimitCap) throw new BridgeError({ code: 'ETH_TX_GAS_LIMIT', key: req.key, estimate: est.toString(), cap: o.gasLimitCap.toString() });
    const padded = (est * BigInt(o.gasMultiplierPercent)) / 100n;
    return padded > o.gasLimitCap ? o.gasLimitCap : padded;
  }

  async function isDone(key: string, check: () => Promise<boolean>): Promise<boolean> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new BridgeError({ code: 'ETH_TX_ALREADY_DONE_TIMEOUT', key, timeoutMs: o.alreadyDoneTimeoutMs })), o.alreadyDoneTimeoutMs);
    });
    try {
      return await Promise.race([check(), timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  async function skip(key: string, base: Omit<SubmissionRecord, 'state' | 'updatedAt'> & Partial<SubmissionRecord>, reason: string, extra: BatchOp[] = []): Promise<SubmissionRecord> {
    const rec: SubmissionRecord = { ...base, state: 'skipped', skipReason: reason, updatedAt: now() };
    await store.commit([store.putRecord(rec), ...extra]);
    records.set(key, rec);
    checks.delete(key);
    mFinal?.inc({ state: 'skipped' });
    notify(key);
    return rec;
  }

  async function submitLocked(req: SubmitRequest): Promise<SubmissionHandle> {
    await ensureLoaded();
    const existing = records.get(req.key);
    if (existing !== undefined) {
      if (existing.state === 'pending' && req.alreadyDone !== undefined) checks.set(req.key, req.alreadyDone);
      mSubmissions?.inc({ outcome: 'deduplicated' });
      return handle(req.key);
    }
    if (req.key.length === 0 || req.key.startsWith(FILLER_PREFIX)) throw new BridgeError({ code: 'ETH_TX_BAD_REQUEST', field: 'key', key: req.key });
    if (!isAddress(req.to)) throw new BridgeError({ code: 'ETH_TX_BAD_REQUEST', field: 'to', key: req.key, to: req.to });
    const data = req.data ?? '0x';
    if (!isHexString(data)) throw new BridgeError({ code: 'ETH_TX_BAD_REQUEST', field: 'data', key: req.key });
    const value = req.value ?? 0n;
    const to = getAddress(req.to);
    const base = { key: req.key, to, data, value: value.toString(), gasLimit: '0', nonce: undefined, attempts: [], replacedNonces: [], createdAt: now() };

    if (req.alreadyDone !== undefined && (await isDone(req.key, req.alreadyDone))) {
      mSubmissions?.inc({ outcome: 'skipped' });
      log.info({ key: req.key }, 'work already done: not sending');
      await skip(req.key, base, 'alreadyDone() before sending');
      return handle(req.key);
    }
    if (req.gasLimit !== undefined && (req.gasLimit <= 0n || req.gasLimit > o.gasLimitCap)) {
      throw new BridgeError({ code: 'ETH_TX_GAS_LIMIT', key: req.key, gasLimit: req.gasLimit.toString(), cap: o.gasLimitCap.toString() });
    }
    const gasLimit = req.gasLimit ?? (await estimate(req, value, data));
    const head = await latestHead();
    const fees = initialFees(head.baseFeePerGas ?? 0n, await suggestedTip(), o);
    const nonce = next;
    const rec: SubmissionRecord = { ...base, gasLimit: gasLimit.toString(), state: 'pending', nonce, updatedAt: now() };
    const attempt = await sign(rec, nonce, fees, head.number);
    rec.attempts = [attempt];
    await store.commit([store.putRecord(rec), store.putNonceOwner(nonce, rec.key), store.putNext(nonce + 1)]);
    records.set(rec.key, rec);
    next = nonce + 1;
    if (req.alreadyDone !== undefined) checks.set(rec.key, req.alreadyDone);
    mSubmissions?.inc({ outcome: 'sent' });
    setPendingGauge();
    log.info({ key: rec.key, nonce, hash: attempt.hash, gasLimit: rec.gasLimit }, 'submission signed');
    await broadcast(rec, attempt);
    return handle(rec.key);
  }

  async function finalize(r: SubmissionRecord, a: Attempt, rc: RpcReceipt): Promise<void> {
    const rec: SubmissionRecord = {
      ...r,
      state: rc.status === 1 ? 'confirmed' : 'reverted',
      updatedAt: now(),
      receipt: { hash: a.hash, blockNumber: rc.blockNumber, blockHash: rc.blockHash, gasUsed: rc.gasUsed.toString(), status: rc.status },
    };
    if (rc.status !== 1) {
      // Replay to learn why, at the parent block then at the block itself (best effort: the exact
      // pre-state of the transaction is in between, e.g. another relayer's transaction earlier in the block).
      let revertData: string | undefined;
      for (const at of [Math.max(0, rc.blockNumber - 1), rc.blockNumber]) {
        try {
          await rpc.call({ from: address, to: r.to, data: r.data, value: BigInt(r.value), gas: BigInt(r.gasLimit) }, at);
        } catch (err) {
          revertData = revertDataOf(err);
          break;
        }
      }
      const e = revertError({ key: r.key, to: r.to, phase: 'mined', data: revertData, abi, hash: a.hash });
      rec.error = { code: e.code, message: e.message, errorName: e.context.errorName as string | undefined, errorArgs: e.context.errorArgs as unknown[] | undefined };
    }
    await store.commit([store.putRecord(rec)]);
    records.set(r.key, rec);
    checks.delete(r.key);
    consumedSeen.delete(r.key);
    mFinal?.inc({ state: rec.state });
    mLatency?.observe((Date.now() - Date.parse(r.createdAt)) / 1e3);
    log.info({ key: r.key, nonce: r.nonce, hash: a.hash, state: rec.state, block: rc.blockNumber }, 'submission final');
    notify(r.key);
  }

  /** Another transaction of the account took this nonce: re-sign with a fresh one. */
  async function reassign(r: SubmissionRecord, head: BlockHeader): Promise<void> {
    const old = r.nonce!;
    const check = checks.get(r.key);
    if (check !== undefined && (await isDone(r.key, check))) {
      await skip(r.key, r, `nonce ${old} taken by another transaction; alreadyDone() then true`);
      return;
    }
    const fresh = Math.max(next, await rpc.getTransactionCount(address, 'pending'));
    const fees = initialFees(head.baseFeePerGas ?? 0n, await suggestedTip(), o);
    const rec: SubmissionRecord = { ...r, nonce: fresh, replacedNonces: [...r.replacedNonces, old], updatedAt: now() };
    const a = await sign(rec, fresh, fees, head.number);
    rec.attempts = [...r.attempts, a];
    await store.commit([store.putRecord(rec), store.putNonceOwner(fresh, rec.key), store.putNext(fresh + 1)]);
    records.set(rec.key, rec);
    next = fresh + 1;
    consumedSeen.delete(r.key);
    mResyncs?.inc({ reason: 'nonce_taken' });
    log.warn({ key: r.key, oldNonce: old, nonce: fresh, hash: a.hash }, 'nonce taken by another transaction: re-signed with a new nonce');
    await broadcast(rec, a);
  }

  async function bump(r: SubmissionRecord, head: BlockHeader): Promise<void> {
    const last = r.attempts[r.attempts.length - 1]!;
    const prev: Fees = { maxFeePerGas: BigInt(last.maxFeePerGas), maxPriorityFeePerGas: BigInt(last.maxPriorityFeePerGas) };
    const fees = bumpedFees(prev, head.baseFeePerGas ?? 0n, await suggestedTip(), o);
    if (fees === undefined) {
      log.warn({ key: r.key, nonce: r.nonce, maxFeePerGas: last.maxFeePerGas, cap: o.maxFeePerGasCap.toString() }, 'stuck transaction at the fee cap: not bumping');
      if (!(await rpc.hasTransaction(last.hash))) await broadcast(r, last);
      return;
    }
    const a = await sign(r, r.nonce!, fees, head.number);
    const rec: SubmissionRecord = { ...r, attempts: [...r.attempts, a], updatedAt: now() };
    await store.commit([store.putRecord(rec)]);
    records.set(rec.key, rec);
    mBumps?.inc();
    log.info({ key: r.key, nonce: r.nonce, hash: a.hash, maxFeePerGas: a.maxFeePerGas, maxPriorityFeePerGas: a.maxPriorityFeePerGas }, 'bumped fees of a stuck transaction');
    await broadcast(rec, a);
  }

  async function checkRecord(r: SubmissionRecord, head: BlockHeader, latestNonce: number): Promise<void> {
    for (const a of [...r.attempts].reverse()) {
      const rc = await rpc.getTransactionReceipt(a.hash);
      if (rc === undefined) continue;
      if (head.number - rc.blockNumber + 1 >= o.confirmations) await finalize(r, a, rc);
      return; // mined, maybe not deep enough yet: nothing to send
    }
    const last = r.attempts[r.attempts.length - 1]!;
    if (r.nonce! < latestNonce) {
      // Mined without a receipt we can see: ours on a lagging endpoint, or another transaction.
      // Any version of ours the node knows means "wait": re-signing then could pay twice.
      for (const a of r.attempts) if (await rpc.hasTransaction(a.hash)) return;
      const seen = (consumedSeen.get(r.key) ?? 0) + 1;
      consumedSeen.set(r.key, seen);
      if (seen >= o.consumedNonceChecks) await reassign(r, head);
      return;
    }
    consumedSeen.delete(r.key);
    // A version the node does not know (never reached it, dropped, another endpoint) is sent
    // again; fees are bumped only for one that is really waiting, or that a pricier
    // transaction with the same nonce keeps out.
    if (!(await rpc.hasTransaction(last.hash))) {
      const result = await broadcast(r, last);
      if (result !== 'underpriced') return;
    }
    if (head.number - last.sentAtBlock >= o.stuckBlocks) await bump(r, head);
  }

  /** Nonces below `next` that no pending submission holds would block every later one: fill them. */
  async function fillGaps(head: BlockHeader, latestNonce: number): Promise<void> {
    const held = new Set<number>();
    for (const r of records.values()) if (r.nonce !== undefined) held.add(r.nonce);
    let filled = 0;
    for (let n = latestNonce; n < next && filled < o.maxGapFillsPerPoll; n++) {
      if (held.has(n)) continue;
      const fees = initialFees(head.baseFeePerGas ?? 0n, await suggestedTip(), o);
      const rec: SubmissionRecord = {
        key: `${FILLER_PREFIX}${n}`, to: address, data: '0x', value: '0', gasLimit: '21000', state: 'pending', nonce: n,
        attempts: [], replacedNonces: [], createdAt: now(), updatedAt: now(),
      };
      const a = await sign(rec, n, fees, head.number);
      rec.attempts = [a];
      await store.commit([store.putRecord(rec), store.putNonceOwner(n, rec.key)]);
      records.set(rec.key, rec);
      filled++;
      mResyncs?.inc({ reason: 'gap_filled' });
      log.warn({ nonce: n, hash: a.hash }, 'nonce gap: sending a self-transfer to fill it');
      await broadcast(rec, a);
    }
  }

  async function pollLocked(): Promise<void> {
    await ensureLoaded();
    const pend = [...records.values()].filter((r) => r.state === 'pending').sort((a, b) => a.nonce! - b.nonce!);
    const head = await latestHead();
    const latestNonce = await rpc.getTransactionCount(address, 'latest');
    if (pend.length === 0 && latestNonce >= next) return;
    for (const r of pend) {
      try {
        await checkRecord(r, head, latestNonce);
      } catch (err) {
        log.warn({ key: r.key, err: (err as Error).message?.slice(0, 300) }, 'checking a submission failed; will retry');
      }
    }
    await fillGaps(head, latestNonce);
    setPendingGauge();
  }

  function handle(key: string): SubmissionHandle {
    const get = (): SubmissionRecord => structuredClone(records.get(key)!);
    const settle = (r: SubmissionRecord): SubmissionRecord | BridgeError | undefined => {
      if (r.state === 'confirmed' || r.state === 'skipped') return r;
      if (r.state === 'reverted') return new BridgeError({ code: 'ETH_TX_REVERTED', message: r.error?.message, key, hash: r.receipt?.hash, errorName: r.error?.errorName, errorArgs: r.error?.errorArgs });
      return undefined;
    };
    return {
      key,
      record: get,
      wait: async ({ timeoutMs = 120_000 } = {}) => {
        const deadline = Date.now() + timeoutMs;
        for (let i = 0; i < 1_000_000; i++) {
          const s = settle(get());
          if (s instanceof BridgeError) throw s;
          if (s !== undefined) return s;
          const left = deadline - Date.now();
          if (left <= 0) break;
          // Woken by finalize/skip; the timeout bounds the wait even if no poll runs.
          await new Promise<void>((res) => {
            const t = setTimeout(done, Math.min(left, 1_000));
            function done(): void { clearTimeout(t); waiters.get(key)?.delete(done); res(); }
            let set = waiters.get(key);
            if (set === undefined) waiters.set(key, (set = new Set()));
            set.add(done);
          });
        }
        throw new BridgeError({ code: 'ETH_TX_WAIT_TIMEOUT', key, timeoutMs, state: get().state, nonce: get().nonce });
      },
    };
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      current = locked(pollLocked)
        .catch((err: unknown) => { log.warn({ err: (err as Error).message?.slice(0, 300) }, 'sender poll failed; will retry'); })
        .finally(() => { current = undefined; schedule(); });
    }, o.pollIntervalMs);
  }

  return {
    address,
    start: async () => {
      if (running) return;
      await locked(ensureLoaded);
      running = true;
      schedule();
    },
    stop: async () => {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      await current;
      await locked(async () => undefined);
      await sleep(0);
    },
    submit: (req) => locked(() => submitLocked(req)),
    pending: () => [...records.values()].filter((r) => r.state === 'pending').sort((a, b) => a.nonce! - b.nonce!).map((r) => structuredClone(r)),
    get: (key) => { const r = records.get(key); return r === undefined ? undefined : structuredClone(r); },
    poll: () => locked(pollLocked),
    prune: ({ olderThanMs }) => locked(async () => {
      await ensureLoaded();
      const cutoff = Date.now() - olderThanMs;
      const old = [...records.values()].filter((r) => r.state !== 'pending' && Date.parse(r.updatedAt) < cutoff);
      const ops: BatchOp[] = [];
      for (const r of old) {
        ops.push(store.delRecord(r.key));
        for (const n of [...r.replacedNonces, ...(r.nonce === undefined ? [] : [r.nonce])]) ops.push(store.delNonceOwner(n));
      }
      await store.commit(ops);
      for (const r of old) records.delete(r.key);
      if (old.length > 0) log.info({ pruned: old.length }, 'pruned final submissions');
      return old.length;
    }),
  };
}

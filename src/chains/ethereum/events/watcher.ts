/**
 * Follows the logs of given contracts at k confirmations by polling `eth_getLogs` over bounded
 * block ranges, resumable from a cursor in the database.
 *
 * Delivery: the handler receives each batch (events of one block range, in (block, logIndex)
 * order, or a reorg notice) and returns database writes; the watcher commits them together with
 * the advanced cursor in one atomic batch. So the handler's effects happen exactly once per
 * (blockHash, logIndex) across restarts and crashes, provided the handler has no other side
 * effects (if it throws, nothing is committed and the same batch comes again).
 *
 * Reorgs: before each read the cursor block's hash is compared with the chain. On a mismatch the
 * watcher walks its anchors down to the newest block still canonical (the fork point), tells the
 * handler which already-delivered blocks were removed, and reads again from the fork point. A
 * reorg below the oldest anchor halts the watcher (health false) for an operator to decide.
 */
import { Interface, type InterfaceAbi, type Result } from 'ethers';
import { BridgeError, isBridgeError } from '../../../errors.js';
import type { Health, HealthStatus } from '../../../node/health.js';
import type { NodeDb } from '../../../node/db/database.js';
import type { Logger } from '../../../node/logger.js';
import type { MetricsFactory } from '../../../node/metrics.js';
import type { EthRpc } from '../rpc/client.js';
import type { BlockRef, RpcLog } from '../rpc/types.js';
import { CursorStore, pruneAnchors, type WatcherBatchOp, type WatcherCursor } from './cursor.js';

export interface EventWatcherOptions {
  /** Names the cursor (`eth-events:<name>`) and the metrics label. */
  name: string;
  addresses: string[];
  /** eth_getLogs topic filter, e.g. `[[topicA, topicB]]` for either event. */
  topics?: Array<string | string[] | null>;
  /** Decodes events; logs it does not know are delivered undecoded. */
  abi?: Interface | InterfaceAbi;
  /** A block is read once it has this many confirmations (1 = the head block itself). */
  confirmations: number;
  /** First block to read when there is no cursor yet. */
  startBlock: number;
  /** Blocks per eth_getLogs request. */
  maxBlockRange: number;
  pollIntervalMs: number;
  /** Anchors kept this many blocks below the cursor; a deeper reorg halts the watcher. */
  reorgWindow: number;
}

export const DEFAULT_EVENT_WATCHER_OPTIONS: Omit<EventWatcherOptions, 'name' | 'addresses'> = {
  confirmations: 12,
  startBlock: 0,
  maxBlockRange: 1_000,
  pollIntervalMs: 1_000,
  reorgWindow: 256,
};

export interface WatchedEvent {
  address: string;
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  transactionHash: string;
  transactionIndex: number;
  topics: string[];
  data: string;
  /** Decoded name, args and signature, when the ABI knows the event. */
  name: string | undefined;
  signature: string | undefined;
  args: Result | undefined;
}

export type WatcherBatch =
  | { kind: 'events'; fromBlock: number; toBlock: BlockRef; events: WatchedEvent[] }
  /** Blocks delivered before that are no longer canonical (by hash), newest last; reading resumes after `forkPoint`. */
  | { kind: 'reorg'; forkPoint: BlockRef | undefined; removed: BlockRef[] };

export type WatcherHandler = (batch: WatcherBatch) => Promise<WatcherBatchOp[] | void>;

export interface EventWatcher {
  /** Reads what is available now; resolves true when the cursor moved (call again for more). */
  poll(): Promise<boolean>;
  start(): Promise<void>;
  stop(): Promise<void>;
  cursor(): Promise<WatcherCursor>;
  health(): HealthStatus;
  registerHealth(health: Health): void;
}

export interface CreateEventWatcherArgs {
  rpc: EthRpc;
  db: NodeDb;
  log: Logger;
  metrics?: MetricsFactory;
  options: Partial<EventWatcherOptions> & Pick<EventWatcherOptions, 'name' | 'addresses'>;
  onBatch: WatcherHandler;
}

export function createEventWatcher(args: CreateEventWatcherArgs): EventWatcher {
  const o: EventWatcherOptions = { ...DEFAULT_EVENT_WATCHER_OPTIONS, ...args.options };
  if (o.confirmations < 1 || o.maxBlockRange < 1 || o.reorgWindow < o.confirmations) {
    throw new BridgeError({ code: 'ETH_WATCHER_BAD_OPTIONS', confirmations: o.confirmations, maxBlockRange: o.maxBlockRange, reorgWindow: o.reorgWindow });
  }
  const { rpc } = args;
  const log = args.log.child({ module: 'eth-watcher', watcher: o.name });
  const store = new CursorStore(args.db, o.name);
  const iface = o.abi === undefined ? undefined : o.abi instanceof Interface ? o.abi : new Interface(o.abi);
  const addresses = o.addresses.map((a) => a.toLowerCase());
  const m = args.metrics;
  const mEvents = m?.counter('eth_events_total', 'Ethereum events delivered by watcher and event name', ['watcher', 'event']);
  const mReorgs = m?.counter('eth_watcher_reorgs_total', 'Reorgs that removed delivered blocks', ['watcher']);
  const mBlock = m?.gauge('eth_watcher_block', 'Last block read by the watcher', ['watcher']);
  const mLag = m?.gauge('eth_watcher_lag_blocks', 'Blocks between the chain head and the watcher cursor', ['watcher']);
  let state: WatcherCursor | undefined;
  let lastError: string | undefined;
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> | undefined;
  let busy: Promise<boolean> | undefined;
  // Providers cap eth_getLogs (result count or block span): halve on refusal, grow back after.
  let range = o.maxBlockRange;

  async function load(): Promise<WatcherCursor> {
    state ??= (await store.load()) ?? { next: o.startBlock, anchors: [] };
    return state;
  }

  async function hashAt(n: number): Promise<string | undefined> {
    return (await rpc.getBlock(n))?.hash;
  }

  function decode(l: RpcLog): WatchedEvent {
    let name: string | undefined;
    let signature: string | undefined;
    let args: Result | undefined;
    if (iface !== undefined) {
      try {
        const d = iface.parseLog({ topics: l.topics, data: l.data });
        if (d !== null) ({ name, signature, args } = d);
      } catch {
        // Known topic, undecodable data (another contract's event with the same signature hash).
      }
    }
    return { address: l.address, blockNumber: l.blockNumber, blockHash: l.blockHash, logIndex: l.logIndex, transactionHash: l.transactionHash, transactionIndex: l.transactionIndex, topics: l.topics, data: l.data, name, signature, args };
  }

  async function commit(next: WatcherCursor, ops: WatcherBatchOp[] | void): Promise<void> {
    await store.commit([...(ops ?? []), store.put(next)]);
    state = next;
    mBlock?.set({ watcher: o.name }, next.next - 1);
  }

  async function handleReorg(c: WatcherCursor): Promise<boolean> {
    const removed: BlockRef[] = [];
    let fork: BlockRef | undefined;
    let keep = 0;
    for (let i = c.anchors.length - 1; i >= 0; i--) {
      const a = c.anchors[i]!;
      if ((await hashAt(a.number)) === a.hash) { fork = a; keep = i + 1; break; }
      removed.unshift(a);
    }
    if (fork === undefined && c.anchors.length > 0 && c.anchors[0]!.number >= o.startBlock) {
      // Even the oldest anchor is gone and it is not the start: too deep to repair safely.
      const reason = `reorg below the oldest anchor (block ${c.anchors[0]!.number})`;
      log.error({ anchors: c.anchors.length }, `ethereum watcher halted: ${reason}`);
      await commit({ ...c, halted: { reason, at: new Date().toISOString() } });
      return false;
    }
    const next: WatcherCursor = { next: fork === undefined ? o.startBlock : fork.number + 1, anchors: c.anchors.slice(0, keep) };
    log.warn({ forkPoint: fork, removed: removed.length }, 'ethereum reorg below the confirmation depth: re-reading');
    mReorgs?.inc({ watcher: o.name });
    await commit(next, await args.onBatch({ kind: 'reorg', forkPoint: fork, removed }));
    return true;
  }

  async function pollOnce(): Promise<boolean> {
    const c = await load();
    if (c.halted !== undefined) return false;
    const head = await rpc.blockNumber();
    const safe = head - o.confirmations + 1;
    mLag?.set({ watcher: o.name }, Math.max(0, head - (c.next - 1)));
    const tip = c.anchors[c.anchors.length - 1];
    if (tip !== undefined && (await hashAt(tip.number)) !== tip.hash) return handleReorg(c);
    if (tip === undefined && c.next > 0 && safe >= c.next - 1) {
      // First run from a later start block: anchor its parent so a reorg there is seen too.
      const h = await hashAt(c.next - 1);
      if (h === undefined) return false;
      await commit({ ...c, anchors: [{ number: c.next - 1, hash: h }] });
      return true;
    }
    if (safe < c.next) return false;
    const to = Math.min(safe, c.next + range - 1);
    const h1 = await hashAt(to);
    let logs: RpcLog[];
    try {
      logs = await rpc.getLogs({ fromBlock: c.next, toBlock: to, address: addresses, ...(o.topics ? { topics: o.topics } : {}) });
    } catch (err) {
      if (isBridgeError(err) || range === 1) throw err;
      range = Math.max(1, Math.floor((to - c.next + 1) / 2));
      log.info({ from: c.next, to, range, err: (err as Error).message?.slice(0, 200) }, 'eth_getLogs refused: smaller ranges');
      return true;
    }
    range = Math.min(o.maxBlockRange, range * 2);
    const h2 = await hashAt(to);
    const tipNow = tip === undefined ? undefined : await hashAt(tip.number);
    // The range must be one consistent chain during the read, linked to the cursor block.
    if (h1 === undefined || h1 !== h2 || tipNow !== tip?.hash) return false;
    const blockHashes = new Map<number, string>();
    for (const l of logs) {
      const seen = blockHashes.get(l.blockNumber);
      if (l.removed || l.blockNumber < c.next || l.blockNumber > to || (seen !== undefined && seen !== l.blockHash) || (l.blockNumber === to && l.blockHash !== h2)) {
        log.debug({ block: l.blockNumber }, 'inconsistent logs in range: retrying');
        return false;
      }
      blockHashes.set(l.blockNumber, l.blockHash);
    }
    const events = logs.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex).map(decode);
    const toRef: BlockRef = { number: to, hash: h2 };
    const anchors = pruneAnchors([...c.anchors, ...[...blockHashes].map(([number, hash]) => ({ number, hash })), toRef], to - o.reorgWindow);
    const ops = events.length > 0 ? await args.onBatch({ kind: 'events', fromBlock: c.next, toBlock: toRef, events }) : undefined;
    await commit({ next: to + 1, anchors }, ops);
    for (const e of events) mEvents?.inc({ watcher: o.name, event: e.name ?? 'unknown' });
    return true;
  }

  async function poll(): Promise<boolean> {
    // One poll at a time: the loop and explicit callers share the cursor.
    while (busy !== undefined) await busy.catch(() => undefined);
    busy = pollOnce();
    try {
      const moved = await busy;
      lastError = undefined;
      return moved;
    } catch (err) {
      lastError = (err as Error).message?.slice(0, 300);
      throw err;
    } finally {
      busy = undefined;
    }
  }

  function schedule(delay: number): void {
    if (!running) return;
    timer = setTimeout(() => {
      current = poll()
        .then((moved) => schedule(moved ? 0 : o.pollIntervalMs))
        .catch((err: unknown) => { log.warn({ err: (err as Error).message?.slice(0, 300) }, 'ethereum watcher poll failed; will retry'); schedule(o.pollIntervalMs); });
    }, delay);
  }

  const watcher: EventWatcher = {
    poll,
    start: async () => {
      if (running) return;
      await load();
      running = true;
      schedule(0);
    },
    stop: async () => {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      await current;
      await busy?.catch(() => undefined);
    },
    cursor: async () => structuredClone(await load()),
    health: () => {
      if (state?.halted !== undefined) return { ok: false, detail: `ethereum watcher ${o.name} halted: ${state.halted.reason}` };
      if (lastError !== undefined) return { ok: false, detail: `ethereum watcher ${o.name}: ${lastError}` };
      return { ok: true, detail: `ethereum watcher ${o.name} at block ${(state?.next ?? o.startBlock) - 1}` };
    },
    registerHealth: (health) => health.register(`ethereum-watcher:${o.name}`, () => watcher.health()),
  };
  return watcher;
}

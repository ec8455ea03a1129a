import { EventEmitter } from 'node:events';
import { Block, type Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';
import type { Logger } from '../../node/logger.js';
import type { MetricsFactory } from '../../node/metrics.js';
import type { BitcoinRpcClient } from './rpc.js';
import type { WatcherState, WatcherStore } from './watcher-store.js';

/**
 * The RPC calls the watcher needs (a BitcoinRpcClient, or a fake). With `getTip` (or
 * `getBestBlockHash`) an idle poll costs one call: nothing is read again while the best block
 * hash is unchanged. With `getTip` and `getBlockHashes` (JSON-RPC batches) a new block costs
 * three round trips (tip, hashes, block) instead of one per call.
 */
export type WatcherRpc = Pick<BitcoinRpcClient, 'getBlockCount' | 'getBlockHash' | 'getBlockHex'> &
  Partial<Pick<BitcoinRpcClient, 'getBestBlockHash' | 'getTip' | 'getBlockHashes'>>;

export interface BtcWatcherOptions {
  rpc: WatcherRpc;
  store: WatcherStore;
  /** A block is emitted once it has this many confirmations (1 = it is the tip). */
  confirmations: number;
  /** First height to emit when the store is empty. */
  startHeight: number;
  /** Emitted hashes kept for reorg checks. */
  retainEmitted?: number;
  /** Blocks emitted per poll at most, so a long catch-up yields to the event loop. */
  maxBlocksPerPoll?: number;
  pollIntervalMs?: number;
  logger?: Logger;
  metrics?: MetricsFactory;
}

export const DEFAULT_WATCHER_OPTIONS = { retainEmitted: 144, maxBlocksPerPoll: 50, pollIntervalMs: 1_000 } as const;

export interface EmittedBlock {
  readonly height: number;
  readonly hash: string;
  readonly prevHash: string;
  /** Header timestamp (unix seconds); derivation needs it for BIP-113 median-time-past (src/consensus/mtp.ts). */
  readonly timestamp: number;
  readonly transactions: readonly Transaction[];
}

export interface BtcWatcherEvents {
  /** A block reached k confirmations, in height order, each exactly once. */
  block: [EmittedBlock];
  /** A not-yet-emitted height changed hash: anything derived from the old block must be re-derived. */
  reorg: [{ height: number; oldHash: string; newHash: string }];
  /** A reorg reached an emitted block: the watcher stopped and stays stopped until an operator clears it. */
  halt: [BridgeError];
}

/**
 * Follows the Bitcoin chain through JSON-RPC and emits blocks at k
 * confirmations. Reorgs are detected by block hash: below the emitted
 * cursor they halt (DESIGN §2 "Reorgs"), above it they are followed.
 */
export class BtcWatcher extends EventEmitter<BtcWatcherEvents> {
  readonly #o: Required<Omit<BtcWatcherOptions, 'logger' | 'metrics'>> & Pick<BtcWatcherOptions, 'logger'>;
  #state: WatcherState | undefined;
  /** Hashes seen at heights not yet emitted. */
  readonly #pending = new Map<number, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Best block hash after the last poll that left nothing to emit. */
  #settledBest: string | undefined;
  #tip: number | undefined;
  readonly #emittedCounter;
  readonly #reorgCounter;

  constructor(opts: BtcWatcherOptions) {
    super();
    if (!Number.isInteger(opts.confirmations) || opts.confirmations < 1) {
      throw new BridgeError({ code: 'BTC_WATCHER_BAD_CONFIRMATIONS', confirmations: opts.confirmations });
    }
    this.#o = { ...DEFAULT_WATCHER_OPTIONS, ...opts };
    this.#emittedCounter = opts.metrics?.counter('fednode_btc_blocks_emitted_total', 'Bitcoin blocks emitted at k confirmations');
    this.#reorgCounter = opts.metrics?.counter('fednode_btc_reorgs_total', 'Bitcoin reorgs seen above the emitted cursor');
  }

  /** The current state (after the first poll). */
  get state(): WatcherState | undefined {
    return this.#state;
  }

  /** The chain tip seen by the last poll. */
  get tip(): number | undefined {
    return this.#tip;
  }

  /**
   * One round: check the emitted tip still stands, notice pending reorgs,
   * emit newly confirmed blocks. Throws the halt error once halted.
   */
  async poll(): Promise<void> {
    const state = await this.#load();
    if (state.halted) throw haltError(state.halted);
    const rpc = this.#o.rpc;
    let best: string | undefined;
    let tip: number;
    if (rpc.getTip !== undefined) {
      const t = await rpc.getTip();
      if (t.hash === this.#settledBest) return;
      best = t.hash;
      tip = t.height;
    } else {
      best = rpc.getBestBlockHash === undefined ? undefined : await rpc.getBestBlockHash();
      if (best !== undefined && best === this.#settledBest) return;
      tip = await rpc.getBlockCount();
    }
    this.#tip = tip;
    const last = state.emitted[state.emitted.length - 1];
    // The emitted tip (reorg check) and every height not yet emitted, at most one batch.
    const heights: number[] = [];
    if (last !== undefined && tip >= last.height) heights.push(last.height);
    const scanTo = Math.min(tip, state.nextHeight + this.#o.maxBlocksPerPoll + this.#o.confirmations);
    for (let h = state.nextHeight; h <= scanTo; h++) heights.push(h);
    const hashes = rpc.getBlockHashes !== undefined ? await rpc.getBlockHashes(heights) : await Promise.all(heights.map((h) => rpc.getBlockHash(h)));
    const hashAt = new Map(heights.map((h, i) => [h, hashes[i]!]));
    if (last !== undefined) {
      const now = hashAt.get(last.height) ?? '(chain shorter)';
      if (now !== last.hash) return this.#halt(state, { height: last.height, expectedHash: last.hash, actualHash: now });
    }
    const seen = new Map<number, string>();
    for (let h = state.nextHeight; h <= scanTo; h++) {
      const hash = hashAt.get(h)!;
      seen.set(h, hash);
      const old = this.#pending.get(h);
      if (old !== undefined && old !== hash) {
        this.#reorgCounter?.inc();
        this.#o.logger?.warn({ height: h, oldHash: old, newHash: hash }, 'bitcoin reorg above the emitted cursor');
        this.emit('reorg', { height: h, oldHash: old, newHash: hash });
      }
      this.#pending.set(h, hash);
    }
    for (const h of [...this.#pending.keys()]) if (h > tip || h < state.nextHeight) this.#pending.delete(h);

    let emittedNow = 0;
    let cur = state;
    while (tip - cur.nextHeight + 1 >= this.#o.confirmations && emittedNow < this.#o.maxBlocksPerPoll) {
      const height = cur.nextHeight;
      // Read in this poll above; a change since then is caught by the prevHash check of the next block or the next poll.
      const hash = seen.get(height) ?? (await this.#o.rpc.getBlockHash(height));
      const block = Block.fromHex(await this.#o.rpc.getBlockHex(hash));
      if (block.getId() !== hash) throw new BridgeError({ code: 'BTC_WATCHER_BLOCK_HASH_MISMATCH', height, hash, got: block.getId() });
      const prevHash = Buffer.from(block.prevHash!).reverse().toString('hex');
      const prev = cur.emitted[cur.emitted.length - 1];
      if (prev !== undefined && prev.hash !== prevHash) {
        // The chain moved under us between calls: the block we emitted last is no longer its parent.
        return this.#halt(cur, { height: prev.height, expectedHash: prev.hash, actualHash: prevHash });
      }
      const emitted = [...cur.emitted, { height, hash }].slice(-this.#o.retainEmitted);
      cur = { nextHeight: height + 1, emitted };
      // Persist before emitting: a crash after this re-emits nothing twice, a crash before re-emits this block.
      await this.#o.store.save(cur);
      this.#state = cur;
      this.#pending.delete(height);
      this.#emittedCounter?.inc();
      this.emit('block', { height, hash, prevHash, timestamp: block.timestamp, transactions: block.transactions ?? [] });
      emittedNow++;
    }
    // Nothing left to emit at this tip: until the best block changes, a poll has nothing to do.
    this.#settledBest = tip - cur.nextHeight + 1 < this.#o.confirmations ? best : undefined;
  }

  /** Polls every `pollIntervalMs` until stopped or halted. */
  start(): void {
    if (this.#timer !== undefined) return;
    const tick = (): void => {
      this.#running = this.poll()
        .then(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.pollIntervalMs);
        })
        .catch((e: unknown) => {
          if (this.#state?.halted) {
            this.#timer = undefined;
            return;
          }
          this.#o.logger?.error({ err: e }, 'bitcoin watcher poll failed');
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.pollIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #load(): Promise<WatcherState> {
    if (this.#state === undefined) {
      this.#state = (await this.#o.store.load()) ?? { nextHeight: this.#o.startHeight, emitted: [] };
    }
    return this.#state;
  }

  async #halt(state: WatcherState, halted: NonNullable<WatcherState['halted']>): Promise<never> {
    const next = { ...state, halted };
    await this.#o.store.save(next);
    this.#state = next;
    const err = haltError(halted);
    this.#o.logger?.error({ ...halted }, 'bitcoin reorg reached an emitted block: halting');
    this.emit('halt', err);
    throw err;
  }
}

function haltError(h: NonNullable<WatcherState['halted']>): BridgeError {
  return new BridgeError({ code: 'BTC_REORG_REACHED_EMITTED_BLOCK', ...h });
}

import { BridgeError } from '../../errors.js';

/** Where the Bitcoin watcher keeps its cursor; the node persists it in its database. */
export interface WatcherState {
  /** Next height to emit. */
  readonly nextHeight: number;
  /** Hashes of the most recently emitted blocks, ascending by height, the last one at nextHeight − 1. */
  readonly emitted: readonly { readonly height: number; readonly hash: string }[];
  /** Set when a reorg reached an emitted block; cleared only by an operator (governance step). */
  readonly halted?: { readonly height: number; readonly expectedHash: string; readonly actualHash: string };
}

export interface WatcherStore {
  load(): Promise<WatcherState | undefined>;
  save(state: WatcherState): Promise<void>;
}

/** In-memory store for tests and tools. */
export class MemoryWatcherStore implements WatcherStore {
  #state: WatcherState | undefined;

  constructor(initial?: WatcherState) {
    this.#state = initial;
  }

  async load(): Promise<WatcherState | undefined> {
    return this.#state;
  }

  async save(state: WatcherState): Promise<void> {
    this.#state = structuredClone(state);
  }
}

/**
 * The operator's recovery step after a halt (DESIGN §2: governance-approved,
 * never automatic): forget the emitted hashes and resume at `nextHeight`.
 * Refuses to act on a store that is not halted.
 */
export async function clearWatcherHalt(store: WatcherStore, nextHeight: number): Promise<WatcherState> {
  const state = await store.load();
  if (state?.halted === undefined) throw new BridgeError({ code: 'BTC_WATCHER_NOT_HALTED' });
  const next: WatcherState = { nextHeight, emitted: [] };
  await store.save(next);
  return next;
}

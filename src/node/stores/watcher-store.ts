import type { WatcherState, WatcherStore } from '../../chains/bitcoin/watcher-store.js';
import type { NodeDb } from '../db/database.js';

/**
 * The Bitcoin watcher's cursor in the node database (`watcher` sublevel),
 * so a restart resumes at the next unemitted height and a halt survives
 * restarts until the operator clears it.
 */
export class LevelWatcherStore implements WatcherStore {
  readonly #sub;

  constructor(db: NodeDb, readonly key = 'btc') {
    this.#sub = db.sublevel<string, WatcherState>('watcher', { valueEncoding: 'json' });
  }

  async load(): Promise<WatcherState | undefined> {
    return this.#sub.get(this.key);
  }

  async save(state: WatcherState): Promise<void> {
    // One key: a single put is atomic in LevelDB.
    await this.#sub.put(this.key, state);
  }

  /** The same write as a batch op, to commit the cursor atomically with other state (the validator's derivation). */
  saveOps(state: WatcherState): Array<{ type: 'put'; sublevel: ReturnType<NodeDb['sublevel']>; key: string; value: unknown }> {
    return [{ type: 'put', sublevel: this.#sub as unknown as ReturnType<NodeDb['sublevel']>, key: this.key, value: state }];
  }
}

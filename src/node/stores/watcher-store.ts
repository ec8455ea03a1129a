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
}

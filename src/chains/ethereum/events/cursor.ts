/**
 * The watcher's persisted position, one key in the sublevel `eth-events:<name>`:
 *
 *   `cursor` → { next, anchors, halted? }
 *
 * `anchors` are (number, hash) of blocks already read, ascending: every block that produced an
 * event, the last block of every range read (the newest anchor is the cursor block), and one
 * older anchor below the reorg window. Since a block hash commits to all its ancestors, the
 * newest anchor still on the canonical chain is a fork point below which nothing changed.
 */
import type { NodeDb } from '../../../node/db/database.js';
import type { BlockRef } from '../rpc/types.js';

export interface WatcherCursor {
  /** Next block number to read. */
  next: number;
  anchors: BlockRef[];
  /** Set when a reorg went below the oldest anchor: needs an operator (delete the cursor to re-scan). */
  halted?: { reason: string; at: string };
}

type Sub = ReturnType<NodeDb['sublevel']>;
export type WatcherBatchOp = { type: 'put'; sublevel: Sub; key: string; value: unknown } | { type: 'del'; sublevel: Sub; key: string };

export class CursorStore {
  readonly #db: NodeDb;
  readonly #sub: Sub;

  constructor(db: NodeDb, name: string) {
    this.#db = db;
    this.#sub = db.sublevel<string, unknown>(`eth-events:${name}`, { valueEncoding: 'json' }) as unknown as Sub;
  }

  async load(): Promise<WatcherCursor | undefined> {
    return (await this.#sub.get('cursor')) as WatcherCursor | undefined;
  }

  put(c: WatcherCursor): WatcherBatchOp {
    return { type: 'put', sublevel: this.#sub, key: 'cursor', value: c };
  }

  /** The handler's writes and the new cursor in one atomic batch: effects happen exactly once. */
  async commit(ops: WatcherBatchOp[]): Promise<void> {
    // Sublevel ops are valid batch entries; level's overloads do not type them for a NodeDb.
    await this.#db.batch(ops as never);
  }
}

/** Keeps anchors above `keepAbove` plus the newest one at or below it (the deep anchor). */
export function pruneAnchors(anchors: BlockRef[], keepAbove: number): BlockRef[] {
  const byNumber = new Map<number, BlockRef>();
  for (const a of anchors) byNumber.set(a.number, a);
  const sorted = [...byNumber.values()].sort((a, b) => a.number - b.number);
  const deep = sorted.filter((a) => a.number <= keepAbove).pop();
  const recent = sorted.filter((a) => a.number > keepAbove);
  return deep === undefined ? recent : [deep, ...recent];
}

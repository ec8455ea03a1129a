/**
 * Open duties the keeper still watches, persisted so a restart (whose event cursor has moved past
 * the `BlockAccepted` / `BatchApproved` that created them) does not forget them.
 *
 *   accountability-duties   key: `block:<20-digit height>` | `batch:<20-digit id>`   value: {kind, id}
 */
import type { NodeDb } from '../../db/database.js';
import type { DutyKind } from './rules.js';

type Sub = ReturnType<NodeDb['sublevel']>;
export type DutyOp = { type: 'put'; sublevel: Sub; key: string; value: unknown } | { type: 'del'; sublevel: Sub; key: string };

export interface DutyRef {
  kind: DutyKind;
  id: bigint;
}

export const dutyKey = (d: DutyRef): string => `${d.kind}:${d.id.toString().padStart(20, '0')}`;

export class DutyStore {
  readonly #db: NodeDb | undefined;
  readonly #sub: Sub | undefined;

  constructor(db: NodeDb | undefined) {
    this.#db = db;
    this.#sub = db === undefined ? undefined : (db.sublevel<string, unknown>('accountability-duties', { valueEncoding: 'json' }) as unknown as Sub);
  }

  get persistent(): boolean {
    return this.#sub !== undefined;
  }

  put(d: DutyRef): DutyOp[] {
    return this.#sub === undefined ? [] : [{ type: 'put', sublevel: this.#sub, key: dutyKey(d), value: { kind: d.kind, id: d.id.toString() } }];
  }

  del(d: DutyRef): DutyOp[] {
    return this.#sub === undefined ? [] : [{ type: 'del', sublevel: this.#sub, key: dutyKey(d) }];
  }

  async commit(ops: DutyOp[]): Promise<void> {
    if (this.#db === undefined || ops.length === 0) return;
    await this.#db.batch(ops);
  }

  async load(): Promise<DutyRef[]> {
    if (this.#sub === undefined) return [];
    const out: DutyRef[] = [];
    for await (const v of (this.#sub as unknown as { values(): AsyncIterable<{ kind: DutyRef['kind']; id: string }> }).values()) out.push({ kind: v.kind, id: BigInt(v.id) });
    return out;
  }
}

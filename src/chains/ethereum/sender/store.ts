/**
 * The sender's persistent state, in one sublevel per operator account
 * (`eth-sender:<address lowercase>`):
 *
 *   `next`            → the next nonce to assign (number)
 *   `sub:<key>`       → the {@link SubmissionRecord} of idempotency key `key`
 *   `nonce:<n, 12 digits>` → the key that owns nonce n
 *
 * Every change that touches more than one of these goes through one atomic batch, and a signed
 * transaction is written before it is broadcast, so after a crash the state on disk is always a
 * superset of what the network may have seen.
 */
import { BridgeError } from '../../../errors.js';
import type { NodeDb } from '../../../node/db/database.js';

export interface Attempt {
  hash: string;
  /** Signed raw transaction, rebroadcast after a restart or when a node forgets it. */
  raw: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  /** Chain head when this attempt was signed; the stuck clock starts here. */
  sentAtBlock: number;
}

export type SubmissionState = 'pending' | 'confirmed' | 'reverted' | 'skipped';

export interface SubmissionRecord {
  key: string;
  to: string;
  data: string;
  /** Wei, decimal string. */
  value: string;
  gasLimit: string;
  state: SubmissionState;
  nonce: number | undefined;
  /** Every signed version with this nonce, oldest first; at most one of them can be mined. */
  attempts: Attempt[];
  /** Nonces this key held before, lost to another transaction of the account (resync). */
  replacedNonces: number[];
  createdAt: string;
  updatedAt: string;
  receipt?: { hash: string; blockNumber: number; blockHash: string; gasUsed: string; status: number };
  error?: { code: string; message: string; errorName?: string; errorArgs?: unknown[] };
  /** Why a send was skipped (`alreadyDone`). */
  skipReason?: string;
}

type Sub = ReturnType<NodeDb['sublevel']>;
export type BatchOp = { type: 'put'; sublevel: Sub; key: string; value: unknown } | { type: 'del'; sublevel: Sub; key: string };

const NONCE_DIGITS = 12;
export const nonceKey = (n: number): string => `nonce:${n.toString().padStart(NONCE_DIGITS, '0')}`;
export const subKey = (key: string): string => `sub:${key}`;

export class SenderStore {
  readonly #db: NodeDb;
  readonly #sub: Sub;

  constructor(db: NodeDb, account: string) {
    this.#db = db;
    this.#sub = db.sublevel<string, unknown>(`eth-sender:${account.toLowerCase()}`, { valueEncoding: 'json' }) as unknown as Sub;
  }

  async load(): Promise<{ next: number | undefined; records: SubmissionRecord[] }> {
    const next = (await this.#sub.get('next')) as number | undefined;
    const records: SubmissionRecord[] = [];
    for await (const [, v] of this.#sub.iterator({ gte: 'sub:', lt: 'sub;' })) records.push(v as SubmissionRecord);
    return { next: typeof next === 'number' ? next : undefined, records };
  }

  putRecord(r: SubmissionRecord): BatchOp {
    return { type: 'put', sublevel: this.#sub, key: subKey(r.key), value: r };
  }

  delRecord(key: string): BatchOp {
    return { type: 'del', sublevel: this.#sub, key: subKey(key) };
  }

  putNext(n: number): BatchOp {
    return { type: 'put', sublevel: this.#sub, key: 'next', value: n };
  }

  putNonceOwner(n: number, key: string): BatchOp {
    return { type: 'put', sublevel: this.#sub, key: nonceKey(n), value: key };
  }

  delNonceOwner(n: number): BatchOp {
    return { type: 'del', sublevel: this.#sub, key: nonceKey(n) };
  }

  async commit(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      // Sublevel ops are valid batch entries; level's overloads do not type them for a NodeDb.
      await this.#db.batch(ops as never);
    } catch (err) {
      throw new BridgeError({ code: 'ETH_SENDER_DB_WRITE_FAILED', message: `sender database write failed: ${(err as Error).message}`, cause: err });
    }
  }
}

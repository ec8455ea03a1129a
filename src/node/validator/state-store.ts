import type { WatcherState, WatcherStore } from '../../chains/bitcoin/watcher-store.js';
import { derivationStateFromJson, derivationStateToJson, type DerivationState, type DerivationStateJson } from '../../consensus/derivation.js';
import type { TimestampWindow } from '../../consensus/mtp.js';
import type { NodeDb } from '../db/database.js';
import type { BtpStoreOp } from '../stores/btp-store.js';
import { LevelWatcherStore } from '../stores/watcher-store.js';

/**
 * The validator's own persistence (docs/VALIDATOR.md "Persistence"). Derived
 * heights are committed in one atomic batch: derivation state + timestamp
 * window + Bitcoin watcher cursor + the BTP block (+ its pending-collection
 * record). So after a crash the watcher re-emits exactly the first height
 * whose derivation was not committed.
 *
 *   validator        'derivation' → {state: DerivationStateJson, window: TimestampWindow}
 *                    'relayed'    → highest BTP height seen accepted on the home chain
 *   btp-pending      height (16 digits) → PendingRecord: our derived block awaiting relay
 *   btp-sigs         height:signer → {decisionHash, ntsHash, signature} collected signatures
 *   watcher          'btc' → WatcherState (shared with LevelWatcherStore / clearWatcherHalt)
 */

type Sub = ReturnType<NodeDb['sublevel']>;
export type Op = BtpStoreOp;

export interface PendingRecord {
  height: number;
  /** Hex (no 0x) of our decision hash, its RLP preimage, the NTS hash. */
  decisionHash: string;
  decision: string;
  networkTypeSectionHash: string;
  /** The set that signs this block, ProofContext order, hex. */
  validators: string[];
  btcBlockHash: string;
  /** Unix ms when the Bitcoin block reached k confirmations here (latency metric). */
  startedAt: number;
}

export interface StoredSignature {
  height: number;
  signer: string;
  decisionHash: string;
  networkTypeSectionHash: string | null;
  signature: string;
}

export interface PersistedDerivation {
  state: DerivationState;
  window: TimestampWindow | undefined;
}

const hkey = (h: number): string => String(h).padStart(16, '0');

export class ValidatorStateStore {
  readonly #db: NodeDb;
  readonly #meta: Sub;
  readonly #pending: Sub;
  readonly #sigs: Sub;
  readonly watcher: LevelWatcherStore;

  constructor(db: NodeDb) {
    this.#db = db;
    const sub = (name: string): Sub => db.sublevel<string, unknown>(name, { valueEncoding: 'json' }) as unknown as Sub;
    this.#meta = sub('validator');
    this.#pending = sub('btp-pending');
    this.#sigs = sub('btp-sigs');
    this.watcher = new LevelWatcherStore(db);
  }

  async loadDerivation(): Promise<PersistedDerivation | undefined> {
    const j = (await this.#meta.get('derivation')) as { state: DerivationStateJson; window: TimestampWindow | null } | undefined;
    return j === undefined ? undefined : { state: derivationStateFromJson(j.state), window: j.window ?? undefined };
  }

  derivationOps(state: DerivationState, window: TimestampWindow | undefined, cursor: WatcherState): Op[] {
    return [
      { type: 'put', sublevel: this.#meta, key: 'derivation', value: { state: derivationStateToJson(state), window: window ?? null } },
      ...this.watcher.saveOps(cursor),
    ];
  }

  pendingOps(p: PendingRecord): Op[] {
    return [{ type: 'put', sublevel: this.#pending, key: hkey(p.height), value: p }];
  }

  async pending(): Promise<PendingRecord[]> {
    const out: PendingRecord[] = [];
    for await (const [, v] of this.#pending.iterator()) out.push(v as PendingRecord);
    return out;
  }

  async saveSignature(s: StoredSignature): Promise<void> {
    await this.#sigs.put(`${hkey(s.height)}:${s.signer}`, s);
  }

  async signatures(height: number): Promise<StoredSignature[]> {
    const out: StoredSignature[] = [];
    for await (const [, v] of this.#sigs.iterator({ gte: `${hkey(height)}:`, lt: `${hkey(height)};` })) out.push(v as StoredSignature);
    return out;
  }

  async relayedHeight(): Promise<number> {
    return ((await this.#meta.get('relayed')) as number | undefined) ?? -1;
  }

  relayedOps(height: number): Op[] {
    return [{ type: 'put', sublevel: this.#meta, key: 'relayed', value: height }];
  }

  /** Forget pending records and signatures of heights ≤ `height` (relayed). */
  async prune(height: number): Promise<void> {
    const ops: Op[] = [];
    for await (const k of this.#pending.keys({ lte: hkey(height) })) ops.push({ type: 'del', sublevel: this.#pending, key: k as string });
    for await (const k of this.#sigs.keys({ lt: `${hkey(height)};` })) ops.push({ type: 'del', sublevel: this.#sigs, key: k as string });
    if (ops.length > 0) await this.commit(ops);
  }

  async commit(ops: readonly Op[]): Promise<void> {
    await this.#db.batch([...ops]);
  }
}

/**
 * The Bitcoin watcher's store in the validator: the cursor of a normal block is not written by
 * the watcher but committed by the validator together with that block's derivation
 * ({@link ValidatorStateStore.derivationOps}); a halt is written at once.
 */
export class DeferredWatcherStore implements WatcherStore {
  #latest: WatcherState | undefined;

  constructor(readonly inner: LevelWatcherStore) {}

  async load(): Promise<WatcherState | undefined> {
    return this.inner.load();
  }

  async save(state: WatcherState): Promise<void> {
    this.#latest = state;
    if (state.halted !== undefined) await this.inner.save(state);
  }

  /** The cursor the watcher reached with the block it just emitted. */
  get latest(): WatcherState | undefined {
    return this.#latest;
  }
}

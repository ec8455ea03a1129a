import { Transaction } from 'bitcoinjs-lib';
import { bytesToHex, hexToBytes } from '../../../chains/bitcoin/bytes.js';
import type { FederationUtxo } from '../../../chains/bitcoin/payout.js';
import type { FederationScript } from '../../../chains/bitcoin/scripts.js';
import type { FederationOutputKind } from '../../../chains/bitcoin/weight.js';
import type { NodeDb } from '../../db/database.js';
import { parseFederationScript } from './script-parse.js';
import type { BatchKind } from './types.js';

/**
 * Persistence of the payout pipeline (docs/PAYOUTS.md §5), one JSON record
 * per batch in its own sublevel (`payouts`, key = batch id, 20 digits):
 * every version this node re-derived (unsigned transaction, inputs with
 * their heights, its own r‖s‖v signatures), the versions it refused, and
 * what it knows of the batch's fate; key `~cursor`: the lowest batch id not
 * looked at yet (a fresh node starts at the batch in flight). A restart re-opens the unconfirmed
 * versions from here without re-reading or re-signing anything; the
 * sign-log (its own sublevels) still guards every signature.
 */

export type PayoutSublevel = ReturnType<NodeDb['sublevel']>;

export interface StoredUtxo {
  txid: string;
  vout: number;
  amountSats: string;
  height: number;
  epoch: number;
  kind: FederationOutputKind;
}

export interface StoredVersion {
  version: string;
  txid: string;
  /** Non-witness serialisation, hex. */
  unsignedTx: string;
  inputs: StoredUtxo[];
  /** This node's signatures: input index → 65-byte r‖s‖v hex. */
  ownSigs: { index: number; signature: string }[];
  signedAt: number;
}

export interface BatchRecord {
  batchId: string;
  kind: BatchKind;
  closedAtBlock: number;
  /** Witness script hex per epoch the batch touches. */
  scripts: Record<string, string>;
  versions: StoredVersion[];
  refused: { version: string; code: string; at: number }[];
  approvedVersion?: string;
  /** Txid last handed to Bitcoin, and when. */
  broadcast?: { txid: string; at: number };
  /** Own signatures recorded on chain for the approved version (by us or a submitter). */
  ownRecorded?: boolean;
  confirmed: boolean;
}

export interface OpenedVersion {
  readonly batchId: bigint;
  readonly version: bigint;
  readonly tx: Transaction;
  readonly txid: string;
  readonly inputs: readonly FederationUtxo[];
}

const idKey = (batchId: bigint): string => batchId.toString().padStart(20, '0');
const CURSOR_KEY = '~cursor';

export function openPayoutSublevel(db: NodeDb, name = 'payouts'): PayoutSublevel {
  return db.sublevel<string, unknown>(name, { valueEncoding: 'json' }) as unknown as PayoutSublevel;
}

export class PayoutStore {
  readonly #sub: PayoutSublevel;
  readonly #scriptCache = new Map<string, FederationScript>();

  constructor(sub: PayoutSublevel) {
    this.#sub = sub;
  }

  async get(batchId: bigint): Promise<BatchRecord | undefined> {
    return (await (this.#sub as unknown as { get(k: string): Promise<unknown> }).get(idKey(batchId))) as BatchRecord | undefined;
  }

  async put(r: BatchRecord): Promise<void> {
    await (this.#sub as unknown as { put(k: string, v: unknown): Promise<void> }).put(idKey(BigInt(r.batchId)), r);
  }

  /** Records not confirmed yet, by batch id. */
  async unfinished(): Promise<BatchRecord[]> {
    const out: BatchRecord[] = [];
    for await (const v of (this.#sub as unknown as { values(o: object): AsyncIterable<BatchRecord> }).values({ lt: CURSOR_KEY })) if (!v.confirmed) out.push(v);
    return out;
  }

  /** The lowest batch id not looked at yet (key `~cursor`, after every batch id). */
  async cursor(): Promise<bigint | undefined> {
    const v = (await (this.#sub as unknown as { get(k: string): Promise<unknown> }).get(CURSOR_KEY)) as string | undefined;
    return v === undefined ? undefined : BigInt(v);
  }

  async setCursor(next: bigint): Promise<void> {
    await (this.#sub as unknown as { put(k: string, v: unknown): Promise<void> }).put(CURSOR_KEY, next.toString());
  }

  /** Rebuilds a stored version's transaction and inputs (scripts re-parsed and checked). */
  opened(r: BatchRecord, v: StoredVersion): OpenedVersion {
    const inputs = v.inputs.map((u): FederationUtxo => ({
      txid: u.txid, vout: u.vout, amountSats: BigInt(u.amountSats), height: u.height, kind: u.kind, script: this.script(r, u.epoch),
    }));
    return { batchId: BigInt(r.batchId), version: BigInt(v.version), tx: Transaction.fromHex(v.unsignedTx), txid: v.txid, inputs };
  }

  script(r: BatchRecord, epoch: number): FederationScript {
    const hex = r.scripts[String(epoch)]!;
    let s = this.#scriptCache.get(hex);
    if (s === undefined) {
      s = parseFederationScript(hexToBytes(hex), epoch);
      this.#scriptCache.set(hex, s);
    }
    return s;
  }
}

export function newRecord(batchId: bigint, kind: BatchKind, closedAtBlock: number): BatchRecord {
  return { batchId: batchId.toString(), kind, closedAtBlock, scripts: {}, versions: [], refused: [], confirmed: false };
}

export function storedVersion(o: OpenedVersion, ownSigs: readonly { index: number; signature: Uint8Array }[], signedAt: number): StoredVersion {
  return {
    version: o.version.toString(),
    txid: o.txid,
    unsignedTx: o.tx.toHex(),
    inputs: o.inputs.map((u) => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats.toString(), height: u.height, epoch: u.script.epoch ?? 0, kind: u.kind })),
    ownSigs: ownSigs.map((s) => ({ index: s.index, signature: bytesToHex(s.signature) })),
    signedAt,
  };
}

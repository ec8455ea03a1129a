import { decodeHeader } from '../../chains/btp/codec.js';
import { headerNetworkSectionHash } from '../../chains/btp/hashes.js';
import type { NodeDb } from '../db/database.js';
import type { BtpNetworkInfo, BtpNetworkTypeInfo, BtpSourceInformation, BtpStore, StoredBtpBlock } from '../rpc/store.js';

/**
 * The BTP blocks this node derived, in its level database, served by the BTP
 * JSON-RPC (`createBtpRpc`). Writes are returned as batch ops so the
 * validator commits a derived block together with its derivation state and
 * the Bitcoin watcher cursor (one atomic batch).
 *
 * Layout (JSON values):
 *   btp-blocks  key: height, 16 digits  value: {height, networkId, header, proof, messages} (hex)
 *   btp-meta    key: 'latest'           value: highest Bitcoin height processed
 */

type Sub = ReturnType<NodeDb['sublevel']>;
export type BtpStoreOp = { type: 'put'; sublevel: Sub; key: string; value: unknown } | { type: 'del'; sublevel: Sub; key: string };

export interface LevelBtpStoreOptions {
  srcNetworkUid: string;
  networkTypeId: number;
  networkId: number;
  networkTypeName?: string;
  networkName?: string;
  /** Encoded ProofContext before the first stored block (the genesis header's). */
  initialProofContext: Uint8Array;
  /** Genesis header's NetworkSection hash (prev of the first derived block). */
  initialNetworkSectionHash?: Uint8Array | null;
  /** Next message SN after the genesis header. */
  initialNextMessageSn?: number;
}

interface BlockJson {
  height: number;
  networkId: number;
  header: string;
  proof: string | null;
  messages: string[];
}

const key = (h: number): string => String(h).padStart(16, '0');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

function fromJson(j: BlockJson): StoredBtpBlock {
  return { height: j.height, networkId: j.networkId, header: unhex(j.header), proof: j.proof === null ? null : unhex(j.proof), messages: j.messages.map(unhex) };
}

export class LevelBtpStore implements BtpStore {
  readonly #blocks: Sub;
  readonly #meta: Sub;
  readonly #db: NodeDb;
  readonly #o: Required<Omit<LevelBtpStoreOptions, 'initialNetworkSectionHash'>> & { initialNetworkSectionHash: Uint8Array | null };
  readonly #listeners = new Set<() => void>();

  constructor(db: NodeDb, opts: LevelBtpStoreOptions) {
    this.#db = db;
    this.#blocks = db.sublevel<string, unknown>('btp-blocks', { valueEncoding: 'json' }) as unknown as Sub;
    this.#meta = db.sublevel<string, unknown>('btp-meta', { valueEncoding: 'json' }) as unknown as Sub;
    this.#o = { networkTypeName: 'eth', networkName: 'btc', initialNetworkSectionHash: null, initialNextMessageSn: 0, ...opts };
  }

  /** Batch ops storing a derived block (proof null until collected). */
  putBlockOps(block: StoredBtpBlock): BtpStoreOp[] {
    const value: BlockJson = { height: block.height, networkId: block.networkId, header: hex(block.header), proof: block.proof === null ? null : hex(block.proof), messages: block.messages.map(hex) };
    return [{ type: 'put', sublevel: this.#blocks, key: key(block.height), value }];
  }

  /** Batch ops recording the processed Bitcoin height. */
  latestOps(height: number): BtpStoreOp[] {
    return [{ type: 'put', sublevel: this.#meta, key: 'latest', value: height }];
  }

  /** Attaches the collected proof (encoded ETH Proof) to a stored block. */
  async setProof(height: number, proof: Uint8Array): Promise<void> {
    const j = (await this.#blocks.get(key(height))) as BlockJson | undefined;
    if (j === undefined) return;
    await this.#blocks.put(key(height), { ...j, proof: hex(proof) });
    this.notify();
  }

  /** Call after committing ops from this store (websocket monitors wake up). */
  notify(): void {
    for (const l of this.#listeners) l();
  }

  /** Stored blocks with height ≥ from, ascending (the validator resumes collection from these). */
  async blocksAbove(from: number, limit = 10_000): Promise<StoredBtpBlock[]> {
    const out: StoredBtpBlock[] = [];
    for await (const [, v] of this.#blocks.iterator({ gte: key(from), limit })) out.push(fromJson(v as BlockJson));
    return out;
  }

  async #lastAtOrBelow(height: number | undefined): Promise<StoredBtpBlock | undefined> {
    for await (const [, v] of this.#blocks.iterator({ ...(height !== undefined ? { lte: key(height) } : {}), reverse: true, limit: 1 })) return fromJson(v as BlockJson);
    return undefined;
  }

  async sourceInformation(): Promise<BtpSourceInformation> {
    return { srcNetworkUid: this.#o.srcNetworkUid, networkTypeIds: [this.#o.networkTypeId] };
  }

  async networkInfo(networkId: number, height?: number): Promise<BtpNetworkInfo | undefined> {
    if (networkId !== this.#o.networkId) return undefined;
    const last = await this.#lastAtOrBelow(height);
    let first: StoredBtpBlock | undefined;
    for await (const [, v] of this.#blocks.iterator({ limit: 1 })) first = fromJson(v as BlockJson);
    const h = last === undefined ? undefined : decodeHeader(last.header);
    return {
      startHeight: first?.height ?? 0,
      networkTypeId: this.#o.networkTypeId,
      networkTypeName: this.#o.networkTypeName,
      networkName: this.#o.networkName,
      open: true,
      nextMessageSn: h === undefined ? this.#o.initialNextMessageSn : h.firstMessageSn + h.messageCount,
      nextProofContextChanged: h?.proofContextChanged ?? true,
      prevNSHash: h === undefined ? null : h.prev,
      lastNSHash: h === undefined ? this.#o.initialNetworkSectionHash : headerNetworkSectionHash(h),
      networkId,
    };
  }

  async networkTypeInfo(networkTypeId: number, height?: number): Promise<BtpNetworkTypeInfo | undefined> {
    if (networkTypeId !== this.#o.networkTypeId) return undefined;
    let pc = this.#o.initialProofContext;
    for await (const [, v] of this.#blocks.iterator({ ...(height !== undefined ? { lte: key(height) } : {}), reverse: true })) {
      const h = decodeHeader(unhex((v as BlockJson).header));
      if (h.nextProofContext !== null) {
        pc = h.nextProofContext;
        break;
      }
    }
    return { networkTypeId, networkTypeName: this.#o.networkTypeName, nextProofContext: pc, openNetworkIds: [this.#o.networkId] };
  }

  async block(networkId: number, height: number): Promise<StoredBtpBlock | null | undefined> {
    if (networkId !== this.#o.networkId) return undefined;
    const j = (await this.#blocks.get(key(height))) as BlockJson | undefined;
    return j === undefined ? null : fromJson(j);
  }

  async blocksFrom(networkId: number, from: number, limit: number): Promise<StoredBtpBlock[]> {
    if (networkId !== this.#o.networkId) return [];
    return this.blocksAbove(from, limit);
  }

  async latestHeight(): Promise<number> {
    return ((await this.#meta.get('latest')) as number | undefined) ?? 0;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Commits ops (from this store and others) in one batch and notifies monitors. */
  async commit(ops: readonly BtpStoreOp[]): Promise<void> {
    await this.#db.batch([...ops]);
    this.notify();
  }
}

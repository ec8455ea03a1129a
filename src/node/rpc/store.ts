import { decodeHeader } from '../../chains/btp/codec.js';
import { headerNetworkSectionHash } from '../../chains/btp/hashes.js';

/**
 * What the BTP JSON-RPC serves, as the node stores it. The node implements
 * this over its database; {@link MemoryBtpStore} is the reference
 * implementation for tests and tools.
 */
export interface StoredBtpBlock {
  /** Main (Bitcoin) height. */
  height: number;
  networkId: number;
  /** Encoded BTPBlockHeader. */
  header: Uint8Array;
  /** Encoded ETH Proof once collected, else null. */
  proof: Uint8Array | null;
  /** The block's messages (encoded BTPMessages), in SN order. */
  messages: Uint8Array[];
}

/** btp_getNetworkInfo result, before hex formatting (goloop service/state/btp.go network.ToJSON). */
export interface BtpNetworkInfo {
  startHeight: number;
  networkTypeId: number;
  networkTypeName: string;
  networkName: string;
  open: boolean;
  nextMessageSn: number;
  nextProofContextChanged: boolean;
  prevNSHash: Uint8Array | null;
  lastNSHash: Uint8Array | null;
  networkId: number;
}

export interface BtpNetworkTypeInfo {
  networkTypeId: number;
  networkTypeName: string;
  /** Encoded ETH ProofContext that signs the next block. */
  nextProofContext: Uint8Array;
  openNetworkIds: number[];
}

export interface BtpSourceInformation {
  /** e.g. `0x1.btc`. */
  srcNetworkUid: string;
  networkTypeIds: number[];
}

export interface BtpStore {
  sourceInformation(): Promise<BtpSourceInformation>;
  /** State as of main height `height` (latest when omitted); undefined for an unknown network. */
  networkInfo(networkId: number, height?: number): Promise<BtpNetworkInfo | undefined>;
  networkTypeInfo(networkTypeId: number, height?: number): Promise<BtpNetworkTypeInfo | undefined>;
  /** Undefined for an unknown network; null when the network has no BTP block at that height. */
  block(networkId: number, height: number): Promise<StoredBtpBlock | null | undefined>;
  /** Blocks of a network with height >= `from`, ascending, at most `limit`. */
  blocksFrom(networkId: number, from: number, limit: number): Promise<StoredBtpBlock[]>;
  /** Highest main height the node has processed. */
  latestHeight(): Promise<number>;
  /** Calls `listener` whenever blocks or the processed height change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export interface MemoryBtpStoreOptions {
  srcNetworkUid: string;
  networkTypeId: number;
  networkId: number;
  networkTypeName: string;
  networkName: string;
  /** Encoded ProofContext before the first block. */
  initialProofContext: Uint8Array;
}

interface Indexed extends StoredBtpBlock {
  firstMessageSn: number;
  proofContextChanged: boolean;
  prev: Uint8Array | null;
  nsHash: Uint8Array;
  nextProofContext: Uint8Array | null;
}

/** In-memory {@link BtpStore}: one network of one network type, blocks appended in height order. */
export class MemoryBtpStore implements BtpStore {
  private readonly blocks: Indexed[] = [];
  private latest = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly opts: MemoryBtpStoreOptions) {}

  /** Appends a block (heights strictly increasing) and advances the processed height. */
  addBlock(block: StoredBtpBlock): void {
    const last = this.blocks[this.blocks.length - 1];
    if (last !== undefined && block.height <= last.height) throw new RangeError(`height ${block.height} not above ${last.height}`);
    const h = decodeHeader(block.header);
    this.blocks.push({
      ...block,
      firstMessageSn: h.firstMessageSn,
      proofContextChanged: h.proofContextChanged,
      prev: h.prev,
      nsHash: headerNetworkSectionHash(h),
      nextProofContext: h.nextProofContext,
    });
    this.latest = Math.max(this.latest, block.height);
    this.notify();
  }

  /** Attaches the proof collected after the block was stored. */
  setProof(height: number, proof: Uint8Array): void {
    const b = this.blocks.find((x) => x.height === height);
    if (b === undefined) throw new RangeError(`no block at ${height}`);
    b.proof = proof;
    this.notify();
  }

  setLatestHeight(height: number): void {
    this.latest = Math.max(this.latest, height);
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private upTo(height: number | undefined): Indexed[] {
    return height === undefined ? this.blocks : this.blocks.filter((b) => b.height <= height);
  }

  async sourceInformation(): Promise<BtpSourceInformation> {
    return { srcNetworkUid: this.opts.srcNetworkUid, networkTypeIds: [this.opts.networkTypeId] };
  }

  async networkInfo(networkId: number, height?: number): Promise<BtpNetworkInfo | undefined> {
    if (networkId !== this.opts.networkId) return undefined;
    const blocks = this.upTo(height);
    const last = blocks[blocks.length - 1];
    return {
      startHeight: this.blocks[0]?.height ?? 0,
      networkTypeId: this.opts.networkTypeId,
      networkTypeName: this.opts.networkTypeName,
      networkName: this.opts.networkName,
      open: true,
      nextMessageSn: last === undefined ? 0 : last.firstMessageSn + last.messages.length,
      nextProofContextChanged: last?.proofContextChanged ?? true,
      prevNSHash: last?.prev ?? null,
      lastNSHash: last?.nsHash ?? null,
      networkId,
    };
  }

  async networkTypeInfo(networkTypeId: number, height?: number): Promise<BtpNetworkTypeInfo | undefined> {
    if (networkTypeId !== this.opts.networkTypeId) return undefined;
    let pc = this.opts.initialProofContext;
    for (const b of this.upTo(height)) if (b.nextProofContext !== null) pc = b.nextProofContext;
    return { networkTypeId, networkTypeName: this.opts.networkTypeName, nextProofContext: pc, openNetworkIds: [this.opts.networkId] };
  }

  async block(networkId: number, height: number): Promise<StoredBtpBlock | null | undefined> {
    if (networkId !== this.opts.networkId) return undefined;
    const b = this.blocks.find((x) => x.height === height);
    return b === undefined ? null : { height: b.height, networkId: b.networkId, header: b.header, proof: b.proof, messages: b.messages };
  }

  async blocksFrom(networkId: number, from: number, limit: number): Promise<StoredBtpBlock[]> {
    if (networkId !== this.opts.networkId) return [];
    return this.blocks.filter((b) => b.height >= from).slice(0, limit);
  }

  async latestHeight(): Promise<number> {
    return this.latest;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

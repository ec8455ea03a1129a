import { describe, expect, it } from 'vitest';
import { Block, Transaction } from 'bitcoinjs-lib';
import { BtcWatcher, type EmittedBlock, type WatcherRpc } from '../../../src/chains/bitcoin/watcher.js';
import { MemoryWatcherStore } from '../../../src/chains/bitcoin/watcher-store.js';
import { isBridgeError } from '../../../src/errors.js';

/** An in-memory chain of real (unmined, unchecked-PoW) block serialisations, with forks on demand. */
class FakeChain implements WatcherRpc {
  blocks: Block[] = [];
  #salt = 0;

  constructor(length: number) {
    for (let i = 0; i < length; i++) this.extend();
  }

  extend(): void {
    const b = new Block();
    b.version = 4;
    b.prevHash = this.blocks.length === 0 ? new Uint8Array(32) : this.blocks[this.blocks.length - 1]!.getHash();
    b.timestamp = 1_700_000_000 + this.blocks.length;
    b.bits = 0x207fffff;
    b.nonce = this.#salt++;
    const cb = new Transaction();
    cb.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(1, this.blocks.length & 0xff));
    cb.addOutput(Uint8Array.of(0x51), 1n);
    b.transactions = [cb];
    b.merkleRoot = Block.calculateMerkleRoot(b.transactions);
    this.blocks.push(b);
  }

  /** Replaces everything from `height` with `count` new blocks. */
  fork(height: number, count: number): void {
    this.blocks = this.blocks.slice(0, height);
    for (let i = 0; i < count; i++) this.extend();
  }

  async getBlockCount(): Promise<number> {
    return this.blocks.length - 1;
  }
  async getBlockHash(h: number): Promise<string> {
    const b = this.blocks[h];
    if (!b) throw new Error(`no block at ${h}`);
    return b.getId();
  }
  async getBlockHex(hash: string): Promise<string> {
    const b = this.blocks.find((x) => x.getId() === hash);
    if (!b) throw new Error('unknown block');
    return b.toHex();
  }
}

function setup(chain: FakeChain, confirmations: number, opts: { maxBlocksPerPoll?: number } = {}) {
  const store = new MemoryWatcherStore();
  const w = new BtcWatcher({ rpc: chain, store, confirmations, startHeight: 1, ...opts });
  const blocks: EmittedBlock[] = [];
  const reorgs: number[] = [];
  w.on('block', (b) => blocks.push(b));
  w.on('reorg', (r) => reorgs.push(r.height));
  return { w, store, blocks, reorgs };
}

/** The same chain with Core's getbestblockhash, counting every call. */
class CountingChain extends FakeChain {
  calls = 0;
  override async getBlockCount(): Promise<number> {
    this.calls++;
    return super.getBlockCount();
  }
  override async getBlockHash(h: number): Promise<string> {
    this.calls++;
    return super.getBlockHash(h);
  }
  async getBestBlockHash(): Promise<string> {
    this.calls++;
    return this.blocks[this.blocks.length - 1]!.getId();
  }
}

describe('BtcWatcher (against a fake chain)', () => {
  it('with getbestblockhash, an idle poll is one call, and a new block or a reorg is still seen', async () => {
    const chain = new CountingChain(6);
    const { w, blocks, reorgs } = setup(chain, 2, { maxBlocksPerPoll: 2 });
    await w.poll(); // emits 1, 2 (bounded), more to do
    await w.poll(); // emits 3, 4: settled at tip 5
    expect(blocks.map((b) => b.height)).toEqual([1, 2, 3, 4]);
    chain.calls = 0;
    await w.poll();
    await w.poll();
    expect(chain.calls).toBe(2);
    chain.extend();
    await w.poll();
    expect(blocks.map((b) => b.height)).toEqual([1, 2, 3, 4, 5]);
    chain.fork(6, 1); // replaces the unemitted tip at height 6
    await w.poll();
    expect(reorgs).toEqual([6]);
    expect(w.tip).toBe(6);
  });

  it('emits each block once, in order, only at k confirmations, a bounded number per poll', async () => {
    const chain = new FakeChain(11); // heights 0..10
    const { w, blocks } = setup(chain, 3, { maxBlocksPerPoll: 4 });
    await w.poll();
    expect(blocks.map((b) => b.height)).toEqual([1, 2, 3, 4]);
    await w.poll();
    await w.poll();
    expect(blocks.map((b) => b.height)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // 8 has 3 confirmations at tip 10
    await w.poll();
    expect(blocks).toHaveLength(8);
    chain.extend();
    await w.poll();
    expect(blocks.map((b) => b.height).slice(-1)).toEqual([9]);
    blocks.forEach((b, i) => i > 0 && expect(b.prevHash).toBe(blocks[i - 1]!.hash));
    // Header timestamps (derivation's median-time-past): the fake chain stamps block i with 1_700_000_000 + i.
    expect(blocks.map((b) => b.timestamp)).toEqual(blocks.map((b) => 1_700_000_000 + b.height));
  });

  it('reports reorgs above the cursor and emits the new branch', async () => {
    const chain = new FakeChain(8);
    const { w, blocks, reorgs } = setup(chain, 2);
    await w.poll(); // tip 7: emits 1..6, sees 7
    chain.fork(7, 2); // 7 replaced, 8 added
    await w.poll();
    expect(reorgs).toEqual([7]);
    expect(blocks.at(-1)!.hash).toBe(chain.blocks[7]!.getId());
  });

  it('halts on a reorg of an emitted block, even one deeper than the last', async () => {
    const chain = new FakeChain(8);
    const { w, store, blocks } = setup(chain, 1);
    await w.poll();
    expect(blocks).toHaveLength(7);
    chain.fork(3, 6);
    await expect(w.poll()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_REORG_REACHED_EMITTED_BLOCK') && e.context['height'] === 7);
    expect((await store.load())?.halted?.expectedHash).toBe(blocks[6]!.hash);
    expect(blocks).toHaveLength(7);
  });

  it('halts when the chain shrinks below the last emitted block', async () => {
    const chain = new FakeChain(6);
    const { w } = setup(chain, 1);
    await w.poll();
    chain.blocks = chain.blocks.slice(0, 4);
    await expect(w.poll()).rejects.toThrow(/BTC_REORG_REACHED_EMITTED_BLOCK/);
  });

  it('runs on its own until stopped', async () => {
    const chain = new FakeChain(5);
    const w = new BtcWatcher({ rpc: chain, store: new MemoryWatcherStore(), confirmations: 1, startHeight: 1, pollIntervalMs: 5 });
    const got = new Promise<EmittedBlock>((resolve) => w.on('block', (b) => b.height === 4 && resolve(b)));
    w.start();
    expect((await got).hash).toBe(chain.blocks[4]!.getId());
    await w.stop();
  });

  it('refuses k < 1', () => {
    expect(() => new BtcWatcher({ rpc: new FakeChain(1), store: new MemoryWatcherStore(), confirmations: 0, startHeight: 0 })).toThrow(/BTC_WATCHER_BAD_CONFIRMATIONS/);
  });
});

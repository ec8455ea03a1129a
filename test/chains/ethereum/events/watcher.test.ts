import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Wallet, type JsonRpcProvider } from 'ethers';
import { startDevChain, type DevChain } from '../../../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt } from '../../../../src/chains/ethereum/provider.js';
import { createEventWatcher, type EventWatcher, type EventWatcherOptions, type WatcherBatch, type WatchedEvent } from '../../../../src/chains/ethereum/events/index.js';
import { createEthRpc, type EthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { compileRelay, deployRelay } from '../sender/fixture.js';

const log = silentLogger();
const CHAIN_ID = 31337;

/** A consumer that records what it receives in memory and, through the returned ops, in the db. */
function consumer(db: NodeDb, opts: { failOnce?: () => boolean } = {}) {
  const seen = db.sublevel<string, number>('test-seen', { valueEncoding: 'json' });
  const delivered: WatchedEvent[] = [];
  const reorgs: Extract<WatcherBatch, { kind: 'reorg' }>[] = [];
  const onBatch = async (b: WatcherBatch) => {
    if (opts.failOnce?.() === true) throw new Error('handler crashed');
    if (b.kind === 'reorg') { reorgs.push(b); return []; }
    delivered.push(...b.events);
    const ops = [];
    for (const e of b.events) {
      const id = `${e.blockHash}:${e.logIndex}`;
      ops.push({ type: 'put' as const, sublevel: seen as never, key: id, value: ((await seen.get(id)) ?? 0) + 1 });
    }
    return ops;
  };
  return { seen, delivered, reorgs, onBatch };
}

describe('ethereum event watcher (real EVM node)', () => {
  let chain: DevChain;
  let provider: JsonRpcProvider;
  let relay: Contract;
  let relayAddr: string;
  let rpc: EthRpc;
  const dirs: string[] = [];

  beforeAll(async () => {
    chain = await startDevChain({ chainId: CHAIN_ID, accounts: 3 });
    provider = createProvider(chain.rpcUrl, CHAIN_ID);
    relayAddr = await deployRelay(new Wallet(chain.accounts[0]!, provider));
    relay = new Contract(relayAddr, (await compileRelay()).abi, provider);
    rpc = createEthRpc({ options: { urls: [chain.rpcUrl], chainId: CHAIN_ID }, log });
  });
  afterAll(async () => {
    await rpc?.stop();
    provider?.destroy();
    await chain?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const newDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'fednode-watcher-')); dirs.push(d); return d; };
  const ping = async (account: number, n: number): Promise<void> => {
    const w = new Wallet(chain.accounts[account]!, provider);
    const data = relay.interface.encodeFunctionData('ping', [n]);
    await waitReceipt(provider, await w.sendTransaction({ to: relayAddr, data, gasLimit: 100_000n }));
  };
  const makeWatcher = (db: NodeDb, onBatch: (b: WatcherBatch) => Promise<unknown>, opts: Partial<EventWatcherOptions> = {}): EventWatcher =>
    createEventWatcher({
      rpc, db, log, onBatch: onBatch as never,
      options: { name: 'relay', addresses: [relayAddr], abi: relay.interface, confirmations: 2, maxBlockRange: 3, pollIntervalMs: 50, ...opts },
    });
  /** Polls until the watcher has nothing more to read (bounded). */
  const drain = async (w: EventWatcher): Promise<void> => {
    for (let i = 0; i < 500; i++) if (!(await w.poll().catch(() => true))) return;
    throw new Error('watcher did not settle');
  };
  const pings = (events: WatchedEvent[]): number[] => events.filter((e) => e.name === 'Ping').map((e) => Number(e.args![1]));
  const ids = (events: WatchedEvent[]): string[] => events.map((e) => `${e.blockHash}:${e.logIndex}`);

  it('delivers each event once, in order, at k confirmations, across a restart and a failing handler', async () => {
    const dir = newDir();
    const base = 1_000;
    const startBlock = (await provider.getBlockNumber()) + 1;
    for (let i = 0; i < 6; i++) await ping(1, base + i);

    const db1 = await openDatabase(dir, { log });
    const c1 = consumer(db1);
    const w1 = makeWatcher(db1, c1.onBatch, { startBlock });
    await drain(w1);
    // k = 2: the head block's event waits for one more block.
    expect(pings(c1.delivered)).toEqual([base, base + 1, base + 2, base + 3, base + 4]);
    await w1.stop();
    await db1.close();

    for (let i = 6; i < 10; i++) await ping(1, base + i);
    const db2 = await openDatabase(dir, { log });
    let failures = 0;
    const c2 = consumer(db2, { failOnce: () => failures++ === 0 });
    const w2 = makeWatcher(db2, c2.onBatch, { startBlock });
    await w2.start();
    const ok = await (async () => {
      for (let i = 0; i < 400; i++) {
        if (pings(c2.delivered).length >= 4) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    })();
    await w2.stop();
    expect(ok).toBe(true);
    expect(failures).toBeGreaterThan(1);
    expect(pings(c2.delivered)).toEqual([base + 5, base + 6, base + 7, base + 8]);

    const all = [...c1.delivered, ...c2.delivered];
    expect(new Set(ids(all)).size).toBe(all.length);
    for (const e of all) expect(await c2.seen.get(`${e.blockHash}:${e.logIndex}`)).toBe(1);
    const cursor = await w2.cursor();
    expect(cursor.next).toBe(all[all.length - 1]!.blockNumber + 1);
    expect(w2.health().ok).toBe(true);
    await db2.close();
  });

  it('follows a reorg below the confirmation depth: reports removed blocks and delivers the new branch once', async () => {
    const db = await openDatabase(newDir(), { log });
    const c = consumer(db);
    const startBlock = (await provider.getBlockNumber()) + 1;
    const snapshot = await provider.send('evm_snapshot', []);
    for (let i = 0; i < 4; i++) await ping(1, 2_000 + i);
    await provider.send('evm_mine', []);
    const w = makeWatcher(db, c.onBatch, { startBlock });
    await drain(w);
    const oldBranch = [...c.delivered];
    expect(pings(oldBranch)).toEqual([2_000, 2_001, 2_002, 2_003]);

    // Replace those blocks with a longer branch carrying other events (another sender, other values).
    expect(await provider.send('evm_revert', [snapshot])).toBe(true);
    for (let i = 0; i < 6; i++) await ping(2, 3_000 + i);
    await drain(w);

    expect(c.reorgs).toHaveLength(1);
    const removed = new Set(c.reorgs[0]!.removed.map((b) => b.hash));
    for (const e of oldBranch) expect(removed.has(e.blockHash)).toBe(true);
    expect(c.reorgs[0]!.forkPoint === undefined || c.reorgs[0]!.forkPoint.number < startBlock).toBe(true);
    const newBranch = c.delivered.slice(oldBranch.length);
    expect(pings(newBranch)).toEqual([3_000, 3_001, 3_002, 3_003, 3_004]);
    for (const e of newBranch) {
      expect((await provider.getBlock(e.blockNumber))!.hash).toBe(e.blockHash);
      expect(await c.seen.get(`${e.blockHash}:${e.logIndex}`)).toBe(1);
    }
    expect(new Set(ids(c.delivered)).size).toBe(c.delivered.length);
    await w.stop();
    await db.close();
  });

  it('halts (health false) on a reorg deeper than its anchors, and delivers nothing from the new branch', async () => {
    const db = await openDatabase(newDir(), { log });
    const c = consumer(db);
    const snapshot = await provider.send('evm_snapshot', []);
    const startBlock = (await provider.getBlockNumber()) + 1;
    for (let i = 0; i < 5; i++) await ping(1, 4_000 + i);
    // Window 1: only the cursor block and the one below it are kept as anchors.
    const w = makeWatcher(db, c.onBatch, { startBlock, confirmations: 1, reorgWindow: 1, maxBlockRange: 1 });
    await drain(w);
    expect(pings(c.delivered)).toEqual([4_000, 4_001, 4_002, 4_003, 4_004]);
    expect((await w.cursor()).anchors.length).toBeLessThanOrEqual(2);

    expect(await provider.send('evm_revert', [snapshot])).toBe(true);
    for (let i = 0; i < 6; i++) await ping(2, 5_000 + i);
    await drain(w);
    expect(w.health().ok).toBe(false);
    expect((await w.cursor()).halted?.reason).toMatch(/reorg below the oldest anchor/);
    expect(c.reorgs).toHaveLength(0);
    expect(pings(c.delivered)).toEqual([4_000, 4_001, 4_002, 4_003, 4_004]);
    await w.stop();
    await db.close();
  });
  it('narrows the block range when the node refuses a large eth_getLogs, and still delivers everything once', async () => {
    const db = await openDatabase(newDir(), { log });
    const c = consumer(db);
    const startBlock = (await provider.getBlockNumber()) + 1;
    for (let i = 0; i < 6; i++) await ping(1, 6_000 + i);
    let refused = 0;
    const spans: number[] = [];
    // Like hosted providers: a span above 2 blocks is an error reply, not a transport failure.
    const limited = { ...rpc, getLogs: async (f: Parameters<EthRpc['getLogs']>[0]) => {
      spans.push(f.toBlock - f.fromBlock + 1);
      if (f.toBlock - f.fromBlock + 1 > 2) { refused++; throw Object.assign(new Error('query exceeds max block range 2'), { code: 'UNKNOWN_ERROR', error: { code: -32600, message: 'query exceeds max block range 2' } }); }
      return rpc.getLogs(f);
    } };
    const w = createEventWatcher({ rpc: limited, db, log, onBatch: c.onBatch as never, options: { name: 'limited', addresses: [relayAddr], abi: relay.interface, confirmations: 1, maxBlockRange: 50, startBlock } });
    await drain(w);
    expect(refused).toBeGreaterThan(0);
    expect(spans.some((n) => n <= 2)).toBe(true);
    expect(pings(c.delivered)).toEqual([6_000, 6_001, 6_002, 6_003, 6_004, 6_005]);
    expect(new Set(ids(c.delivered)).size).toBe(c.delivered.length);
    await w.stop();
    await db.close();
  });
});

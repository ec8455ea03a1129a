import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Transaction, Wallet, ZeroHash, type JsonRpcProvider } from 'ethers';
import { startDevChain, type DevChain } from '../../../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt } from '../../../../src/chains/ethereum/provider.js';
import { createEthRpc, type EthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { createTxSender, type TxSender, type TxSenderOptions } from '../../../../src/chains/ethereum/sender/index.js';
import { isBridgeError } from '../../../../src/errors.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { createMetrics } from '../../../../src/node/metrics.js';
import { eventually, startRpcProxy, type RpcProxy } from '../rpc/proxy.js';
import { compileRelay, deployRelay } from './fixture.js';

const log = silentLogger();
const CHAIN_ID = 31337;

describe('transaction sender (real EVM node)', () => {
  let chain: DevChain;
  let provider: JsonRpcProvider;
  let relayAddr: string;
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    chain = await startDevChain({ chainId: CHAIN_ID, accounts: 10 });
    provider = createProvider(chain.rpcUrl, CHAIN_ID);
    relayAddr = await deployRelay(new Wallet(chain.accounts[9]!, provider));
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    provider?.destroy();
    await chain?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const newDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'fednode-sender-')); dirs.push(d); return d; };
  const openDb = async (dir: string): Promise<NodeDb> => openDatabase(dir, { log });
  const makeRpc = (url = chain.rpcUrl, deadlineMs = 20_000): EthRpc => {
    const rpc = createEthRpc({ options: { urls: [url], chainId: CHAIN_ID, requestTimeoutMs: 10_000, requestDeadlineMs: deadlineMs, retryMinMs: 50, retryMaxMs: 200 }, log });
    cleanups.push(() => rpc.stop());
    return rpc;
  };
  const makeSender = async (db: NodeDb, account: number, opts: Partial<TxSenderOptions> = {}, rpc = makeRpc(), metrics = createMetrics({ defaultMetrics: false })): Promise<TxSender> => {
    const abi = (await compileRelay()).abi;
    const s = createTxSender({ rpc, db, signer: new Wallet(chain.accounts[account]!), log, metrics, options: { pollIntervalMs: 50, errorAbi: abi, ...opts } });
    cleanups.push(() => s.stop());
    return s;
  };
  const nonceOf = async (account: number): Promise<number> => provider.getTransactionCount(new Wallet(chain.accounts[account]!).address, 'latest');
  const recipient = (): string => Wallet.createRandom().address;
  const relayData = async (h: number, tag = ZeroHash): Promise<string> => (await compileRelay()).abi.encodeFunctionData('relay', [h, tag]);
  const relayedHeight = async (): Promise<bigint> => {
    const c = new Contract(relayAddr, (await compileRelay()).abi, provider);
    return (await c.getFunction('height')()) as bigint;
  };

  it('sends once per idempotency key, however often and concurrently the key is submitted', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const metrics = createMetrics({ defaultMetrics: false });
    const s = await makeSender(db, 0, {}, makeRpc(), metrics);
    await s.start();
    const start = await nonceOf(0);
    const to = recipient();
    const [h1, h2] = await Promise.all([s.submit({ key: 'pay:1', to, value: 1234n }), s.submit({ key: 'pay:1', to, value: 1234n })]);
    const done = await h1.wait({ timeoutMs: 30_000 });
    expect(done.state).toBe('confirmed');
    expect((await h2.wait({ timeoutMs: 30_000 })).receipt?.hash).toBe(done.receipt?.hash);
    const h3 = await s.submit({ key: 'pay:1', to, value: 1234n });
    expect(h3.record().receipt?.hash).toBe(done.receipt?.hash);
    expect(await provider.getBalance(to)).toBe(1234n);
    expect(await nonceOf(0)).toBe(start + 1);
    expect(s.pending()).toHaveLength(0);
    expect(await metrics.registry.metrics()).toMatch(/fednode_eth_tx_submissions_total\{outcome="deduplicated"\} 2/);

    // Pruning keeps recent final records, drops old ones (and they stay dropped after a restart).
    expect(await s.prune({ olderThanMs: 60_000 })).toBe(0);
    expect(await s.prune({ olderThanMs: -1 })).toBe(1);
    expect(s.get('pay:1')).toBeUndefined();
    await s.stop();
    const again = await makeSender(db, 0);
    await again.start();
    expect(again.get('pay:1')).toBeUndefined();
    expect(again.pending()).toHaveLength(0);
  });

  it('checks alreadyDone before sending, skips without spending a nonce, and decodes custom-error reverts', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const s = await makeSender(db, 1);
    await s.start();
    const target = Number(await relayedHeight()) + 1;
    const alreadyDone = async (): Promise<boolean> => (await relayedHeight()) >= BigInt(target);
    const first = await s.submit({ key: `btp:${target}`, to: relayAddr, data: await relayData(target), alreadyDone });
    expect((await first.wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
    expect(await relayedHeight()).toBe(BigInt(target));

    const nonce = await nonceOf(1);
    const again = await s.submit({ key: `btp:${target}:other-relayer`, to: relayAddr, data: await relayData(target), alreadyDone });
    const skipped = await again.wait({ timeoutMs: 5_000 });
    expect(skipped.state).toBe('skipped');
    expect(skipped.nonce).toBeUndefined();
    expect(await nonceOf(1)).toBe(nonce);

    // Without the check, the gas estimate reverts: a typed error with the decoded custom error.
    const err = await s.submit({ key: `btp:${target}:no-check`, to: relayAddr, data: await relayData(target) }).then(() => undefined, (e: unknown) => e);
    expect(isBridgeError(err, 'ETH_TX_REVERTED')).toBe(true);
    const ctx = (err as { context: Record<string, unknown> }).context;
    expect(ctx.phase).toBe('estimate');
    expect(ctx.errorName).toBe('AlreadyRelayed');
    expect(ctx.errorArgs).toEqual([String(target), String(target)]);
    expect(s.get(`btp:${target}:no-check`)).toBeUndefined();
    expect(await nonceOf(1)).toBe(nonce);
  });

  it('reports a transaction mined reverted with the decoded custom error', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const s = await makeSender(db, 2);
    await s.start();
    const target = Number(await relayedHeight()) + 1;
    await provider.send('evm_setAutomine', [false]);
    try {
      // Two relayers' transactions for one height in one block: the second reverts on chain.
      const a = await s.submit({ key: 'race:a', to: relayAddr, data: await relayData(target), gasLimit: 200_000n });
      const b = await s.submit({ key: 'race:b', to: relayAddr, data: await relayData(target), gasLimit: 200_000n });
      await provider.send('evm_mine', []);
      expect((await a.wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
      const err = await b.wait({ timeoutMs: 30_000 }).then(() => undefined, (e: unknown) => e);
      expect(isBridgeError(err, 'ETH_TX_REVERTED')).toBe(true);
      expect((err as { context: Record<string, unknown> }).context.errorName).toBe('AlreadyRelayed');
      expect(s.get('race:b')?.state).toBe('reverted');
    } finally {
      await provider.send('evm_setAutomine', [true]);
    }
  });

  it('bumps the fees of a stuck transaction by at least 10%, keeping its nonce', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const s = await makeSender(db, 3, { stuckBlocks: 2 });
    await s.start();
    const to = recipient();
    await provider.send('evm_setAutomine', [false]);
    try {
      const h = await s.submit({ key: 'stuck:1', to, value: 777n });
      const first = h.record().attempts[0]!;
      // A base fee far above the transaction's fee cap: it cannot be included.
      await provider.send('hardhat_setNextBlockBaseFeePerGas', ['0x' + (BigInt(first.maxFeePerGas) * 20n).toString(16)]);
      const final = await eventually(async () => {
        await provider.send('evm_mine', []);
        return s.get('stuck:1')!.state === 'confirmed';
      }, 60_000, 150);
      expect(final).toBe(true);
    } finally {
      await provider.send('evm_setAutomine', [true]);
    }
    const rec = s.get('stuck:1')!;
    expect(rec.attempts.length).toBeGreaterThanOrEqual(2);
    const txs = rec.attempts.map((a) => Transaction.from(a.raw));
    for (const t of txs) expect(t.nonce).toBe(rec.nonce);
    for (let i = 1; i < txs.length; i++) {
      expect(txs[i]!.maxFeePerGas! * 100n).toBeGreaterThanOrEqual(txs[i - 1]!.maxFeePerGas! * 110n);
      expect(txs[i]!.maxPriorityFeePerGas! * 100n).toBeGreaterThanOrEqual(txs[i - 1]!.maxPriorityFeePerGas! * 110n);
    }
    expect(rec.receipt?.hash).not.toBe(rec.attempts[0]!.hash);
    expect(await provider.getBalance(to)).toBe(777n);
  });

  it('after a crash (database closed mid-flight, nothing broadcast) resumes with no duplicate and no gap', async () => {
    const dir = newDir();
    const account = 4;
    const start = await nonceOf(account);
    const proxy: RpcProxy = await startRpcProxy(chain.rpcUrl);
    cleanups.push(() => proxy.close());
    proxy.failMethods.add('eth_sendRawTransaction');
    const db1 = await openDb(dir);
    const s1 = await makeSender(db1, account, {}, makeRpc(proxy.url, 200));
    await s1.start();
    const payees = Array.from({ length: 5 }, () => recipient());
    for (let i = 0; i < 3; i++) await s1.submit({ key: `crash:${i}`, to: payees[i]!, value: 1000n + BigInt(i), gasLimit: 21_000n });
    // Two more in flight while the "process dies": each either committed whole or not at all.
    const inFlight = [3, 4].map((i) => s1.submit({ key: `crash:${i}`, to: payees[i]!, value: 1000n + BigInt(i), gasLimit: 21_000n }).catch(() => undefined));
    await db1.close();
    await Promise.all(inFlight);
    await s1.stop();
    expect(await nonceOf(account)).toBe(start);

    const db2 = await openDb(dir);
    cleanups.push(() => db2.close());
    const s2 = await makeSender(db2, account);
    await s2.start();
    expect(s2.pending().length).toBeGreaterThanOrEqual(3);
    // The caller re-submits what it had not seen finish, as after any restart.
    const handles = await Promise.all(payees.map((to, i) => s2.submit({ key: `crash:${i}`, to, value: 1000n + BigInt(i), gasLimit: 21_000n })));
    for (const h of handles) expect((await h.wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
    for (let i = 0; i < payees.length; i++) expect(await provider.getBalance(payees[i]!)).toBe(1000n + BigInt(i));
    expect(await nonceOf(account)).toBe(start + payees.length);
    const nonces = handles.map((h) => h.record().nonce!).sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: payees.length }, (_, i) => start + i));
    expect(s2.pending()).toHaveLength(0);
  });

  it('re-signs with a fresh nonce when another transaction of the account took its nonce', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const account = 5;
    const s = await makeSender(db, account);
    await s.start();
    const taken = await nonceOf(account);
    // The operator key used elsewhere, behind the sender's back.
    const other = new Wallet(chain.accounts[account]!, provider);
    await waitReceipt(provider, await other.sendTransaction({ to: recipient(), value: 1n, nonce: taken, gasLimit: 21_000n }));
    const to = recipient();
    const h = await s.submit({ key: 'resync:1', to, value: 4321n, gasLimit: 21_000n });
    const rec = await h.wait({ timeoutMs: 30_000 });
    expect(rec.state).toBe('confirmed');
    expect(rec.replacedNonces).toEqual([taken]);
    expect(rec.nonce).toBe(taken + 1);
    expect(await provider.getBalance(to)).toBe(4321n);
  });

  it('fills a nonce gap no submission owns, so later transactions are not blocked', async () => {
    const dir = newDir();
    const account = 7;
    const address = new Wallet(chain.accounts[account]!).address;
    const chainNonce = await nonceOf(account);
    // A database whose next nonce is two ahead of everything it records (e.g. restored from an older backup).
    const db = await openDb(dir);
    cleanups.push(() => db.close());
    await db.sublevel<string, unknown>(`eth-sender:${address.toLowerCase()}`, { valueEncoding: 'json' }).put('next', chainNonce + 2);
    const s = await makeSender(db, account);
    await s.start();
    const to = recipient();
    const h = await s.submit({ key: 'after-gap', to, value: 99n, gasLimit: 21_000n });
    expect((await h.wait({ timeoutMs: 30_000 })).nonce).toBe(chainNonce + 2);
    expect(await provider.getBalance(to)).toBe(99n);
    expect(await nonceOf(account)).toBe(chainNonce + 3);
    for (const n of [chainNonce, chainNonce + 1]) expect(s.get(`nonce-filler:${n}`)?.state).toBe('confirmed');
  });

  it('keeps sending through the next RPC URL when the preferred one dies mid-run', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const proxy = await startRpcProxy(chain.rpcUrl);
    cleanups.push(() => proxy.close());
    const rpc = createEthRpc({ options: { urls: [proxy.url, chain.rpcUrl], chainId: CHAIN_ID, requestTimeoutMs: 5_000, retryMinMs: 100, retryMaxMs: 400 }, log });
    cleanups.push(() => rpc.stop());
    const s = await makeSender(db, 6, {}, rpc);
    await s.start();
    const payees = [recipient(), recipient(), recipient()];
    expect((await (await s.submit({ key: 'fo:0', to: payees[0]!, value: 10n })).wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
    expect(proxy.forwarded).toBeGreaterThan(0);
    proxy.mode = 'reset';
    for (let i = 1; i < 3; i++) expect((await (await s.submit({ key: `fo:${i}`, to: payees[i]!, value: 10n + BigInt(i) })).wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
    for (let i = 0; i < 3; i++) expect(await provider.getBalance(payees[i]!)).toBe(10n + BigInt(i));
    expect(rpc.endpoints()[0]!.state).toBe('down');
  });

  it('refuses a gas limit above 2^24', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const s = await makeSender(db, 6);
    const err = await s.submit({ key: 'big', to: recipient(), gasLimit: (1n << 24n) + 1n }).then(() => undefined, (e: unknown) => e);
    expect(isBridgeError(err, 'ETH_TX_GAS_LIMIT')).toBe(true);
    expect(s.get('big')).toBeUndefined();
  });
  it('a transaction removed by a reorg before it is final is sent again and confirmed once', async () => {
    const db = await openDb(newDir());
    cleanups.push(() => db.close());
    const metrics = createMetrics({ defaultMetrics: false });
    const s = await makeSender(db, 8, { confirmations: 3 }, makeRpc(), metrics);
    await s.start();
    const to = recipient();
    const snapshot = await provider.send('evm_snapshot', []);
    const h = await s.submit({ key: 'reorged', to, value: 555n, gasLimit: 21_000n });
    const firstHash = h.record().attempts[0]!.hash;
    expect(await eventually(async () => (await provider.getTransactionReceipt(firstHash)) !== null)).toBe(true);
    const minedIn = (await provider.getTransactionReceipt(firstHash))!.blockHash;
    expect(s.get('reorged')!.state).toBe('pending'); // 1 of 3 confirmations
    // The block carrying it disappears (and with it the node's copy of the transaction).
    expect(await provider.send('evm_revert', [snapshot])).toBe(true);
    await provider.send('evm_mine', []);
    const final = await eventually(async () => {
      await provider.send('evm_mine', []);
      return s.get('reorged')!.state === 'confirmed';
    }, 30_000, 100);
    expect(final).toBe(true);
    const rec = s.get('reorged')!;
    expect(rec.receipt!.blockHash).not.toBe(minedIn);
    expect((await provider.getBlock(rec.receipt!.blockNumber))!.hash).toBe(rec.receipt!.blockHash);
    expect(await provider.getBalance(to)).toBe(555n);
    // Sent twice: the node forgot it with the reverted block.
    expect(await metrics.registry.metrics()).toMatch(/fednode_eth_tx_broadcasts_total\{result="ok"\} [2-9]/);
  });
});

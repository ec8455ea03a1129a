import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { payments } from 'bitcoinjs-lib';
import { spawnBcoinRegtest } from '../../../src/chains/bitcoin/regtest/child.js';
import { isBridgeError } from '../../../src/errors.js';
import { BitcoinRpcClient } from '../../../src/chains/bitcoin/rpc.js';

describe('bcoin regtest as a child process (devnet)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-bcoin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts on a random loopback port, keeps its chain on disk across restarts, stops cleanly, optionally without auth', async () => {
    const first = await spawnBcoinRegtest({ dataDir: dir });
    expect(new URL(first.rpcUrl).hostname).toBe('127.0.0.1');
    const address = payments.p2wpkh({ hash: new Uint8Array(20).fill(3), network: first.network }).address!;
    const hashes = await first.rpc.generateToAddress(5, address);
    expect(await first.rpc.getBlockCount()).toBe(5);
    await first.stop();
    // The process is gone: its port refuses connections.
    const dead = new BitcoinRpcClient({ url: first.rpcUrl, username: 'x', password: first.apiKey, retries: 0, timeoutMs: 2_000 });
    await expect(dead.getBlockCount()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_RPC_UNAVAILABLE') || isBridgeError(e, 'BTC_RPC_TIMEOUT'));

    // Restarted without authentication, as the loopback devnet runs it.
    const second = await spawnBcoinRegtest({ dataDir: dir, noAuth: true });
    try {
      const anonymous = new BitcoinRpcClient({ url: second.rpcUrl });
      expect(await anonymous.getBlockCount()).toBe(5);
      expect(await second.rpc.getBlockHash(5)).toBe(hashes[4]);
    } finally {
      await second.stop();
    }
  });

  it('rejects a wrong API key with a typed error', async () => {
    const node = await spawnBcoinRegtest();
    try {
      const wrong = new BitcoinRpcClient({ url: node.rpcUrl, username: 'x', password: 'nope', retries: 0 });
      await expect(wrong.getBlockCount()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'BTC_RPC_UNAVAILABLE') && e.context['status'] === 401);
    } finally {
      await node.stop();
    }
  });
});

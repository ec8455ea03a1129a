import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, type JsonRpcProvider } from 'ethers';
import { startDevChain, type DevChain } from '../../../../src/chains/ethereum/devchain.js';
import { createProvider } from '../../../../src/chains/ethereum/provider.js';
import { createEthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { createTxSender } from '../../../../src/chains/ethereum/sender/index.js';
import { openDatabase } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';

const log = silentLogger();
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Runs the child until it printed `submitted <killAfter>`, then SIGKILLs it. */
async function runAndKill(args: string[], killAfter: number): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { if (err.length < 4_000) err += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`submitted ${killAfter}\n`) || out.includes('all\n')) { child.kill('SIGKILL'); resolve(); }
    });
    child.once('exit', () => resolve());
  });
  await exited;
  clearTimeout(timer);
  if (!out.includes('ready')) throw new Error(`crash child failed: ${err}`);
  return out;
}

describe('transaction sender survives kill -9', () => {
  let chain: DevChain;
  let provider: JsonRpcProvider;
  const dirs: string[] = [];
  beforeAll(async () => {
    chain = await startDevChain({ chainId: 31337, accounts: 1 });
    provider = createProvider(chain.rpcUrl, 31337);
  });
  afterAll(async () => {
    provider?.destroy();
    await chain?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a sender killed mid-submission resumes: every key paid exactly once, nonces contiguous', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fednode-kill-'));
    dirs.push(dir);
    const key = chain.accounts[0]!;
    const address = new Wallet(key).address;
    const payees = Array.from({ length: 8 }, () => Wallet.createRandom().address);
    // Transactions stay in the mempool: the kill lands among signed, broadcast and unsent ones.
    await provider.send('evm_setAutomine', [false]);
    const start = await provider.getTransactionCount(address, 'latest');
    let out: string;
    try {
      out = await runAndKill([dir, chain.rpcUrl, '31337', key, payees.join(',')], 3);
    } finally {
      await provider.send('evm_setAutomine', [true]);
    }
    expect(out).toContain('submitted 3');
    expect(out).not.toContain('all');

    const db = await openDatabase(dir, { log });
    const rpc = createEthRpc({ options: { urls: [chain.rpcUrl], chainId: 31337 }, log });
    const sender = createTxSender({ rpc, db, signer: new Wallet(key), log, options: { pollIntervalMs: 50 } });
    try {
      await sender.start();
      const handles = [];
      for (let i = 0; i < payees.length; i++) handles.push(await sender.submit({ key: `kill:${i}`, to: payees[i]!, value: 5_000n + BigInt(i), gasLimit: 21_000n }));
      await provider.send('evm_mine', []);
      for (const h of handles) expect((await h.wait({ timeoutMs: 30_000 })).state).toBe('confirmed');
      for (let i = 0; i < payees.length; i++) expect(await provider.getBalance(payees[i]!)).toBe(5_000n + BigInt(i));
      expect(await provider.getTransactionCount(address, 'latest')).toBe(start + payees.length);
      expect(handles.map((h) => h.record().nonce).sort((a, b) => a! - b!)).toEqual(payees.map((_, i) => start + i));
    } finally {
      await sender.stop();
      await rpc.stop();
      await db.close();
    }
  });
});

/**
 * A real local EVM JSON-RPC node for tests and the devnet: `hardhat node` (Hardhat 2, Rust EDR
 * engine) started as a child process on 127.0.0.1 from a generated config. The config has no
 * `solidity` key, so Hardhat never tries to download a compiler and starts offline in about a
 * second (DESIGN.md §6). Accounts are derived deterministically from a seed so tests can sign
 * without a mnemonic derivation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keccak256, toUtf8Bytes } from 'ethers';
import { BridgeError } from '../../errors.js';

export interface DevChainOptions {
  /** EIP-155 chain id. */
  chainId: number;
  /** Number of funded accounts. */
  accounts: number;
  /** Seed for the deterministic account keys (`keccak256(seed ‖ ":" ‖ i)`). */
  seed: string;
  /** Balance of each account, in wei. */
  balanceWei: bigint;
  /** Hardhat hardfork name; undefined keeps Hardhat's default (osaka in 2.29). */
  hardfork: string | undefined;
  /** Block gas limit; a single transaction stays under 2^24 whatever this is. */
  blockGasLimit: number;
  /** Milliseconds to wait for the RPC to answer before giving up. */
  startTimeoutMs: number;
  /** Fixed port; 0 picks a free one. */
  port: number;
}

export const DEFAULT_DEVCHAIN_OPTIONS: DevChainOptions = {
  chainId: 31337,
  accounts: 20,
  seed: 'fednode-devchain',
  balanceWei: 10n ** 24n,
  hardfork: undefined,
  blockGasLimit: 60_000_000,
  startTimeoutMs: 30_000,
  port: 0,
};

export interface DevChain {
  rpcUrl: string;
  wsUrl: string;
  chainId: number;
  /** Funded accounts' private keys (0x-hex). */
  accounts: string[];
  /** Stops the node and removes its temporary config; idempotent. */
  stop(): Promise<void>;
}

/** The repository root: Hardhat refuses to run unless its cwd sees a local installation. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Deterministic private key number `i` for a seed. */
export function devAccountKey(seed: string, i: number): string {
  return keccak256(toUtf8Bytes(`${seed}:${i}`));
}

async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    return r.ok;
  } catch {
    return false;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills the whole process group so no Hardhat worker outlives the parent. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => { for (const c of live) killGroup(c, 'SIGKILL'); });
}

/**
 * Starts `hardhat node` on 127.0.0.1. Retries on a new port if another process grabbed the
 * chosen one between probing and binding.
 */
export async function startDevChain(opts: Partial<DevChainOptions> = {}): Promise<DevChain> {
  const o: DevChainOptions = { ...DEFAULT_DEVCHAIN_OPTIONS, ...opts };
  const accounts = Array.from({ length: o.accounts }, (_, i) => devAccountKey(o.seed, i));
  const dir = mkdtempSync(join(tmpdir(), 'fednode-devchain-'));
  const network: Record<string, unknown> = {
    chainId: o.chainId,
    blockGasLimit: o.blockGasLimit,
    accounts: accounts.map((privateKey) => ({ privateKey, balance: o.balanceWei.toString() })),
    // Keep logs quiet-ish: the node prints every RPC call to stdout, which we drain.
    loggingEnabled: false,
  };
  if (o.hardfork !== undefined) network.hardfork = o.hardfork;
  const configPath = join(dir, 'hardhat.config.cjs');
  writeFileSync(configPath, `module.exports = ${JSON.stringify({ networks: { hardhat: network } }, null, 2)};\n`);

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = o.port !== 0 ? o.port : await freePort();
    const cli = join(PROJECT_ROOT, 'node_modules/hardhat/internal/cli/cli.js');
    const child = spawn(process.execPath, [cli, 'node', '--hostname', '127.0.0.1', '--port', String(port), '--config', configPath], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', NO_COLOR: '1' },
    });
    live.add(child);
    installExitHook();
    let output = '';
    const keep = (d: Buffer): void => { if (output.length < 8_000) output += d.toString(); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((res) => child.once('exit', () => { live.delete(child); res(); }));

    const rpcUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + o.startTimeoutMs;
    let up = false;
    for (let i = 0; i < 10_000 && Date.now() < deadline && child.exitCode === null; i++) {
      if (await rpcAnswers(rpcUrl)) { up = true; break; }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (up) {
      let stopped = false;
      const stop = async (): Promise<void> => {
        if (stopped) return;
        stopped = true;
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
      };
      return { rpcUrl, wsUrl: `ws://127.0.0.1:${port}`, chainId: o.chainId, accounts, stop };
    }
    killGroup(child, 'SIGKILL');
    await exited;
    lastError = output.slice(-2_000);
    if (o.port !== 0) break;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new BridgeError({ code: 'DEVCHAIN_START_FAILED', output: lastError });
}

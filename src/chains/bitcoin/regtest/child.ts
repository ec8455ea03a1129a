import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Network } from 'bitcoinjs-lib';
import { BridgeError } from '../../../errors.js';
import { BitcoinRpcClient } from '../rpc.js';
import { bitcoinNetwork } from '../networks.js';

export interface BcoinChildOptions {
  /** Chain data directory (on-disk leveldown); in memory when omitted. */
  dataDir?: string;
  /** 0 or omitted: a free port. */
  rpcPort?: number;
  apiKey?: string;
  /** RPC without authentication (loopback devnet). */
  noAuth?: boolean;
  logLevel?: 'none' | 'error' | 'warning' | 'info' | 'debug';
  startupTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export const DEFAULT_CHILD_OPTIONS = { startupTimeoutMs: 30_000, stopTimeoutMs: 10_000 } as const;

export interface BcoinChild {
  readonly pid: number;
  readonly rpcUrl: string;
  readonly apiKey: string;
  readonly rpc: BitcoinRpcClient;
  readonly network: Network;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts bcoin regtest in a child process (the devnet's Bitcoin node). From
 * TypeScript sources (tests, tsx) the daemon runs through tsx; from dist/ as
 * plain JavaScript.
 */
export async function spawnBcoinRegtest(opts: BcoinChildOptions = {}): Promise<BcoinChild> {
  const o = { ...DEFAULT_CHILD_OPTIONS, ...opts };
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSource ? './daemon.ts' : './daemon.js', import.meta.url));
  const args = [...(fromSource ? ['--import', 'tsx'] : []), entry];
  if (o.dataDir !== undefined) args.push('--data-dir', o.dataDir);
  if (o.rpcPort !== undefined) args.push('--rpc-port', String(o.rpcPort));
  if (o.apiKey !== undefined) args.push('--api-key', o.apiKey);
  if (o.noAuth === true) args.push('--no-auth');
  if (o.logLevel !== undefined) args.push('--log-level', o.logLevel);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await waitForReady(child, o.startupTimeoutMs);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid!,
    rpcUrl: ready.rpcUrl,
    apiKey: ready.apiKey,
    rpc: new BitcoinRpcClient({ url: ready.rpcUrl, username: 'x', password: ready.apiKey }),
    network: bitcoinNetwork('regtest', { regtestFlavour: 'bcoin' }),
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), o.stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<{ rpcUrl: string; apiKey: string }> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (err: BridgeError): void => {
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(() => fail(new BridgeError({ code: 'BTC_REGTEST_START_TIMEOUT', timeoutMs })), timeoutMs);
    child.once('exit', (code) => fail(new BridgeError({ code: 'BTC_REGTEST_EXITED', exitCode: code })));
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; rpcUrl?: string; apiKey?: string };
        if (msg.ready === true && msg.rpcUrl && msg.apiKey) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          lines.removeAllListeners('line');
          resolve({ rpcUrl: msg.rpcUrl, apiKey: msg.apiKey });
        }
      } catch {
        // Not our JSON line (bcoin logs to stdout when logging is on).
      }
    });
  });
}

/**
 * Child processes of the devnet (validators), with their output in log files, and small helpers
 * to wait for a port or an HTTP endpoint. Every child is tracked so `stopAll` ends them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeError } from '../../errors.js';

/** The repository / package root (same relative place from src/node/devnet and dist/node/devnet). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FEDNODE_BIN = resolve(PACKAGE_ROOT, 'bin/fednode.js');

export interface ManagedChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode(): number | null | 'running';
  stop(timeoutMs?: number): Promise<void>;
}

/** Spawns `node bin/fednode.js <args>` with stdout+stderr appended to `logFile`. */
export function spawnFednode(name: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ManagedChild {
  const fd = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [FEDNODE_BIN, ...args], { stdio: ['ignore', fd, fd], env: { ...env, NO_COLOR: '1' } });
  } finally {
    closeSync(fd);
  }
  let code: number | null | 'running' = 'running';
  const exited = new Promise<void>((res) => child.once('exit', (c, s) => { code = c ?? (s ? -1 : null); res(); }));
  child.once('error', () => { code = -1; });
  return {
    name,
    child,
    exited,
    exitCode: () => code,
    async stop(timeoutMs = 10_000): Promise<void> {
      if (code !== 'running') return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** True if nothing listens on 127.0.0.1:`port`. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

export async function assertPortsFree(ports: readonly { port: number; what: string }[]): Promise<void> {
  const busy: string[] = [];
  for (const p of ports) if (!(await portFree(p.port))) busy.push(`${p.port} (${p.what})`);
  if (busy.length > 0) {
    throw new BridgeError({
      code: 'DEVNET_PORT_IN_USE',
      ports: busy,
      message: `port${busy.length > 1 ? 's' : ''} in use: ${busy.join(', ')}. Is another devnet or node running? Stop it, or pick other ports with --base-port <n>`,
    });
  }
}

/** GET `url` as JSON within `timeoutMs`; undefined when it does not answer. */
export async function getJson<T>(url: string, timeoutMs = 1_000): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok && res.status !== 503) return undefined;
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `intervalMs` until it returns a value or `timeoutMs` passes (then a BridgeError naming `what`). */
export async function pollUntil<T>(fn: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number; what: string; code?: string; onTick?: (elapsedMs: number) => void }): Promise<T> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 500;
  for (let i = 0; i < 1_000_000; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    const elapsed = Date.now() - start;
    if (elapsed >= opts.timeoutMs) break;
    opts.onTick?.(elapsed);
    await sleep(interval);
  }
  throw new BridgeError({ code: opts.code ?? 'DEVNET_TIMEOUT', message: `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${opts.what}`, what: opts.what });
}

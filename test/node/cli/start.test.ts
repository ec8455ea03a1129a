import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { NETWORK_KEY_FILE } from '../../../src/node/p2p/network-key.js';
import { describe, expect, it, vi } from 'vitest';
import { runCli, spawnCli, waitFor, withTempDir } from '../../helpers/cli.js';

vi.setConfig({ testTimeout: 300_000 });

const PW = { FEDNODE_PASSWORD: 'start test pw' };
const peerIds: string[] = [];

interface Started {
  child: ChildProcess;
  url: string;
  logs: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `fednode start` on a free port and wait for its HTTP URL in the JSON logs. */
async function startNode(dir: string): Promise<Started> {
  const child = spawnCli(['--datadir', dir, '--set', 'http.port=0', 'start'], { env: PW });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await waitFor(
    () => {
      for (const line of stderr.split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'http server listening' && rec.url) return rec.url;
      }
      return undefined;
    },
    { timeoutMs: 120_000, what: 'the node to listen' },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${stderr}`);
  });
  return { child, url, logs: () => stderr, exited };
}

describe('fednode start (child process)', () => {
  it('serves /readyz, /livez, /metrics and /status while up, refuses a second process, and exits 0 on SIGTERM', async () => {
    await withTempDir(async (dir) => {
      expect((await runCli(['--datadir', dir, 'init', '--network', 'devnet'])).code).toBe(0);
      expect((await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW })).code).toBe(0);

      const node = await startNode(dir);
      try {
        const ready = await fetch(`${node.url}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({ ready: true, checks: [{ name: 'database', ok: true }] });
        expect(await (await fetch(`${node.url}/livez`)).text()).toBe('ok\n');
        const metrics = await (await fetch(`${node.url}/metrics`)).text();
        expect(metrics).toMatch(/^fednode_build_info\{version="[^"]+",network="devnet"\} 1$/m);
        expect(metrics).toContain('fednode_process_resident_memory_bytes');

        const status = await runCli(['--datadir', dir, 'status', '--url', node.url, '--json']);
        expect(status.code).toBe(0);
        const body = JSON.parse(status.stdout) as { status: { peerId: string } };
        expect(body).toMatchObject({ status: { network: 'devnet', ready: true }, readiness: { ready: true } });
        // The network key is separate from the signing key and lives in the data directory.
        expect(body.status.peerId).toMatch(/^12D3KooW/);
        expect(statSync(join(dir, NETWORK_KEY_FILE)).mode & 0o777).toBe(0o600);
        peerIds.push(body.status.peerId);

        // Same data directory, second process: refused by the lock, naming the owner.
        const second = await runCli(['--datadir', dir, '--set', 'http.port=0', 'start'], { env: PW });
        expect(second.code).toBe(1);
        expect(second.stderr).toContain(`is in use by another fednode process (pid ${node.child.pid})`);
        // The key never appears in the logs.
        expect(node.logs()).not.toMatch(/privateKey|start test pw/);
      } finally {
        node.child.kill('SIGTERM');
      }
      expect(await node.exited).toEqual({ code: 0, signal: null });
      expect(node.logs()).toContain('"msg":"stopped"');
    });
  });

  it('starts again after kill -9, taking over the stale lock with the database intact', async () => {
    await withTempDir(async (dir) => {
      await runCli(['--datadir', dir, 'init', '--network', 'devnet']);
      await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW });
      const first = await startNode(dir);
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');

      const again = await startNode(dir);
      try {
        expect(again.logs()).toContain('removing stale lock');
        // Same network identity after a restart.
        const firstPeer = /"peerId":"([^"]+)"/.exec(first.logs())?.[1];
        expect(firstPeer).toBeDefined();
        expect(again.logs()).toContain(`"peerId":"${firstPeer}"`);
        expect((await fetch(`${again.url}/readyz`)).status).toBe(200);
      } finally {
        again.child.kill('SIGTERM');
      }
      expect((await again.exited).code).toBe(0);
    });
  });

  it('fails fast with a clear message when the keystore is missing or the password is wrong', async () => {
    await withTempDir(async (dir) => {
      await runCli(['--datadir', dir, 'init', '--network', 'devnet']);
      const missing = await runCli(['--datadir', dir, '--set', 'http.port=0', 'start'], { env: PW });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('keystore not found');
      await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW });
      const wrong = await runCli(['--datadir', dir, '--set', 'http.port=0', 'start'], { env: { FEDNODE_PASSWORD: 'nope' } });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('wrong password for keystore');
      // A failed start releases the lock: a correct start works right after.
      const ok = await startNode(dir);
      ok.child.kill('SIGTERM');
      expect((await ok.exited).code).toBe(0);
    });
  });
});

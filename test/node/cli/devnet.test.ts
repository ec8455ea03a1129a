import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseGenesis } from '../../../src/node/genesis/genesis.js';
import { devnetPorts, devnetStateSchema } from '../../../src/node/devnet/layout.js';
import { portFree } from '../../../src/node/devnet/processes.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

vi.setConfig({ testTimeout: 180_000 });

/** A base port in a range the fixed devnet ports and other tests do not use. */
const base = (): number => 30_000 + Math.floor(Math.random() * 300) * 100;

describe('fednode devnet (child process, real chains and validators)', () => {
  it('starts 2 validators with keys, configs and genesis in --dir, then stops everything (--exit)', async () => {
    await withTempDir(async (dir) => {
      const port = base();
      const res = await runCli(['devnet', '--validators', '2', '--dir', dir, '--base-port', String(port), '--exit'], { timeoutMs: 170_000 });
      expect(res.stderr).toMatch(/starting EVM node \(hardhat, 127\.0\.0\.1:\d+\)… ok \(\d+\.\d s\)/);
      expect(res.stderr).toContain('starting 2 validators');
      expect(res.stderr).toMatch(/stopped \(\d+\.\d s\)/);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ ok: true });

      const state = devnetStateSchema.parse(JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')));
      expect(state.ports).toEqual(devnetPorts(2, port));
      expect(state.nodes.map((n) => n.httpUrl)).toEqual([`http://127.0.0.1:${port + 100}`, `http://127.0.0.1:${port + 101}`]);
      const genesis = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
      expect(genesis.epoch0.validators).toEqual(state.nodes.map((n) => n.address.toLowerCase()).sort());
      expect(genesis.contracts.bsh).toBe(state.contracts.bsh);
      for (const i of [1, 2]) {
        const node = join(dir, 'nodes', `v${i}`);
        for (const f of ['keys/validator.json', 'keys/operator.json', 'password.txt', 'p2p-network-key']) expect(statSync(join(node, f)).mode & 0o077, f).toBe(0);
        expect(readFileSync(join(node, 'genesis.json'), 'utf8')).toBe(readFileSync(join(dir, 'genesis.json'), 'utf8'));
        const cfg = readFileSync(join(node, 'config.toml'), 'utf8');
        expect(cfg).toContain(`bootstrap = [ "/ip4/127.0.0.1/tcp/${port + 200 + (i === 1 ? 1 : 0)}/p2p/${state.nodes[i === 1 ? 1 : 0]!.peerId}" ]`);
        const valid = await runCli(['--config', join(node, 'config.toml'), 'config', 'validate']);
        expect(valid.code, valid.stderr + valid.stdout).toBe(0);
      }
      expect(existsSync(join(dir, 'logs', 'v1.log'))).toBe(true);
      // Nothing is left listening.
      for (const p of [state.ports.evm, state.ports.bitcoin, ...state.ports.http, ...state.ports.p2p]) expect(await portFree(p), `port ${p}`).toBe(true);
    });
  });

  it('refuses a port in use with a clear message, before starting anything', async () => {
    await withTempDir(async (dir) => {
      const port = base();
      const srv: Server = createServer();
      await new Promise<void>((r) => srv.listen(port + 1, '127.0.0.1', () => r()));
      try {
        const res = await runCli(['devnet', '--dir', dir, '--base-port', String(port), '--exit']);
        expect(res.code).toBe(1);
        expect(res.stderr).toContain(`error: port in use: ${port + 1} (bitcoin regtest RPC). Is another devnet or node running? Stop it, or pick other ports with --base-port <n>`);
        expect(await portFree(port)).toBe(true);
      } finally {
        await new Promise((r) => srv.close(r));
      }
    });
  });

  it('rejects a bad validator count', async () => {
    const res = await runCli(['devnet', '--validators', '0', '--exit']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('error: --validators must be between 1 and 16, got 0');
  });

  it('demo without a devnet fails at setup with one JSON line', async () => {
    await withTempDir(async (dir) => {
      const res = await runCli(['demo', '--dir', dir, '--exit']);
      expect(res.code).toBe(1);
      const out = JSON.parse(res.stdout.trim()) as { ok: boolean; step: string; error: string };
      expect(out).toMatchObject({ ok: false, step: 'setup' });
      expect(out.error).toBe(`no devnet in ${dir} (no devnet.json): start one with "fednode devnet --dir ${dir}"`);
    });
  });
});

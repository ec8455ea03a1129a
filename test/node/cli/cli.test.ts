import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/node/cli/main.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

/** Runs the CLI in this process (help output only: no command action runs). */
async function helpOf(path: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.resume();
  const code = await main(['node', 'fednode', ...path, '--help'], { stdout, stderr, stdin: process.stdin, env: {} });
  return { code, stdout: out };
}

/**
 * Every command path, found by walking `--help` output, so new commands are
 * covered automatically. Only the "Commands:" block (up to its blank line) is
 * read, and the depth is bounded. In process: one child process per command
 * took minutes on a loaded 2-core machine; the child-process path is checked
 * once below.
 */
async function commandPaths(prefix: string[] = []): Promise<string[][]> {
  const res = await helpOf(prefix);
  expect(res.code).toBe(0);
  const block = res.stdout.split(/\nCommands:\n/)[1]?.split(/\n\s*\n/)[0];
  if (!block || prefix.length >= 3) return [prefix];
  const names = [...block.matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  const nested: string[][][] = [];
  for (const n of names) nested.push(await commandPaths([...prefix, n]));
  return [prefix, ...nested.flat()];
}

vi.setConfig({ testTimeout: 300_000 });

describe('fednode CLI (child process)', () => {
  it('prints usage for --help of the program and of every subcommand', async () => {
    const paths = await commandPaths();
    const flat = paths.map((p) => p.join(' '));
    for (const expected of ['', 'init', 'keys', 'keys new', 'keys import', 'keys export', 'keys list', 'keys show', 'config validate', 'config dump', 'start', 'status']) {
      expect(flat).toContain(expected);
    }
    for (const expected of ['devnet', 'demo', 'join', 'exit', 'withdraw-stake', 'doctor', 'signlog export']) expect(flat).toContain(expected);
    for (const p of paths) {
      const res = await helpOf(p);
      expect(res.code, p.join(' ')).toBe(0);
      expect(res.stdout, p.join(' ')).toMatch(new RegExp(`^Usage: fednode${p.length ? ' ' + p.join(' ') : ''} `));
    }
    // The installed entry point (bin/fednode.js → dist) prints the same.
    const child = await runCli(['--help']);
    expect(child.code).toBe(0);
    expect(child.stdout).toMatch(/^Usage: fednode /);
  });

  it('suggests the right command for a typo and exits non-zero', async () => {
    const top = await runCli(['kyes']);
    expect(top.code).not.toBe(0);
    expect(top.stderr).toContain("unknown command 'kyes'");
    expect(top.stderr).toContain('(Did you mean keys?)');
    const nested = await runCli(['keys', 'lsit']);
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toContain('(Did you mean list?)');
    const opt = await runCli(['keys', 'new', '--lihgt']);
    expect(opt.code).not.toBe(0);
    expect(opt.stderr).toContain('(Did you mean --light?)');
  });

  it('prints the version', async () => {
    const res = await runCli(['--version']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('fednode init and config (child process)', () => {
  it('init writes a config from a preset, refuses to overwrite it, and validates', async () => {
    await withTempDir(async (dir) => {
      const res = await runCli(['--datadir', dir, 'init', '--network', 'devnet']);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(join(dir, 'config.toml'));
      const again = await runCli(['--datadir', dir, 'init', '--network', 'devnet']);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already exists (use --force to replace it)');
      const ok = await runCli(['--datadir', dir, 'config', 'validate']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`config OK (${join(dir, 'config.toml')})`);
      const unknown = await runCli(['--datadir', dir, 'init', '--network', 'mars']);
      expect(unknown.stderr).toContain('unknown network "mars": use one of devnet, testnet');
    });
  });

  it('the testnet preset lists every field the operator must fill in', async () => {
    await withTempDir(async (dir) => {
      await runCli(['--datadir', dir, 'init', '--network', 'testnet']);
      const res = await runCli(['--datadir', dir, 'config', 'validate']);
      expect(res.code).toBe(1);
      for (const path of ['bitcoin.rpcUrl', 'ethereum.rpcUrls.0', 'ethereum.contracts.staking', 'ethereum.contracts.bsh']) {
        expect(res.stderr).toMatch(new RegExp(`\\n  ${path.replace(/\./g, '\\.')}: .*FILL IN`));
      }
    });
  });

  it('config validate reports each problem with its path and source', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'config.toml');
      writeFileSync(file, '[bitcoin]\nrpcUrl = "localhost"\nconfirmations = 0\n');
      const res = await runCli(['--config', file, 'config', 'validate'], { env: { FEDNODE_HTTP_PORT: 'x' } });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('config has 3 problems:');
      expect(res.stderr).toContain(`  bitcoin.rpcUrl: expected an http(s) URL, got "localhost" (in ${file})`);
      expect(res.stderr).toContain(`  bitcoin.confirmations: expected number >= 1, got 0 (in ${file})`);
      expect(res.stderr).toContain('  http.port: expected number, got "x" (from FEDNODE_HTTP_PORT)');
      const missing = await runCli(['--config', join(dir, 'nope.toml'), 'config', 'validate']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`config file not found: ${join(dir, 'nope.toml')}`);
    });
  });

  it('config dump applies flags > env > file and redacts secrets', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'config.toml');
      writeFileSync(file, '[bitcoin]\nconfirmations = 2\nrpcPassword = "s3cret"\n[http]\nport = 9100\n[ethereum]\nchainId = 5\n');
      const res = await runCli(['--config', file, '--set', 'bitcoin.confirmations=4', 'config', 'dump', '--json'], {
        env: { FEDNODE_BITCOIN_CONFIRMATIONS: '3', FEDNODE_HTTP_PORT: '9200' },
      });
      expect(res.code).toBe(0);
      expect(res.stdout).not.toContain('s3cret');
      const cfg = JSON.parse(res.stdout);
      expect(cfg.bitcoin.confirmations).toBe(4);
      expect(cfg.http.port).toBe(9200);
      expect(cfg.ethereum.chainId).toBe(5);
      expect(cfg.bitcoin.rpcPassword).toBe('[redacted]');
      const toml = await runCli(['--config', file, 'config', 'dump']);
      expect(toml.stdout).toMatch(/confirmations = 2/);
      expect(toml.stdout).not.toContain('s3cret');
    });
  });
});

describe('package manifest', () => {
  it('declares the fednode bin, ESM and the Node engine', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { bin: unknown; type: string; engines: { node: string } };
    expect(pkg.bin).toEqual({ fednode: 'bin/fednode.js' });
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toMatch(/^>=20/);
  });
});

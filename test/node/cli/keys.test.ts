import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet, encryptKeystoreJson } from 'ethers';
import { describe, expect, it, vi } from 'vitest';
import { runCli, withTempDir } from '../../helpers/cli.js';

const PW = { FEDNODE_PASSWORD: 'test password' };

vi.setConfig({ testTimeout: 300_000 });

describe('fednode keys (child process)', () => {
  it('creates a keystore (0600), shows it, and round-trips it with the password', async () => {
    await withTempDir(async (dir) => {
      const created = await runCli(['--datadir', dir, 'keys', 'new', '--light', '--json'], { env: PW });
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const info = JSON.parse(created.stdout) as { path: string; address: string; compressedPublicKey: string; publicKey64: string };
      expect(info.path).toBe(join(dir, 'keys', 'validator.json'));
      expect(info.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect(info.compressedPublicKey).toMatch(/^0[23][0-9a-f]{64}$/);
      expect(statSync(info.path).mode & 0o777).toBe(0o600);

      const shown = await runCli(['--datadir', dir, 'keys', 'show', '--json']);
      expect(JSON.parse(shown.stdout)).toEqual(info);
      const verified = await runCli(['--datadir', dir, 'keys', 'show', '--verify', '--json'], { env: PW });
      expect(verified.code).toBe(0);
      expect(JSON.parse(verified.stdout)).toEqual(info);

      const plain = await runCli(['--datadir', dir, 'keys', 'export', '--unsafe-plaintext'], { env: PW });
      expect(plain.code).toBe(0);
      expect(plain.stderr).toMatch(/UNENCRYPTED/);
      expect(new Wallet(plain.stdout.trim()).address).toBe(info.address);

      const exported = await runCli(['--datadir', dir, 'keys', 'export']);
      expect(exported.stdout).toBe(readFileSync(info.path, 'utf8'));

      const listed = await runCli(['--datadir', dir, 'keys', 'list']);
      expect(listed.stdout).toContain(`validator\t${info.address}`);
    });
  });

  it('fails with a clear error naming the keystore on a wrong password', async () => {
    await withTempDir(async (dir) => {
      await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW });
      const res = await runCli(['--datadir', dir, 'keys', 'show', '--verify'], { env: { FEDNODE_PASSWORD: 'not it' } });
      expect(res.code).toBe(1);
      expect(res.stderr.trim()).toBe(`error: wrong password for keystore ${join(dir, 'keys', 'validator.json')}`);
    });
  });

  it('refuses to overwrite an existing keystore and leaves it unchanged', async () => {
    await withTempDir(async (dir) => {
      await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW });
      const path = join(dir, 'keys', 'validator.json');
      const before = readFileSync(path, 'utf8');
      const res = await runCli(['--datadir', dir, 'keys', 'new', '--light'], { env: PW });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`refusing to overwrite existing file ${path}`);
      expect(readFileSync(path, 'utf8')).toBe(before);
    });
  });

  it('imports a hex key from a file and from stdin, and a keystore file', async () => {
    await withTempDir(async (dir) => {
      const w = Wallet.createRandom();
      const hexFile = join(dir, 'key.hex');
      writeFileSync(hexFile, w.privateKey + '\n');
      const fromFile = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'a', '--hex-file', hexFile, '--light', '--json'], { env: PW });
      expect(fromFile.code).toBe(0);
      expect(JSON.parse(fromFile.stdout).address).toBe(w.address);

      const fromStdin = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'b', '--stdin', '--light', '--json'], { env: PW, input: w.privateKey.slice(2) });
      expect(fromStdin.code).toBe(0);
      expect(JSON.parse(fromStdin.stdout).address).toBe(w.address);

      const ks = join(dir, 'external.json');
      writeFileSync(ks, await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, 'other pw', { scrypt: { N: 1 << 10 } }));
      const wrong = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'c', '--keystore', ks], { env: PW });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`wrong password for keystore ${ks}`);
      const fromKs = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'c', '--keystore', ks, '--json'], { env: { FEDNODE_PASSWORD: 'other pw' } });
      expect(fromKs.code).toBe(0);
      expect(JSON.parse(fromKs.stdout).address).toBe(w.address);

      const bad = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'd', '--stdin'], { env: PW, input: 'not a key' });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('expected a 32-byte private key as 64 hex characters');
      const none = await runCli(['--datadir', dir, 'keys', 'import', '--name', 'd'], { env: PW });
      expect(none.stderr).toContain('give exactly one of --keystore <file>, --hex-file <file> or --stdin');
    });
  });

  it('reads the password from --password-file before FEDNODE_PASSWORD, and asks for one when there is none', async () => {
    await withTempDir(async (dir) => {
      const pwFile = join(dir, 'pw.txt');
      writeFileSync(pwFile, 'file password\n');
      await runCli(['--datadir', dir, 'keys', 'new', '--light', '--password-file', pwFile], { env: { FEDNODE_PASSWORD: 'env password' } });
      const withFile = await runCli(['--datadir', dir, 'keys', 'show', '--verify', '--password-file', pwFile], { env: { FEDNODE_PASSWORD: 'env password' } });
      expect(withFile.code).toBe(0);
      const none = await runCli(['--datadir', dir, 'keys', 'show', '--verify']);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('pass --password-file <file>, set FEDNODE_PASSWORD, or run on a terminal');
    });
  });
});

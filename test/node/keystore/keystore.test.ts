import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Wallet, decryptKeystoreJson, encryptKeystoreJson } from 'ethers';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { KeystoreDir, decryptKey, encryptKey, generatePrivateKey, keyInfo, parseHexPrivateKey } from '../../../src/node/keystore/keystore.js';
import { resolvePassword } from '../../../src/node/keystore/password.js';
import { withTempDir } from '../../helpers/cli.js';

const LIGHT = { light: true };

describe('keystore', () => {
  it('round-trips a key through an encrypted v3 keystore', async () => {
    const key = generatePrivateKey();
    const json = await encryptKey(key, 'correct horse', LIGHT);
    const parsed = JSON.parse(json) as { version: number; Crypto: { kdf: string; kdfparams: { n: number } } };
    expect(parsed.version).toBe(3);
    expect(parsed.Crypto.kdf).toBe('scrypt');
    expect(parsed.Crypto.kdfparams.n).toBe(1 << 12);
    expect(json).not.toContain(bytesToHex(key));
    const back = await decryptKey(json, 'correct horse');
    expect(bytesToHex(back.privateKey)).toBe(bytesToHex(key));
    expect(back.address).toBe(keyInfo(key).address);
  });

  it('is interoperable with ethers keystores in both directions', async () => {
    const wallet = Wallet.createRandom();
    const theirs = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, 'pw', { scrypt: { N: 1 << 10 } });
    expect((await decryptKey(theirs, 'pw')).address).toBe(wallet.address);
    const ours = await encryptKey(parseHexPrivateKey(wallet.privateKey), 'pw', LIGHT);
    expect((await decryptKeystoreJson(ours, 'pw')).address).toBe(wallet.address);
  });

  it('uses the standard scrypt cost by default', async () => {
    const json = await encryptKey(generatePrivateKey(), 'pw');
    expect((JSON.parse(json) as { Crypto: { kdfparams: { n: number } } }).Crypto.kdfparams.n).toBe(1 << 18);
  });

  it('derives the address, compressed key and 64-byte key consistently', () => {
    const wallet = Wallet.createRandom();
    const info = keyInfo(parseHexPrivateKey(wallet.privateKey));
    expect(info.address).toBe(wallet.address);
    expect('0x' + info.compressedPublicKey).toBe(wallet.signingKey.compressedPublicKey);
    expect('0x04' + info.publicKey64).toBe(wallet.signingKey.publicKey);
  });

  it('names the keystore in a wrong-password error', async () => {
    const json = await encryptKey(generatePrivateKey(), 'right', LIGHT);
    await expect(decryptKey(json, 'wrong', '/keys/validator.json')).rejects.toMatchObject({
      code: 'KEYSTORE_WRONG_PASSWORD',
      message: 'wrong password for keystore /keys/validator.json',
    });
  });

  it('rejects malformed private keys and keystores with typed errors', async () => {
    for (const bad of ['', '12', 'zz'.repeat(32), '00'.repeat(32), 'ff'.repeat(32)]) {
      expect(() => parseHexPrivateKey(bad)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    }
    await expect(decryptKey('{"version":3}', 'pw', 'x.json')).rejects.toMatchObject({ code: 'KEYSTORE_MALFORMED' });
  });

  it('writes files with mode 0600 and never overwrites', async () => {
    await withTempDir(async (dir) => {
      const keys = new KeystoreDir(join(dir, 'keys'));
      const { path } = await keys.create('validator', generatePrivateKey(), 'pw', LIGHT);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(keys.dir).mode & 0o777).toBe(0o700);
      const before = readFileSync(path, 'utf8');
      await expect(keys.create('validator', generatePrivateKey(), 'pw', LIGHT)).rejects.toMatchObject({ code: 'KEYSTORE_EXISTS' });
      expect(readFileSync(path, 'utf8')).toBe(before);
    });
  });

  it('imports an existing keystore only when the password opens it', async () => {
    await withTempDir(async (dir) => {
      const key = generatePrivateKey();
      const src = join(dir, 'external.json');
      writeFileSync(src, await encryptKey(key, 'pw', LIGHT));
      const keys = new KeystoreDir(join(dir, 'keys'));
      await expect(keys.importKeystore('v', readFileSync(src, 'utf8'), 'nope', src)).rejects.toMatchObject({ code: 'KEYSTORE_WRONG_PASSWORD' });
      const { info } = await keys.importKeystore('v', readFileSync(src, 'utf8'), 'pw', src);
      expect(info.address).toBe(keyInfo(key).address);
      expect((await keys.describe('v')).compressedPublicKey).toBe(keyInfo(key).compressedPublicKey);
      expect((await keys.list()).map((e) => e.name)).toEqual(['v']);
    });
  });

  it('maps names into the keys directory and refuses odd names', () => {
    const keys = new KeystoreDir('/data/keys');
    expect(keys.pathOf('validator')).toBe('/data/keys/validator.json');
    expect(keys.pathOf('/elsewhere/k.json')).toBe('/elsewhere/k.json');
    expect(() => keys.pathOf('bad name')).toThrow(expect.objectContaining({ code: 'KEYSTORE_BAD_NAME' }));
  });
});

describe('password sources', () => {
  it('prefers --password-file, then FEDNODE_PASSWORD, and reads only the first line', async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, 'pw');
      writeFileSync(f, 'from-file\nsecond line\n');
      const nonTty = { isTTY: false } as NodeJS.ReadStream;
      expect(await resolvePassword({ passwordFile: f, env: { FEDNODE_PASSWORD: 'from-env' }, stdin: nonTty }, { purpose: 't' })).toBe('from-file');
      expect(await resolvePassword({ env: { FEDNODE_PASSWORD: 'from-env' }, stdin: nonTty }, { purpose: 't' })).toBe('from-env');
      await expect(resolvePassword({ env: {}, stdin: nonTty }, { purpose: 'key x' })).rejects.toMatchObject({ code: 'PASSWORD_REQUIRED' });
      await expect(resolvePassword({ passwordFile: join(dir, 'missing'), env: {}, stdin: nonTty }, { purpose: 't' })).rejects.toMatchObject({ code: 'PASSWORD_FILE_UNREADABLE' });
      writeFileSync(f, '\n');
      const err = await resolvePassword({ passwordFile: f, env: {}, stdin: nonTty }, { purpose: 't' }).catch((e: unknown) => e);
      expect(isBridgeError(err, 'PASSWORD_EMPTY')).toBe(true);
    });
  });
});

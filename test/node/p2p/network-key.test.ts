import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { loadOrCreateNetworkKey, NETWORK_KEY_FILE } from '../../../src/node/p2p/network-key.js';
import { tempDir } from './helpers.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.map((c) => c()));
  cleanups = [];
});

async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(d.cleanup);
  return d.path;
}

describe('loadOrCreateNetworkKey', () => {
  it('creates an Ed25519 key with mode 0600 and reloads the same peer id', async () => {
    const d = join(await dir(), 'nested', 'data');
    const first = await loadOrCreateNetworkKey(d);
    expect(first.type).toBe('Ed25519');
    const info = await stat(join(d, NETWORK_KEY_FILE));
    expect(info.mode & 0o777).toBe(0o600);
    const again = await loadOrCreateNetworkKey(d);
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(first).toString());
    // No temp files left behind.
    expect(await readdir(d)).toEqual([NETWORK_KEY_FILE]);
  });

  it('gives different data directories different identities', async () => {
    const [a, b] = await Promise.all([loadOrCreateNetworkKey(await dir()), loadOrCreateNetworkKey(await dir())]);
    expect(peerIdFromPrivateKey(a).toString()).not.toBe(peerIdFromPrivateKey(b).toString());
  });

  it('converges on one key when two starts race', async () => {
    const d = await dir();
    const keys = await Promise.all([loadOrCreateNetworkKey(d), loadOrCreateNetworkKey(d), loadOrCreateNetworkKey(d)]);
    const ids = new Set(keys.map((k) => peerIdFromPrivateKey(k).toString()));
    expect(ids.size).toBe(1);
  });

  it('refuses a key readable by others', async () => {
    const d = await dir();
    await loadOrCreateNetworkKey(d);
    await chmod(join(d, NETWORK_KEY_FILE), 0o644);
    const err = await loadOrCreateNetworkKey(d).catch((e: unknown) => e);
    expect(isBridgeError(err, 'P2P_KEY_INSECURE')).toBe(true);
  });

  it('refuses a corrupt key file instead of replacing it', async () => {
    const d = await dir();
    await writeFile(join(d, NETWORK_KEY_FILE), Uint8Array.from([1, 2, 3]), { mode: 0o600 });
    const err = await loadOrCreateNetworkKey(d).catch((e: unknown) => e);
    expect(isBridgeError(err, 'P2P_KEY_CORRUPT')).toBe(true);
  });
});

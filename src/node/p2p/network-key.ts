import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { BridgeError } from '../../errors.js';

/** File name of the libp2p identity inside the node's data directory. */
export const NETWORK_KEY_FILE = 'p2p-network-key';

/**
 * Load the node's Ed25519 libp2p identity from `dataDir`, creating it on first
 * start. The file holds the libp2p protobuf encoding of the private key, mode
 * 0600; a key readable by group or others is refused rather than used, since
 * whoever holds it can impersonate this validator's peer id.
 */
export async function loadOrCreateNetworkKey(dataDir: string): Promise<Ed25519PrivateKey> {
  const path = join(dataDir, NETWORK_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair('Ed25519');
  await writeKeyFile(path, privateKeyToProtobuf(key));
  // Re-read so a concurrent first start by two processes converges on one key.
  const stored = await readKeyFile(path);
  if (stored === undefined) throw new BridgeError({ code: 'P2P_KEY_WRITE_FAILED', path });
  return stored;
}

async function readKeyFile(path: string): Promise<Ed25519PrivateKey | undefined> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BridgeError({ code: 'P2P_KEY_UNREADABLE', path, cause: err });
  }
  if ((info.mode & 0o077) !== 0) {
    throw new BridgeError({
      code: 'P2P_KEY_INSECURE',
      path,
      mode: (info.mode & 0o777).toString(8),
      message: `network key ${path} is accessible by group/others; run chmod 600 on it`,
    });
  }
  let key;
  try {
    key = privateKeyFromProtobuf(await readFile(path));
  } catch (cause) {
    throw new BridgeError({ code: 'P2P_KEY_CORRUPT', path, cause });
  }
  if (key.type !== 'Ed25519') throw new BridgeError({ code: 'P2P_KEY_WRONG_TYPE', path, type: key.type });
  return key;
}

/** Write atomically (temp file, fsync, link) and never over an existing key. */
async function writeKeyFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // link() is an atomic create-if-absent: rename would clobber a key another process just wrote.
    await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

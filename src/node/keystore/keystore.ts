import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { computeAddress, decryptKeystoreJson, encryptKeystoreJson, getAddress, isKeystoreJson } from 'ethers';
import { BridgeError } from '../../errors.js';

/**
 * Validator signing keys stored as Web3 Secret Storage v3 keystores (scrypt +
 * aes-128-ctr), the format geth, ethers and every Ethereum validator client
 * read. Files are created with mode 0600 and never overwritten.
 */

/** Standard scrypt cost (N = 2^18, r = 8, p = 1); `light` matches geth's --lightkdf (N = 2^12, p = 6). */
export const SCRYPT_STANDARD = { N: 1 << 18, r: 8, p: 1 } as const;
export const SCRYPT_LIGHT = { N: 1 << 12, r: 8, p: 6 } as const;

export interface SigningKeyInfo {
  /** Checksummed Ethereum address: the validator's id in the BTP ProofContext. */
  address: string;
  /** 33-byte compressed public key, hex: the validator's key in the Bitcoin script. */
  compressedPublicKey: string;
  /** 64-byte uncompressed public key without the 0x04 prefix, hex: registered on the staking contract. */
  publicKey64: string;
}

export interface UnlockedKey extends SigningKeyInfo {
  privateKey: Uint8Array;
}

/** Keystore v3 plus fednode's public metadata (readable without the password). */
interface KeystoreFile {
  version: number;
  address?: string;
  'x-fednode'?: { compressedPublicKey?: string; publicKey64?: string };
  [k: string]: unknown;
}

export function keyInfo(privateKey: Uint8Array): SigningKeyInfo {
  if (!secp256k1.utils.isValidSecretKey(privateKey)) {
    throw new BridgeError({ code: 'KEY_INVALID', message: 'not a valid secp256k1 private key (must be 32 bytes, 0 < k < n)' });
  }
  const uncompressed = secp256k1.getPublicKey(privateKey, false);
  return {
    address: computeAddress('0x' + bytesToHex(uncompressed)),
    compressedPublicKey: bytesToHex(secp256k1.getPublicKey(privateKey, true)),
    publicKey64: bytesToHex(uncompressed.subarray(1)),
  };
}

/** Parse a hex private key (optional 0x, surrounding whitespace allowed). */
export function parseHexPrivateKey(text: string): Uint8Array {
  const hex = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new BridgeError({ code: 'KEY_INVALID', message: 'expected a 32-byte private key as 64 hex characters' });
  }
  const key = hexToBytes(hex.toLowerCase());
  keyInfo(key); // range check
  return key;
}

export function generatePrivateKey(): Uint8Array {
  return secp256k1.utils.randomSecretKey();
}

export async function encryptKey(privateKey: Uint8Array, password: string, opts: { light?: boolean } = {}): Promise<string> {
  const info = keyInfo(privateKey);
  const json = await encryptKeystoreJson(
    { address: info.address, privateKey: '0x' + bytesToHex(privateKey) },
    password,
    { scrypt: opts.light ? SCRYPT_LIGHT : SCRYPT_STANDARD },
  );
  const parsed = JSON.parse(json) as KeystoreFile;
  parsed['x-fednode'] = { compressedPublicKey: info.compressedPublicKey, publicKey64: info.publicKey64 };
  return JSON.stringify(parsed, null, 2) + '\n';
}

/** Decrypt keystore JSON. A wrong password is `KEYSTORE_WRONG_PASSWORD` naming the file. */
export async function decryptKey(json: string, password: string, file = '(keystore)'): Promise<UnlockedKey> {
  if (!isKeystoreJson(json)) {
    throw new BridgeError({ code: 'KEYSTORE_MALFORMED', message: `${file} is not a Web3 Secret Storage (v3) keystore`, file });
  }
  let account;
  try {
    account = await decryptKeystoreJson(json, password);
  } catch (err) {
    const msg = (err as Error).message;
    if (/incorrect password/i.test(msg)) {
      throw new BridgeError({ code: 'KEYSTORE_WRONG_PASSWORD', message: `wrong password for keystore ${file}`, file });
    }
    throw new BridgeError({ code: 'KEYSTORE_MALFORMED', message: `cannot decrypt keystore ${file}: ${msg}`, file });
  }
  const privateKey = hexToBytes(account.privateKey.slice(2));
  return { ...keyInfo(privateKey), privateKey };
}

/** Write `content` to a new file with mode 0600; refuses to replace an existing file. */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BridgeError({ code: 'KEYSTORE_EXISTS', message: `refusing to overwrite existing file ${path}`, file: path });
    }
    throw err;
  }
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The keystores of a data directory: `<dataDir>/keys/<name>.json`. */
export class KeystoreDir {
  constructor(readonly dir: string) {}

  static forDataDir(dataDir: string): KeystoreDir {
    return new KeystoreDir(join(dataDir, 'keys'));
  }

  /** A keystore name (`validator`) maps to `<dir>/validator.json`; a path is used as is. */
  pathOf(nameOrPath: string): string {
    if (isAbsolute(nameOrPath) || nameOrPath.includes('/') || nameOrPath.endsWith('.json')) return nameOrPath;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nameOrPath)) {
      throw new BridgeError({ code: 'KEYSTORE_BAD_NAME', message: `invalid key name ${JSON.stringify(nameOrPath)}: use letters, digits, '-', '_' or '.'` });
    }
    return join(this.dir, `${nameOrPath}.json`);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async create(name: string, privateKey: Uint8Array, password: string, opts: { light?: boolean } = {}): Promise<{ path: string; info: SigningKeyInfo }> {
    const path = this.pathOf(name);
    await this.ensure();
    await assertAbsent(path);
    const json = await encryptKey(privateKey, password, opts);
    await writeSecretFile(path, json);
    return { path, info: keyInfo(privateKey) };
  }

  /** Store an existing keystore file unchanged, after checking the password opens it. */
  async importKeystore(name: string, json: string, password: string, sourceFile: string): Promise<{ path: string; info: SigningKeyInfo }> {
    const path = this.pathOf(name);
    await assertAbsent(path);
    const unlocked = await decryptKey(json, password, sourceFile);
    const parsed = JSON.parse(json) as KeystoreFile;
    parsed['x-fednode'] = { compressedPublicKey: unlocked.compressedPublicKey, publicKey64: unlocked.publicKey64 };
    await this.ensure();
    await writeSecretFile(path, JSON.stringify(parsed, null, 2) + '\n');
    const { privateKey, ...info } = unlocked;
    privateKey.fill(0);
    return { path, info };
  }

  async readJson(nameOrPath: string): Promise<{ path: string; json: string }> {
    const path = this.pathOf(nameOrPath);
    try {
      return { path, json: await readFile(path, 'utf8') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BridgeError({ code: 'KEYSTORE_NOT_FOUND', message: `keystore not found: ${path} (create one with "fednode keys new")`, file: path });
      }
      throw err;
    }
  }

  async unlock(nameOrPath: string, password: string): Promise<UnlockedKey & { path: string }> {
    const { path, json } = await this.readJson(nameOrPath);
    return { ...(await decryptKey(json, password, path)), path };
  }

  /** Public metadata of a keystore, readable without the password. */
  async describe(nameOrPath: string): Promise<{ name: string; path: string; address: string; compressedPublicKey?: string; publicKey64?: string }> {
    const { path, json } = await this.readJson(nameOrPath);
    let parsed: KeystoreFile;
    try {
      parsed = JSON.parse(json) as KeystoreFile;
    } catch {
      throw new BridgeError({ code: 'KEYSTORE_MALFORMED', message: `${path} is not valid JSON`, file: path });
    }
    if (parsed.version !== 3 || typeof parsed.address !== 'string') {
      throw new BridgeError({ code: 'KEYSTORE_MALFORMED', message: `${path} is not a Web3 Secret Storage (v3) keystore`, file: path });
    }
    const meta = parsed['x-fednode'] ?? {};
    return {
      name: basename(path, extname(path)),
      path,
      address: getAddress('0x' + parsed.address.replace(/^0x/i, '')),
      ...(meta.compressedPublicKey ? { compressedPublicKey: meta.compressedPublicKey } : {}),
      ...(meta.publicKey64 ? { publicKey64: meta.publicKey64 } : {}),
    };
  }

  async list(): Promise<Array<Awaited<ReturnType<KeystoreDir['describe']>> | { name: string; path: string; error: string }>> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return Promise.all(
      names.map(async (n) => {
        const path = join(this.dir, n);
        try {
          return await this.describe(path);
        } catch (err) {
          return { name: basename(n, '.json'), path, error: (err as Error).message };
        }
      }),
    );
  }
}

async function assertAbsent(path: string): Promise<void> {
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  throw new BridgeError({ code: 'KEYSTORE_EXISTS', message: `refusing to overwrite existing file ${path}`, file: path });
}

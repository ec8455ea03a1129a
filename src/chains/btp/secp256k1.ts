import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BridgeError } from '../../errors.js';

/**
 * Pluggable secp256k1 for BTP signatures. Signatures are Ethereum style,
 * 65 bytes R‖S‖V with V ∈ {0,1}, over a raw 32-byte hash (no pre-hashing),
 * low-S. Every backend must return identical results; both are tested
 * against each other.
 */
export interface Secp256k1Backend {
  readonly name: string;
  /** Uncompressed public key (65 bytes, 0x04‖X‖Y), or null when `sig65` does not recover. */
  recover(hash32: Uint8Array, sig65: Uint8Array): Uint8Array | null;
  /** Deterministic (RFC 6979) low-S signature R‖S‖V. */
  sign(hash32: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** Uncompressed public key (65 bytes). */
  publicKey(secretKey: Uint8Array): Uint8Array;
}

// n/2 of secp256k1, big-endian: S above it is the malleable twin (EIP-2, BIP-62 low-S rule).
const HALF_N = Uint8Array.from(Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex'));

/** 0 < S <= n/2, compared bytewise (this runs once per signature on the hot path). */
function isLowNonZeroS(sig65: Uint8Array): boolean {
  let zero = true;
  let cmp = 0;
  for (let i = 0; i < 32; i++) {
    const b = sig65[32 + i]!;
    if (b !== 0) zero = false;
    if (cmp === 0 && b !== HALF_N[i]) cmp = b < HALF_N[i]! ? -1 : 1;
  }
  return !zero && cmp <= 0;
}

/**
 * Shape checks shared by every backend so that they agree on what is invalid:
 * 65 bytes, V ∈ {0,1}, 0 < S ≤ n/2 (R's range is the backend's job).
 */
export function isWellFormedSignature(sig65: Uint8Array): boolean {
  if (sig65.length !== 65) return false;
  const v = sig65[64]!;
  if (v !== 0 && v !== 1) return false;
  return isLowNonZeroS(sig65);
}

function checkHash(hash32: Uint8Array): void {
  if (hash32.length !== 32) throw new BridgeError({ code: 'BTP_BAD_HASH_LENGTH', length: hash32.length });
}

/** Pure-JS backend on @noble/curves (audited, ~500 recoveries/s here). */
export const nobleBackend: Secp256k1Backend = {
  name: 'noble',
  recover(hash32, sig65) {
    if (hash32.length !== 32 || !isWellFormedSignature(sig65)) return null;
    // noble's 'recovered' format puts the recovery byte first
    const rec = new Uint8Array(65);
    rec[0] = sig65[64]!;
    rec.set(sig65.subarray(0, 64), 1);
    try {
      const sig = secp256k1.Signature.fromBytes(rec, 'recovered');
      return sig.recoverPublicKey(hash32).toBytes(false);
    } catch {
      return null;
    }
  },
  sign(hash32, secretKey) {
    checkHash(hash32);
    const rec = secp256k1.sign(hash32, secretKey, { prehash: false, lowS: true, format: 'recovered' });
    const out = new Uint8Array(65);
    out.set(rec.subarray(1, 65), 0);
    out[64] = rec[0]!;
    return out;
  },
  publicKey(secretKey) {
    return secp256k1.getPublicKey(secretKey, false);
  },
};

interface NativeAddon {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
}

let addon: NativeAddon | null | undefined;

function loadAddon(): NativeAddon | null {
  if (addon === undefined) {
    try {
      // `secp256k1/bindings` is the libsecp256k1 addon only; the package root
      // silently falls back to a slow JS implementation, which we do not want here.
      addon = createRequire(import.meta.url)('secp256k1/bindings') as NativeAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** True when the native libsecp256k1 addon loads on this machine. */
export function nativeBackendAvailable(): boolean {
  return loadAddon() !== null;
}

function requireAddon(): NativeAddon {
  const a = loadAddon();
  if (a === null) throw new BridgeError({ code: 'BTP_NATIVE_SECP256K1_UNAVAILABLE' });
  return a;
}

/** libsecp256k1 through the `secp256k1` npm addon (~11,000 recoveries/s here). */
export const nativeBackend: Secp256k1Backend = {
  name: 'native',
  recover(hash32, sig65) {
    if (hash32.length !== 32 || !isWellFormedSignature(sig65)) return null;
    try {
      return requireAddon().ecdsaRecover(sig65.subarray(0, 64), sig65[64]!, hash32, false);
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      return null;
    }
  },
  sign(hash32, secretKey) {
    checkHash(hash32);
    const { signature, recid } = requireAddon().ecdsaSign(hash32, secretKey);
    const out = new Uint8Array(65);
    out.set(signature, 0);
    out[64] = recid;
    return out;
  },
  publicKey(secretKey) {
    return requireAddon().publicKeyCreate(secretKey, false);
  },
};

/** The fastest backend available: native when it loads, else noble. */
export function defaultBackend(): Secp256k1Backend {
  return nativeBackendAvailable() ? nativeBackend : nobleBackend;
}

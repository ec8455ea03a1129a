import { createRequire } from 'node:module';
import { keccak_256 } from '@noble/hashes/sha3.js';

/**
 * Thin typed wrapper over the native `secp256k1` addon (libsecp256k1 bindings).
 * It recovers ~15k signatures/s here against ~700/s for pure JS, which keeps
 * gossip validation from starving the event loop (DESIGN.md §6).
 */
interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig64: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
  privateKeyVerify(seckey: Uint8Array): boolean;
}

const native = createRequire(import.meta.url)('secp256k1') as NativeSecp256k1;

/** Half the secp256k1 group order: signatures with S above it are malleable copies. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

function bytesToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** True for a 65-byte R‖S‖V signature with V in {0,1} and low S. */
export function isCanonicalSignature(sig: Uint8Array): boolean {
  if (sig.length !== 65) return false;
  const v = sig[64];
  if (v !== 0 && v !== 1) return false;
  const s = bytesToBigInt(sig.subarray(32, 64));
  return s !== 0n && s <= HALF_N;
}

/** Ethereum address (20 bytes) of an uncompressed 65-byte public key. */
export function addressOfPublicKey(uncompressed65: Uint8Array): Uint8Array {
  return keccak_256(uncompressed65.subarray(1)).subarray(12);
}

/**
 * Recover the Ethereum address that signed `digest` with the 65-byte R‖S‖V
 * signature. Returns undefined for any unrecoverable or non-canonical input
 * (never throws: callers treat undefined as a bad signature).
 */
export function recoverAddress(digest: Uint8Array, sig: Uint8Array): Uint8Array | undefined {
  if (digest.length !== 32 || !isCanonicalSignature(sig)) return undefined;
  try {
    return addressOfPublicKey(native.ecdsaRecover(sig.subarray(0, 64), sig[64] as number, digest, false));
  } catch {
    return undefined;
  }
}

/** Deterministic (RFC 6979) low-S signature as 65-byte R‖S‖V, V in {0,1}. */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const { signature, recid } = native.ecdsaSign(digest, privateKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = recid;
  return out;
}

export function isValidPrivateKey(privateKey: Uint8Array): boolean {
  return privateKey.length === 32 && native.privateKeyVerify(privateKey);
}

export function addressOfPrivateKey(privateKey: Uint8Array): Uint8Array {
  return addressOfPublicKey(native.publicKeyCreate(privateKey, false));
}

import { BridgeError } from '../../errors.js';
import { keccak256 } from './bytes.js';
import { defaultBackend, type Secp256k1Backend } from './secp256k1.js';

/** Ethereum address of an uncompressed public key: last 20 bytes of keccak256(X‖Y). */
export function addressFromPublicKey(pub65: Uint8Array): Uint8Array {
  if (pub65.length !== 65 || pub65[0] !== 0x04) throw new BridgeError({ code: 'BTP_BAD_PUBLIC_KEY', length: pub65.length });
  return keccak256(pub65.subarray(1)).subarray(12);
}

export function addressFromSecretKey(secretKey: Uint8Array, backend: Secp256k1Backend = defaultBackend()): Uint8Array {
  return addressFromPublicKey(backend.publicKey(secretKey));
}

/** Signs a NetworkTypeSectionDecision hash: 65 bytes R‖S‖V, V ∈ {0,1}, low-S, raw hash. */
export function signDecision(hash32: Uint8Array, secretKey: Uint8Array, backend: Secp256k1Backend = defaultBackend()): Uint8Array {
  return backend.sign(hash32, secretKey);
}

// Validators sign block after block with the same keys: remembering public key ->
// address saves the keccak of every recovered key. Bounded; cleared when full.
const ADDRESS_CACHE_LIMIT = 4096;
const addressCache = new Map<string, Uint8Array>();

function cachedAddress(pub65: Uint8Array): Uint8Array {
  const key = Buffer.from(pub65.buffer, pub65.byteOffset, pub65.length).toString('latin1');
  let addr = addressCache.get(key);
  if (addr === undefined) {
    addr = keccak256(pub65.subarray(1)).subarray(12);
    if (addressCache.size >= ADDRESS_CACHE_LIMIT) addressCache.clear();
    addressCache.set(key, addr);
  }
  return addr;
}

/** Signer address of a decision signature, or null when the signature is invalid. */
export function recoverSigner(hash32: Uint8Array, sig65: Uint8Array, backend: Secp256k1Backend = defaultBackend()): Uint8Array | null {
  const pub = backend.recover(hash32, sig65);
  return pub === null ? null : cachedAddress(pub);
}

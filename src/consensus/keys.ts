import { BridgeError } from '../errors.js';

/** Compressed (33-byte) form of an uncompressed (65-byte 0x04‖X‖Y) secp256k1 public key. */
export function compressPublicKey(pub65: Uint8Array): Uint8Array {
  if (pub65.length !== 65 || pub65[0] !== 0x04) throw new BridgeError({ code: 'CONSENSUS_BAD_PUBLIC_KEY', length: pub65.length });
  const out = new Uint8Array(33);
  out[0] = 0x02 | (pub65[64]! & 1);
  out.set(pub65.subarray(1, 33), 1);
  return out;
}

export const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

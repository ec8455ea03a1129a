import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { BridgeError } from '../../errors.js';

export { bytesToHex, concatBytes, utf8ToBytes };

/** keccak256, the only hash of BTP 2.0's eth network type (DESIGN.md §3). */
export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data);
}

/** Parses hex with or without `0x`; throws BridgeError `BTP_BAD_HEX` on anything else. */
export function fromHex(hex: string): Uint8Array {
  const body = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) {
    throw new BridgeError({ code: 'BTP_BAD_HEX', length: hex.length });
  }
  return hexToBytes(body);
}

/** `0x`-prefixed lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return '0x' + bytesToHex(bytes);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Nullable comparison: nil equals only nil. */
export function equalNullable(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return equalBytes(a, b);
}

/** Lexicographic order of byte strings (the ProofContext's ascending address order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

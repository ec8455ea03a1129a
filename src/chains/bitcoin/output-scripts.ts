import { equalBytes } from './bytes.js';

/** The payment script kinds a withdrawal or a deposit refund may name. */
export type PaymentScriptKind = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr';

/**
 * Classifies a standard single-destination output script by exact byte
 * pattern (BIP-16, BIP-141, BIP-341 templates), or returns undefined.
 * Exact patterns keep the rule a few byte compares in Solidity.
 */
export function paymentScriptKind(s: Uint8Array): PaymentScriptKind | undefined {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return 'p2pkh';
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return 'p2sh';
  if (s.length === 22 && s[0] === 0x00 && s[1] === 0x14) return 'p2wpkh';
  if (s.length === 34 && s[0] === 0x00 && s[1] === 0x20) return 'p2wsh';
  if (s.length === 34 && s[0] === 0x51 && s[1] === 0x20) return 'p2tr';
  return undefined;
}

/** True when `s` is one of the federation's own scripts (any epoch, either address kind). */
export function isFederationOutputScript(s: Uint8Array, federationScripts: Iterable<Uint8Array>): boolean {
  for (const f of federationScripts) if (equalBytes(s, f)) return true;
  return false;
}

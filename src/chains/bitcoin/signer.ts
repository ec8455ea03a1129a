import { script as bscript } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BridgeError } from '../../errors.js';
import { SIGHASH_ALL } from './constants.js';

/** One validator's signature over one input's BIP-143 sighash. */
export interface WitnessSignature {
  /** 64-byte r‖s, low-S (BIP-62 / BIP-146 LOW_S policy). */
  readonly compact: Uint8Array;
  /** ECDSA recovery id (0 or 1) so the home contract needs exactly one `ecrecover`. */
  readonly recovery: number;
  /** The witness item: strict DER (BIP-66) plus the SIGHASH_ALL byte. */
  readonly der: Uint8Array;
}

/** Signs a 32-byte sighash with low-S RFC-6979 ECDSA, hash type SIGHASH_ALL. */
export function signSighash(sighash: Uint8Array, privateKey: Uint8Array): WitnessSignature {
  if (sighash.length !== 32) throw new BridgeError({ code: 'BTC_SIGN_BAD_HASH', bytes: sighash.length });
  const rec = secp256k1.sign(sighash, privateKey, { prehash: false, lowS: true, format: 'recovered' });
  const compact = rec.slice(1);
  return { compact, recovery: rec[0]!, der: bscript.signature.encode(compact, SIGHASH_ALL) };
}

/**
 * True when `derWithHashType` is a strict-DER, low-S, SIGHASH_ALL signature by
 * `publicKey` over `sighash`. Never throws on malformed input.
 */
export function verifyWitnessSignature(derWithHashType: Uint8Array, sighash: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    const { signature, hashType } = bscript.signature.decode(derWithHashType);
    if (hashType !== SIGHASH_ALL) return false;
    return secp256k1.verify(signature, sighash, publicKey, { prehash: false, lowS: true, format: 'compact' });
  } catch {
    return false;
  }
}

/** Public key (compressed) of a private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(privateKey, true);
}

import type { Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';
import type { FederationScript } from './scripts.js';
import { equalBytes } from './bytes.js';

/**
 * Signatures for one input, keyed by the signer's position in the script's
 * key order (`script.keys`), each a DER signature plus SIGHASH_ALL byte.
 */
export type SignaturesByKeyIndex = ReadonlyMap<number, Uint8Array>;

export interface AssembleOptions {
  /** Refuse to assemble below the threshold (default true). Tests turn it off to show the node rejecting. */
  requireQuorum?: boolean;
}

/**
 * The witness stack for a federation input. Only the first `m` signers in
 * key order are used, so the witness never exceeds the fee estimate and
 * every validator assembles the same bytes.
 *
 * - multisig: `<> <sig_a> … <sig_m> <witnessScript>` — the empty item is
 *   CHECKMULTISIG's extra pop (BIP-147 NULLDUMMY), signatures in key order.
 * - thresh: one item per key, the signature for key 1 on top of the stack
 *   (last before the script), an empty item for every non-signer (an empty
 *   signature makes CHECKSIG push 0 without failing, BIP-146 NULLFAIL).
 */
export function assembleWitness(script: FederationScript, signatures: SignaturesByKeyIndex, opts: AssembleOptions = {}): Uint8Array[] {
  const n = script.keys.length;
  const chosen = [...signatures.keys()]
    .filter((i) => Number.isInteger(i) && i >= 0 && i < n)
    .sort((a, b) => a - b)
    .slice(0, script.threshold);
  if ((opts.requireQuorum ?? true) && chosen.length < script.threshold) {
    throw new BridgeError({ code: 'BTC_WITNESS_TOO_FEW_SIGNATURES', have: chosen.length, threshold: script.threshold });
  }
  const empty = new Uint8Array(0);
  if (script.template === 'multisig') {
    return [empty, ...chosen.map((i) => signatures.get(i)!), script.witnessScript];
  }
  const items: Uint8Array[] = [];
  for (let i = n - 1; i >= 0; i--) items.push(chosen.includes(i) ? signatures.get(i)! : empty);
  return [...items, script.witnessScript];
}

/** Index of `publicKey` in the script's key order, or -1. */
export function keyIndex(script: FederationScript, publicKey: Uint8Array): number {
  return script.keys.findIndex((k) => equalBytes(k, publicKey));
}

/**
 * Sets the witness of every input and returns the finished transaction's
 * raw hex. scriptSigs (the P2SH-P2WSH redeem push) are already part of the
 * unsigned transaction because they are part of its txid.
 */
export function finalizeTransaction(unsigned: Transaction, witnesses: readonly Uint8Array[][]): Transaction {
  if (witnesses.length !== unsigned.ins.length) {
    throw new BridgeError({ code: 'BTC_WITNESS_COUNT_MISMATCH', inputs: unsigned.ins.length, witnesses: witnesses.length });
  }
  const tx = unsigned.clone();
  witnesses.forEach((w, i) => tx.setWitness(i, w));
  return tx;
}

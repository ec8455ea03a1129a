import type { Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';
import type { FederationUtxo } from './payout.js';
import { bip143Sighash } from './sighash.js';
import { publicKeyOf, signSighash, verifyWitnessSignature, type WitnessSignature } from './signer.js';
import { assembleWitness, finalizeTransaction, keyIndex } from './witness.js';

/** One validator's signature for one input of a payout, sweep or fee bump. */
export interface InputSignature {
  readonly inputIndex: number;
  /** Position of the signer's key in that input's script (BIP-67 order). */
  readonly keyIndex: number;
  readonly sighash: Uint8Array;
  readonly signature: WitnessSignature;
}

/** BIP-143 SIGHASH_ALL message of every input, in input order. */
export function payoutSighashes(tx: Transaction, inputs: readonly FederationUtxo[]): Uint8Array[] {
  checkInputs(tx, inputs);
  return inputs.map((u, i) => bip143Sighash(tx, i, u.script.witnessScript, u.amountSats));
}

/**
 * Signs every input whose script contains this validator's key (inputs of
 * other epochs' scripts it is not part of are skipped).
 */
export function signPayoutInputs(tx: Transaction, inputs: readonly FederationUtxo[], privateKey: Uint8Array): InputSignature[] {
  const pub = publicKeyOf(privateKey);
  const hashes = payoutSighashes(tx, inputs);
  const out: InputSignature[] = [];
  inputs.forEach((u, inputIndex) => {
    const k = keyIndex(u.script, pub);
    if (k < 0) return;
    out.push({ inputIndex, keyIndex: k, sighash: hashes[inputIndex]!, signature: signSighash(hashes[inputIndex]!, privateKey) });
  });
  return out;
}

/** Checks a gossiped signature against the input's sighash and the key at `keyIndex`; false on any mismatch. */
export function verifyInputSignature(tx: Transaction, inputs: readonly FederationUtxo[], inputIndex: number, keyIdx: number, der: Uint8Array): boolean {
  const u = inputs[inputIndex];
  if (u === undefined || inputs.length !== tx.ins.length) return false;
  const key = u.script.keys[keyIdx];
  if (key === undefined) return false;
  return verifyWitnessSignature(der, bip143Sighash(tx, inputIndex, u.script.witnessScript, u.amountSats), key);
}

/**
 * The broadcastable transaction from collected signatures: per input, the
 * signatures by key index (invalid ones should have been dropped with
 * {@link verifyInputSignature}). Throws `BTC_WITNESS_TOO_FEW_SIGNATURES` when
 * any input lacks its own script's quorum.
 */
export function assemblePayout(tx: Transaction, inputs: readonly FederationUtxo[], signatures: ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>): Transaction {
  checkInputs(tx, inputs);
  const witnesses = inputs.map((u, i) => {
    try {
      return assembleWitness(u.script, signatures.get(i) ?? new Map());
    } catch (e) {
      if (e instanceof BridgeError) throw new BridgeError({ code: e.code, inputIndex: i, ...e.context });
      throw e;
    }
  });
  return finalizeTransaction(tx, witnesses);
}

function checkInputs(tx: Transaction, inputs: readonly FederationUtxo[]): void {
  if (tx.ins.length !== inputs.length) throw new BridgeError({ code: 'BTC_PAYOUT_INPUTS_MISMATCH', txInputs: tx.ins.length, utxos: inputs.length });
}

import type { Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../errors.js';
import { toHex } from '../chains/btp/bytes.js';
import type { FederationUtxo } from '../chains/bitcoin/payout.js';
import { payoutSighashes } from '../chains/bitcoin/payout-signing.js';
import type { ClosedBatchVersion } from './signlog-policy.js';

/**
 * The sign-log record of one closed batch version, computed by this node
 * from the transaction it re-derived (never from a peer's claim): its
 * outpoints in input order and each input's BIP-143 sighash.
 */
export function closedBatchVersion(batchId: bigint, tx: Transaction, inputs: readonly FederationUtxo[]): ClosedBatchVersion {
  if (tx.ins.length !== inputs.length) throw new BridgeError({ code: 'CONSENSUS_BATCH_INPUTS_MISMATCH', txInputs: tx.ins.length, utxos: inputs.length });
  const outpoints = tx.ins.map((i) => `${Buffer.from(i.hash).reverse().toString('hex')}:${i.index}`);
  return { batchId, txid: tx.getId(), outpoints, sighashes: payoutSighashes(tx, inputs).map(toHex) };
}

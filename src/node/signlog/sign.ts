import type { Transaction } from 'bitcoinjs-lib';
import { toHex } from '../../chains/btp/bytes.js';
import { signDecision } from '../../chains/btp/sign.js';
import type { Secp256k1Backend } from '../../chains/btp/secp256k1.js';
import type { FederationUtxo } from '../../chains/bitcoin/payout.js';
import { signPayoutInputs, type InputSignature } from '../../chains/bitcoin/payout-signing.js';
import type { BuiltBlock } from '../../chains/btp/builder.js';
import type { SignLog } from './signlog.js';

/**
 * The only way the node should sign: the sign-log entry is written (one
 * awaited atomic batch) before the signature exists, so a crash at any
 * point can never leave a signature out in the world that the log does not
 * know (DESIGN.md §2 "Slashing": the sign-log is persisted before any
 * signature leaves the node).
 */
export async function signBtpBlock(
  log: SignLog,
  block: Pick<BuiltBlock, 'decisionHash' | 'header'>,
  btcBlockHash: string | undefined,
  secretKey: Uint8Array,
  now: number,
  backend?: Secp256k1Backend,
): Promise<Uint8Array> {
  await log.authorizeBtp({ height: block.header.mainHeight, decisionHash: toHex(block.decisionHash), ...(btcBlockHash !== undefined ? { btcBlockHash } : {}) }, now);
  return signDecision(block.decisionHash, secretKey, backend);
}

/**
 * Signs every input of a closed batch version whose script holds this
 * validator's key, after recording each sighash. The version must have been
 * registered with `log.registerClosedBatch` (from the contract's BatchClosed
 * and this node's own re-derivation).
 */
export async function signPayoutVersion(
  log: SignLog,
  batchId: bigint,
  tx: Transaction,
  inputs: readonly FederationUtxo[],
  privateKey: Uint8Array,
  now: number,
): Promise<InputSignature[]> {
  // Compute first (pure), persist, and only then hand the signatures out.
  const sigs = signPayoutInputs(tx, inputs, privateKey);
  await log.authorizePayout(sigs.map((s) => ({ batchId, txid: tx.getId(), inputIndex: s.inputIndex, sighash: toHex(s.sighash) })), now);
  return sigs;
}

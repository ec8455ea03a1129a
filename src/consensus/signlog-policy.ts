import { BridgeError } from '../errors.js';

/**
 * Sign-log rules (DESIGN.md §2 "Slashing": honest nodes protect themselves
 * the way the contract slashes): at most one decision per BTP height, and
 * Bitcoin signatures only over sighashes of batches the contract closed (any
 * version of the same batch). Pure: the storage is `src/node/signlog/`.
 * Hashes and txids are lowercase hex; batch ids decimal strings in JSON.
 */

export interface BtpSignEntry {
  readonly height: number;
  /** `0x` hex of the 32-byte decision hash. */
  readonly decisionHash: string;
  /** Display hash of the Bitcoin block the BTP block was derived from (for reorg checks). */
  readonly btcBlockHash?: string;
  /** Unix ms. */
  readonly signedAt: number;
}

/** One version (the original or a fee bump) of a batch the contract closed. */
export interface ClosedBatchVersion {
  readonly batchId: bigint;
  /** Display txid of this version. */
  readonly txid: string;
  /** Spent outpoints in input order (`txid:vout`): equal in every version of a batch. */
  readonly outpoints: readonly string[];
  /** `0x` hex BIP-143 sighash of each input, in input order. */
  readonly sighashes: readonly string[];
}

export interface PayoutSignEntry {
  readonly sighash: string;
  readonly batchId: bigint;
  readonly txid: string;
  readonly inputIndex: number;
  readonly signedAt: number;
}

export type RefusalRule =
  | 'halted'
  | 'btp-conflict' // a different decision at a height already signed
  | 'batch-not-closed' // no closed batch version with this txid
  | 'sighash-not-of-batch' // the sighash is not that version's input sighash
  | 'batch-inputs-differ' // a "version" of a batch spending other outpoints
  | 'batch-version-conflict'; // the same version registered with other contents

export type PolicyResult = { readonly ok: true; readonly repeat: boolean } | { readonly ok: false; readonly rule: RefusalRule; readonly context: Record<string, unknown> };

const ok = (repeat: boolean): PolicyResult => ({ ok: true, repeat });
const refuse = (rule: RefusalRule, context: Record<string, unknown>): PolicyResult => ({ ok: false, rule, context });

export function refusalError(r: Extract<PolicyResult, { ok: false }>): BridgeError {
  return new BridgeError({ code: 'SIGNLOG_REFUSED', rule: r.rule, ...r.context });
}

/** Same decision again is an idempotent re-sign; a different one is refused. */
export function checkBtp(existing: BtpSignEntry | undefined, height: number, decisionHash: string): PolicyResult {
  if (existing === undefined) return ok(false);
  if (existing.decisionHash === decisionHash.toLowerCase()) return ok(true);
  return refuse('btp-conflict', { height, signed: existing.decisionHash, requested: decisionHash });
}

/** A new version of a batch must spend exactly the outpoints of the versions already known (BIP-125 replacement, PROTOCOL.md §4.6). */
export function checkBatchVersion(known: readonly ClosedBatchVersion[], v: ClosedBatchVersion): PolicyResult {
  if (v.outpoints.length !== v.sighashes.length || v.outpoints.length === 0) {
    return refuse('batch-version-conflict', { batchId: v.batchId.toString(), txid: v.txid, reason: 'inputs and sighashes differ in number' });
  }
  const same = known.find((k) => k.txid === v.txid);
  if (same !== undefined) {
    const equal = same.outpoints.join() === v.outpoints.join() && same.sighashes.join() === v.sighashes.join();
    return equal ? ok(true) : refuse('batch-version-conflict', { batchId: v.batchId.toString(), txid: v.txid });
  }
  const first = known[0];
  if (first !== undefined && first.outpoints.join() !== v.outpoints.join()) {
    return refuse('batch-inputs-differ', { batchId: v.batchId.toString(), txid: v.txid, knownTxid: first.txid });
  }
  return ok(false);
}

/** A payout signature is allowed only over the sighash of input `inputIndex` of a closed version of the batch. */
export function checkPayout(versions: readonly ClosedBatchVersion[], req: { batchId: bigint; txid: string; inputIndex: number; sighash: string }, existing?: PayoutSignEntry): PolicyResult {
  const v = versions.find((x) => x.txid === req.txid && x.batchId === req.batchId);
  if (v === undefined) return refuse('batch-not-closed', { batchId: req.batchId.toString(), txid: req.txid });
  if (v.sighashes[req.inputIndex] !== req.sighash.toLowerCase()) {
    return refuse('sighash-not-of-batch', { batchId: req.batchId.toString(), txid: req.txid, inputIndex: req.inputIndex, sighash: req.sighash });
  }
  return ok(existing !== undefined);
}

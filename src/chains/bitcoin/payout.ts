import { Transaction, opcodes, script as bscript } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';
import {
  DUST_SATS,
  INCREMENTAL_RELAY_FEE_SAT_PER_KVB,
  MAX_STANDARD_TX_WEIGHT,
  PAYOUT_TX_VERSION,
  RBF_SEQUENCE,
} from './constants.js';
import { compareBytes, concatBytes, equalBytes, hexToBytes, reverseBytes, u64be } from './bytes.js';
import type { FederationScript } from './scripts.js';
import { paymentScriptKind } from './output-scripts.js';
import { feeFor, fixedWeight, inputWeight, outputWeight, vsizeOf, type FederationOutputKind } from './weight.js';

/** A UTXO the federation controls (the reserve, a deposit, or an old epoch's coin). */
export interface FederationUtxo {
  /** Display-order hex txid (as RPC shows it). */
  readonly txid: string;
  readonly vout: number;
  readonly amountSats: bigint;
  /** Bitcoin height of the block that confirmed it: the first ordering key. */
  readonly height: number;
  /** The epoch script it pays and how (P2WSH or P2SH-P2WSH). */
  readonly script: FederationScript;
  readonly kind: FederationOutputKind;
}

/** A queued `transferToForeign` (or a deposit refund queued the same way). */
export interface Withdrawal {
  /** Sequential id from the home contract (u64). */
  readonly id: bigint;
  /** BTCT burned for it, in satoshis; the miner fee share is taken from this. */
  readonly amountSats: bigint;
  /** Recipient output script (standard P2PKH/P2SH/P2WPKH/P2WSH/P2TR, never a federation script). */
  readonly outputScript: Uint8Array;
}

export interface PayoutLimits {
  /** Miner fee rate, satoshis per 1000 vbytes. */
  feeRateSatPerKvB: bigint;
  /** Cap on inputs, the reserve included (the contract derives it from its gas budget per input). */
  maxInputs: number;
  /** Cap on withdrawal outputs. */
  maxWithdrawals: number;
  /** Cap on the estimated transaction weight. */
  maxWeight: number;
}

export const DEFAULT_PAYOUT_LIMITS: Readonly<Omit<PayoutLimits, 'feeRateSatPerKvB'>> = {
  maxInputs: 10,
  maxWithdrawals: 100,
  maxWeight: 100_000,
};

export interface PayoutRequest {
  readonly batchId: bigint;
  /** Last batch's change output (absent only before the first payout). */
  readonly reserve: FederationUtxo | undefined;
  /** Unspent deposit UTXOs in the ledger, any order. */
  readonly deposits: readonly FederationUtxo[];
  /** Queued withdrawals, any order. */
  readonly withdrawals: readonly Withdrawal[];
  /** The current epoch's script: the change (new reserve) goes to its P2WSH. */
  readonly changeScript: FederationScript;
  readonly limits: PayoutLimits;
}

export interface PaidWithdrawal {
  readonly withdrawal: Withdrawal;
  readonly outputIndex: number;
  /** This withdrawal's share of the miner fee. */
  readonly feeSats: bigint;
  /** amountSats − feeSats: the value of its output. */
  readonly valueSats: bigint;
}

export interface PayoutPlan {
  readonly batchId: bigint;
  /** Unsigned transaction (scriptSigs of P2SH-P2WSH inputs set, no witnesses); null when nothing is payable. */
  readonly tx: Transaction | null;
  readonly txid: string | null;
  readonly inputs: readonly FederationUtxo[];
  readonly paid: readonly PaidWithdrawal[];
  /** Withdrawals that cannot be paid because their output would be below dust after fees: refund them. */
  readonly unpayable: readonly Withdrawal[];
  readonly changeSats: bigint;
  /** Sum of the fee shares: what the miner receives. */
  readonly feeSats: bigint;
  readonly estimatedWeight: number;
  readonly estimatedVsize: number;
}

/** Payout OP_RETURN data prefix: ASCII "FNP" and format version 1. */
export const PAYOUT_MAGIC = Uint8Array.of(0x46, 0x4e, 0x50, 0x01);

/** `OP_RETURN <"FNP" 0x01 ‖ batchId u64 BE>`: 14 bytes, identifies the batch on Bitcoin. */
export function payoutOpReturn(batchId: bigint): Uint8Array {
  checkU64(batchId, 'batchId');
  return bscript.compile([opcodes.OP_RETURN, concatBytes(PAYOUT_MAGIC, u64be(batchId))]);
}

/** Batch id from a payout OP_RETURN script, or undefined. */
export function parsePayoutOpReturn(outputScript: Uint8Array): bigint | undefined {
  if (outputScript.length !== 14 || outputScript[0] !== opcodes.OP_RETURN || outputScript[1] !== 12) return undefined;
  if (!equalBytes(outputScript.subarray(2, 6), PAYOUT_MAGIC)) return undefined;
  return new DataView(outputScript.buffer, outputScript.byteOffset + 6, 8).getBigUint64(0, false);
}

/** Display txid → internal byte order (as in an outpoint). */
export function txidToInternal(txid: string): Uint8Array {
  const b = hexToBytes(txid);
  if (b.length !== 32) throw new BridgeError({ code: 'BTC_BAD_TXID', txid });
  return reverseBytes(b);
}

/**
 * Canonical UTXO order: height ascending, then the internal-order txid
 * compared as a big-endian 256-bit integer, then vout ascending. Every piece
 * is in home state, so the contract orders exactly the same way.
 */
export function compareUtxos(a: FederationUtxo, b: FederationUtxo): number {
  return a.height - b.height || compareBytes(txidToInternal(a.txid), txidToInternal(b.txid)) || a.vout - b.vout;
}

/**
 * The unsigned payout transaction as a pure function of home state
 * (docs/PROTOCOL.md §Payout). The input order of the arrays does not
 * matter: everything is sorted canonically first.
 */
export function buildPayout(req: PayoutRequest): PayoutPlan {
  const { limits } = req;
  checkLimits(limits);
  const changeOutput = req.changeScript.p2wshOutput;
  const opReturn = payoutOpReturn(req.batchId);

  // 1. Inputs: reserve first, then deposits in canonical order, while caps allow.
  const deposits = [...req.deposits].sort(compareUtxos);
  assertDistinct([...(req.reserve ? [req.reserve] : []), ...deposits]);
  const inputs: FederationUtxo[] = [];
  let inputsWeight = 0;
  const withOutputsWeight = (nIn: number, nOut: number, outs: number): number => fixedWeight(nIn, nOut) + inputsWeight + outs;
  const baseOutputs = outputWeight(changeOutput) + outputWeight(opReturn);
  for (const u of [...(req.reserve ? [req.reserve] : []), ...deposits]) {
    if (inputs.length >= limits.maxInputs) break;
    const w = inputWeight(u.script, u.kind);
    inputsWeight += w;
    if (withOutputsWeight(inputs.length + 1, 2, baseOutputs) > limits.maxWeight) {
      inputsWeight -= w;
      break;
    }
    inputs.push(u);
  }
  const inputSum = inputs.reduce((s, u) => s + u.amountSats, 0n);

  // 2. Withdrawals in id order while count, value (change must stay ≥ dust) and weight allow; stop at the first that does not fit.
  const queue = [...req.withdrawals].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < queue.length; i++) {
    if (queue[i]!.id === queue[i - 1]!.id) throw new BridgeError({ code: 'BTC_PAYOUT_DUPLICATE_WITHDRAWAL', id: queue[i]!.id });
  }
  let selected: Withdrawal[] = [];
  let selectedSum = 0n;
  let outsWeight = baseOutputs;
  for (const w of queue) {
    checkWithdrawal(w, req);
    const ow = outputWeight(w.outputScript);
    if (selected.length >= limits.maxWithdrawals) break;
    if (selectedSum + w.amountSats > inputSum - DUST_SATS) break;
    if (withOutputsWeight(inputs.length, selected.length + 3, outsWeight + ow) > limits.maxWeight) break;
    selected.push(w);
    selectedSum += w.amountSats;
    outsWeight += ow;
  }

  // 3-4. Fee for the estimated size, split pro rata; drop outputs that end below dust and repeat.
  const unpayable: Withdrawal[] = [];
  for (;;) {
    const weight = fixedWeight(inputs.length, selected.length + 2) + inputsWeight + baseOutputs + selected.reduce((s, w) => s + outputWeight(w.outputScript), 0);
    const vsize = vsizeOf(weight);
    const fee = feeFor(vsize, limits.feeRateSatPerKvB);
    const total = selected.reduce((s, w) => s + w.amountSats, 0n);
    const shares = selected.map((w) => ({ w, fee: total === 0n ? 0n : ceilDiv(fee * w.amountSats, total) }));
    const dust = shares.filter((s) => s.w.amountSats - s.fee < DUST_SATS);
    if (dust.length > 0) {
      unpayable.push(...dust.map((s) => s.w));
      selected = selected.filter((w) => !dust.some((d) => d.w === w));
      continue;
    }
    if (selected.length === 0) {
      return { batchId: req.batchId, tx: null, txid: null, inputs: [], paid: [], unpayable, changeSats: 0n, feeSats: 0n, estimatedWeight: 0, estimatedVsize: 0 };
    }
    // 5. Outputs: change first, withdrawals in id order, OP_RETURN last.
    const change = inputSum - total;
    const tx = newPayoutTransaction(inputs);
    tx.addOutput(changeOutput, change);
    const paid = shares.map((s, i) => {
      tx.addOutput(s.w.outputScript, s.w.amountSats - s.fee);
      return { withdrawal: s.w, outputIndex: i + 1, feeSats: s.fee, valueSats: s.w.amountSats - s.fee };
    });
    tx.addOutput(opReturn, 0n);
    const feeSats = shares.reduce((s, x) => s + x.fee, 0n);
    return { batchId: req.batchId, tx, txid: tx.getId(), inputs, paid, unpayable, changeSats: change, feeSats, estimatedWeight: weight, estimatedVsize: vsize };
  }
}

export interface FeeBumpRequest {
  readonly plan: PayoutPlan;
  readonly feeRateSatPerKvB: bigint;
  /**
   * The ledger surplus (Σ ledger UTXOs − BTCT supply) the bump may spend:
   * the extra fee comes out of the change, not out of the withdrawals.
   */
  readonly maxExtraFeeSats: bigint;
}

/**
 * A BIP-125 replacement of `plan`: same inputs, same withdrawal outputs and
 * OP_RETURN, only the change lowered. The new total fee is the larger of the
 * target rate and the old fee plus the incremental relay fee (rule 4).
 */
export function bumpPayoutFee(req: FeeBumpRequest): PayoutPlan {
  const { plan } = req;
  if (plan.tx === null) throw new BridgeError({ code: 'BTC_BUMP_NOTHING_TO_BUMP', batchId: plan.batchId });
  const vsize = plan.estimatedVsize;
  const target = feeFor(vsize, req.feeRateSatPerKvB);
  const minimum = plan.feeSats + feeFor(vsize, INCREMENTAL_RELAY_FEE_SAT_PER_KVB);
  const newFee = target > minimum ? target : minimum;
  const extra = newFee - plan.feeSats;
  if (extra > req.maxExtraFeeSats) {
    throw new BridgeError({ code: 'BTC_BUMP_EXCEEDS_SURPLUS', extraFeeSats: extra, maxExtraFeeSats: req.maxExtraFeeSats });
  }
  const change = plan.changeSats - extra;
  if (change < DUST_SATS) throw new BridgeError({ code: 'BTC_BUMP_CHANGE_BELOW_DUST', changeSats: change, limit: DUST_SATS });
  const tx = plan.tx.clone();
  tx.outs[0]!.value = change;
  return { ...plan, tx, txid: tx.getId(), changeSats: change, feeSats: newFee };
}

export interface SweepRequest {
  readonly batchId: bigint;
  /** An old epoch's UTXOs, any order. */
  readonly utxos: readonly FederationUtxo[];
  /** The new epoch's script (receives the sweep at its P2WSH). */
  readonly toScript: FederationScript;
  readonly limits: PayoutLimits;
  /** The ledger surplus the sweep's miner fee may spend (no withdrawal pays for a sweep). */
  readonly maxFeeSats: bigint;
}

export interface SweepPlan {
  readonly batchId: bigint;
  readonly tx: Transaction;
  readonly txid: string;
  readonly inputs: readonly FederationUtxo[];
  readonly valueSats: bigint;
  readonly feeSats: bigint;
  readonly estimatedWeight: number;
  readonly estimatedVsize: number;
}

/**
 * Moves an old epoch's UTXOs, oldest first and capped like a payout's inputs,
 * to the new script: outputs `[P2WSH(new) = Σ − fee, OP_RETURN batch]`.
 */
export function buildSweep(req: SweepRequest): SweepPlan {
  checkLimits(req.limits);
  const sorted = [...req.utxos].sort(compareUtxos);
  assertDistinct(sorted);
  const out = req.toScript.p2wshOutput;
  const opReturn = payoutOpReturn(req.batchId);
  const outs = outputWeight(out) + outputWeight(opReturn);
  const inputs: FederationUtxo[] = [];
  let inW = 0;
  for (const u of sorted) {
    if (inputs.length >= req.limits.maxInputs) break;
    const w = inputWeight(u.script, u.kind);
    if (fixedWeight(inputs.length + 1, 2) + inW + w + outs > req.limits.maxWeight) break;
    inputs.push(u);
    inW += w;
  }
  if (inputs.length === 0) throw new BridgeError({ code: 'BTC_SWEEP_NO_INPUTS' });
  const weight = fixedWeight(inputs.length, 2) + inW + outs;
  const vsize = vsizeOf(weight);
  const fee = feeFor(vsize, req.limits.feeRateSatPerKvB);
  if (fee > req.maxFeeSats) throw new BridgeError({ code: 'BTC_SWEEP_FEE_EXCEEDS_SURPLUS', feeSats: fee, maxFeeSats: req.maxFeeSats });
  const total = inputs.reduce((s, u) => s + u.amountSats, 0n);
  const value = total - fee;
  if (value < DUST_SATS) throw new BridgeError({ code: 'BTC_SWEEP_BELOW_DUST', valueSats: value, limit: DUST_SATS });
  const tx = newPayoutTransaction(inputs);
  tx.addOutput(out, value);
  tx.addOutput(opReturn, 0n);
  return { batchId: req.batchId, tx, txid: tx.getId(), inputs, valueSats: value, feeSats: fee, estimatedWeight: weight, estimatedVsize: vsize };
}

/** version 2, locktime 0, every input nSequence 0xfffffffd (BIP-125 opt-in), P2SH-P2WSH scriptSigs set. */
function newPayoutTransaction(inputs: readonly FederationUtxo[]): Transaction {
  const tx = new Transaction();
  tx.version = PAYOUT_TX_VERSION;
  tx.locktime = 0;
  for (const u of inputs) {
    const scriptSig = u.kind === 'p2sh-p2wsh' ? bscript.compile([u.script.p2shRedeemScript]) : new Uint8Array(0);
    tx.addInput(txidToInternal(u.txid), u.vout, RBF_SEQUENCE, scriptSig);
  }
  return tx;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function checkU64(v: bigint, name: string): void {
  if (v < 0n || v >= 1n << 64n) throw new BridgeError({ code: 'BTC_VALUE_OUT_OF_RANGE', field: name, value: v });
}

function checkLimits(l: PayoutLimits): void {
  if (l.feeRateSatPerKvB < 0n) throw new BridgeError({ code: 'BTC_PAYOUT_BAD_FEE_RATE', feeRateSatPerKvB: l.feeRateSatPerKvB });
  if (l.maxWeight > MAX_STANDARD_TX_WEIGHT) {
    throw new BridgeError({ code: 'BTC_PAYOUT_WEIGHT_CAP_ABOVE_STANDARD', maxWeight: l.maxWeight, limit: MAX_STANDARD_TX_WEIGHT });
  }
  if (l.maxInputs < 1 || l.maxWithdrawals < 1) throw new BridgeError({ code: 'BTC_PAYOUT_BAD_CAPS', maxInputs: l.maxInputs, maxWithdrawals: l.maxWithdrawals });
}

function checkWithdrawal(w: Withdrawal, req: PayoutRequest): void {
  checkU64(w.id, 'withdrawal.id');
  if (w.amountSats <= 0n) throw new BridgeError({ code: 'BTC_PAYOUT_BAD_AMOUNT', id: w.id, amountSats: w.amountSats });
  if (paymentScriptKind(w.outputScript) === undefined) throw new BridgeError({ code: 'BTC_PAYOUT_NONSTANDARD_RECIPIENT', id: w.id });
  const fed = [req.changeScript, ...[req.reserve, ...req.deposits].filter((u) => u !== undefined).map((u) => u.script)];
  if (fed.some((s) => equalBytes(w.outputScript, s.p2wshOutput) || equalBytes(w.outputScript, s.p2shP2wshOutput))) {
    throw new BridgeError({ code: 'BTC_PAYOUT_RECIPIENT_IS_FEDERATION', id: w.id });
  }
}

function assertDistinct(utxos: readonly FederationUtxo[]): void {
  const seen = new Set<string>();
  for (const u of utxos) {
    const k = `${u.txid}:${u.vout}`;
    if (seen.has(k)) throw new BridgeError({ code: 'BTC_PAYOUT_DUPLICATE_INPUT', outpoint: k });
    seen.add(k);
  }
}

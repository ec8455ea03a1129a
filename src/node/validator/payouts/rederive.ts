import type { Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../../../errors.js';
import { bytesToHex } from '../../../chains/bitcoin/bytes.js';
import { DUST_SATS, INCREMENTAL_RELAY_FEE_SAT_PER_KVB, MAX_STANDARD_TX_WEIGHT } from '../../../chains/bitcoin/constants.js';
import { buildPayout, buildSweep, type FederationUtxo, type PayoutPlan } from '../../../chains/bitcoin/payout.js';
import { feeFor } from '../../../chains/bitcoin/weight.js';
import type { FederationScript } from '../../../chains/bitcoin/scripts.js';
import { outpointKey, type LedgerEntry } from '../../../consensus/ledger.js';
import type { BatchView, VersionTxView } from './types.js';

/**
 * Independent re-derivation of a closed batch version (docs/CONSENSUS.md §8
 * step 4, docs/PROTOCOL.md §4): the node rebuilds the unsigned transaction
 * from the contract's view of the batch (inputs, withdrawals, epoch scripts,
 * fee rates) with the same pure builders the protocol pins, and accepts the
 * contract's `BatchClosed`/bump transaction only when the bytes are equal.
 * With the node's own ledger (derived from Bitcoin, docs/CONSENSUS.md §2.4)
 * every input must also be a federation UTXO the node knows, with the same
 * amount, epoch and kind, and the input order is checked against the heights
 * the node saw (PROTOCOL.md §4.2 "UTXO order").
 */

/** The node's own ledger, by outpoint key (`displayTxid:vout`). */
export type LedgerLookup = (outpoint: string) => LedgerEntry | undefined;

export interface RederiveInput {
  readonly view: BatchView;
  readonly version: bigint;
  /** The contract's transaction for `version`. */
  readonly contractTx: VersionTxView;
  /** Parsed and checked script of every epoch the batch touches (inputs and change). */
  readonly scripts: ReadonlyMap<number, FederationScript>;
  readonly ledger?: LedgerLookup;
  /** Node policy: refuse fee bumps above this rate (sat/kvB of the estimated vsize). */
  readonly maxBumpFeeRateSatPerKvB?: bigint;
}

export interface RederivedVersion {
  readonly batchId: bigint;
  readonly version: bigint;
  readonly tx: Transaction;
  /** Display txid. */
  readonly txid: string;
  /** The inputs in transaction order with their scripts (what signing and assembly take). */
  readonly inputs: readonly FederationUtxo[];
}

/** Size of the surplus bound handed to the builders: the contract enforces the real bound (PROTOCOL.md §4.5). */
const UNBOUNDED_SATS = (1n << 63n) - 1n;

/**
 * Throws `PAYOUT_TX_MISMATCH` (bytes differ), `PAYOUT_INPUT_UNKNOWN` (an input
 * the node's ledger does not hold yet: retry later), `PAYOUT_INPUT_MISMATCH`
 * (the ledger holds it with other data), `PAYOUT_VIEW_INCOMPLETE` or
 * `PAYOUT_REDERIVATION_FAILED` (the builders refuse the batch).
 */
export function rederiveVersion(req: RederiveInput): RederivedVersion {
  const { view, version } = req;
  if (version < 0n || version > view.latestVersion || view.versionFees.length <= Number(version) || view.feeRateCandidates.length === 0) {
    throw new BridgeError({ code: 'PAYOUT_VIEW_INCOMPLETE', batchId: view.batchId, version, latestVersion: view.latestVersion, versionFees: view.versionFees.length, feeRates: view.feeRateCandidates.length });
  }
  if (view.inputs.length === 0) throw new BridgeError({ code: 'PAYOUT_VIEW_INCOMPLETE', batchId: view.batchId, reason: 'no inputs' });
  const utxos = view.inputs.map((i, idx): FederationUtxo => {
    const script = scriptOf(req.scripts, i.epoch, view.batchId);
    let height = idx;
    if (req.ledger !== undefined) {
      const key = outpointKey(i.txid, i.vout);
      const e = req.ledger(key);
      if (e === undefined) throw new BridgeError({ code: 'PAYOUT_INPUT_UNKNOWN', batchId: view.batchId, input: idx, outpoint: key });
      if (e.amountSats !== i.amountSats || e.epoch !== i.epoch || e.kind !== i.kind) {
        throw new BridgeError({ code: 'PAYOUT_INPUT_MISMATCH', batchId: view.batchId, input: idx, outpoint: key, ledger: `${e.amountSats} sat, epoch ${e.epoch}, ${e.kind}`, contract: `${i.amountSats} sat, epoch ${i.epoch}, ${i.kind}` });
      }
      height = e.height;
    }
    return { txid: i.txid.toLowerCase(), vout: i.vout, amountSats: i.amountSats, height, script, kind: i.kind };
  });
  const changeScript = scriptOf(req.scripts, view.changeEpoch, view.batchId);
  const expected = bytesToHex(req.contractTx.unsignedTx);

  // The reserve (last change) is spent first when present; the view does not say which input it
  // is, so both readings are tried: they are the protocol's only two orders for this input set.
  // A sweep too: `closeSweep` always spends the reserve first, then the old deposits in queue
  // (UTXO) order (CONTRACTS.md "Sweeps"), and the reserve is usually the newest of them (the
  // change of the last payout), so the all-in-UTXO-order reading alone would differ in order.
  const candidates: PayoutPlan[] = [];
  let lastError: unknown;
  const readings = [utxos[0], undefined];
  for (const feeRate of view.feeRateCandidates) {
    for (const reserve of readings) {
      try {
        candidates.push(bumped(view, version, firstVersion(view, utxos, reserve, changeScript, feeRate), req.maxBumpFeeRateSatPerKvB));
      } catch (e) {
        lastError = e;
      }
    }
  }
  if (candidates.length === 0) {
    throw new BridgeError({ code: 'PAYOUT_REDERIVATION_FAILED', batchId: view.batchId, version, cause: lastError, reason: lastError instanceof BridgeError ? lastError.code : String(lastError) });
  }
  const match = candidates.find((p) => p.tx !== null && p.tx.toHex() === expected && p.inputs.length === utxos.length);
  if (match === undefined) {
    const ours = candidates[0]!.tx?.toHex() ?? '';
    throw new BridgeError({
      code: 'PAYOUT_TX_MISMATCH',
      batchId: view.batchId,
      kind: view.kind,
      version,
      contractTxid: req.contractTx.txid,
      derivedTxid: candidates[0]!.txid,
      firstDifferentByte: firstDifference(ours, expected),
      derivedBytes: ours.length / 2,
      contractBytes: expected.length / 2,
    });
  }
  if (match.txid !== req.contractTx.txid.toLowerCase()) {
    throw new BridgeError({ code: 'PAYOUT_TX_MISMATCH', batchId: view.batchId, version, contractTxid: req.contractTx.txid, derivedTxid: match.txid, reason: 'txid' });
  }
  return { batchId: view.batchId, version, tx: match.tx!, txid: match.txid!, inputs: match.inputs };
}

function firstVersion(view: BatchView, utxos: readonly FederationUtxo[], reserve: FederationUtxo | undefined, changeScript: FederationScript, feeRate: bigint): PayoutPlan {
  const limits = { feeRateSatPerKvB: feeRate, maxInputs: utxos.length, maxWithdrawals: Math.max(1, view.withdrawals.length), maxWeight: MAX_STANDARD_TX_WEIGHT };
  if (view.kind === 'sweep') {
    // buildSweep orders its inputs by UTXO order: a reserve spent first is handed over with a
    // height below every other input (heights only order; the real entry is restored below).
    const first = reserve === undefined ? undefined : { ...reserve, height: Math.min(...utxos.map((u) => u.height)) - 1 };
    const given = first === undefined ? utxos : [first, ...utxos.filter((u) => u !== reserve)];
    const s = buildSweep({ batchId: view.batchId, utxos: given, toScript: changeScript, limits, maxFeeSats: UNBOUNDED_SATS });
    const inputs = s.inputs.map((u) => (u === first ? reserve! : u));
    return { batchId: s.batchId, tx: s.tx, txid: s.txid, inputs, paid: [], unpayable: [], changeSats: s.valueSats, feeSats: s.feeSats, estimatedWeight: s.estimatedWeight, estimatedVsize: s.estimatedVsize };
  }
  const plan = buildPayout({
    batchId: view.batchId,
    reserve,
    deposits: reserve === undefined ? utxos : utxos.slice(1),
    withdrawals: view.withdrawals.map((w) => ({ id: w.id, amountSats: w.amountSats, outputScript: w.outputScript })),
    changeScript,
    limits,
  });
  if (plan.paid.length !== view.withdrawals.length) {
    throw new BridgeError({ code: 'PAYOUT_TX_MISMATCH', batchId: view.batchId, reason: 'withdrawals the contract lists are not all payable', paid: plan.paid.length, listed: view.withdrawals.length });
  }
  return plan;
}

/**
 * Versions 1..v (PROTOCOL.md §4.6): each is the previous one with only the change (output 0)
 * lowered by the fee increase. The contract does not keep the rate a bump used, so the node
 * checks the rules a bump must satisfy rather than one rate: the new fee pays at least the
 * BIP-125 rule-4 increment (1 sat/vB of the estimated vsize), at most `maxFeeRate` (node
 * policy, when set), and the change stays ≥ dust.
 */
function bumped(view: BatchView, version: bigint, plan: PayoutPlan, maxFeeRate: bigint | undefined): PayoutPlan {
  let p = plan;
  for (let v = 1; v <= Number(version); v++) {
    const newFee = view.versionFees[v]!;
    const minimum = p.feeSats + feeFor(p.estimatedVsize, INCREMENTAL_RELAY_FEE_SAT_PER_KVB);
    if (newFee < minimum) throw new BridgeError({ code: 'PAYOUT_BUMP_TOO_SMALL', batchId: view.batchId, version: v, feeSats: newFee, minimum });
    if (maxFeeRate !== undefined && newFee > feeFor(p.estimatedVsize, maxFeeRate)) {
      throw new BridgeError({ code: 'PAYOUT_BUMP_ABOVE_POLICY', batchId: view.batchId, version: v, feeSats: newFee, maxFeeRate });
    }
    const change = p.changeSats - (newFee - p.feeSats);
    if (change < DUST_SATS) throw new BridgeError({ code: 'PAYOUT_BUMP_CHANGE_BELOW_DUST', batchId: view.batchId, version: v, changeSats: change });
    const tx = p.tx!.clone();
    tx.outs[0]!.value = change;
    p = { ...p, tx, txid: tx.getId(), changeSats: change, feeSats: newFee };
  }
  return p;
}

function scriptOf(scripts: ReadonlyMap<number, FederationScript>, epoch: number, batchId: bigint): FederationScript {
  const s = scripts.get(epoch);
  if (s === undefined) throw new BridgeError({ code: 'PAYOUT_VIEW_INCOMPLETE', batchId, reason: 'epoch script missing', epoch });
  return s;
}

/** Byte offset of the first difference of two hex strings (or the shorter length). */
function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 2) if (a.slice(i, i + 2) !== b.slice(i, i + 2)) return i / 2;
  return n / 2;
}

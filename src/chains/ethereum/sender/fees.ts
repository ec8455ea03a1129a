/**
 * EIP-1559 fee choice and replacement bumps. A replacement with the same nonce must raise both
 * the fee cap and the tip by at least 10% (geth's and most clients' rule), or nodes drop it as
 * "replacement transaction underpriced".
 */
import { BridgeError } from '../../../errors.js';

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

export interface FeePolicy {
  /** Fee cap = baseFeeMultiplier × base fee + tip: room for base-fee rises over several blocks. */
  baseFeeMultiplier: bigint;
  /** Tip when the node has no suggestion. */
  defaultPriorityFeePerGas: bigint;
  /** Never pay more than this per gas (fee cap) – bumps stop here. */
  maxFeePerGasCap: bigint;
  /** Replacement bump in percent; at least 10. */
  bumpPercent: number;
}

export const MIN_BUMP_PERCENT = 10;

export function validateFeePolicy(p: FeePolicy): void {
  if (!(p.bumpPercent >= MIN_BUMP_PERCENT)) throw new BridgeError({ code: 'ETH_SENDER_BAD_OPTIONS', field: 'bumpPercent', value: p.bumpPercent, min: MIN_BUMP_PERCENT });
  if (p.baseFeeMultiplier < 1n) throw new BridgeError({ code: 'ETH_SENDER_BAD_OPTIONS', field: 'baseFeeMultiplier' });
}

/** Fees for a first attempt at the current base fee and suggested tip, within the cap. */
export function initialFees(baseFee: bigint, suggestedTip: bigint | undefined, p: FeePolicy): Fees {
  const tip = suggestedTip ?? p.defaultPriorityFeePerGas;
  let maxFee = baseFee * p.baseFeeMultiplier + tip;
  if (maxFee > p.maxFeePerGasCap) maxFee = p.maxFeePerGasCap;
  return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip > maxFee ? maxFee : tip };
}

/** `v` raised by `percent`, rounded up (basis-point integer math; never below +1 wei). */
export function raise(v: bigint, percent: number): bigint {
  const bp = BigInt(Math.round(percent * 100));
  const r = (v * (10_000n + bp) + 9_999n) / 10_000n;
  return r > v ? r : v + 1n;
}

/**
 * The replacement's fees: each at least `bumpPercent` above the stuck attempt, and no less than
 * what a fresh transaction would pay now. Undefined when the bump would pass the cap.
 */
export function bumpedFees(prev: Fees, baseFee: bigint, suggestedTip: bigint | undefined, p: FeePolicy): Fees | undefined {
  const fresh = initialFees(baseFee, suggestedTip, { ...p, maxFeePerGasCap: 2n ** 255n });
  const tip = max(raise(prev.maxPriorityFeePerGas, p.bumpPercent), fresh.maxPriorityFeePerGas);
  const maxFee = max(raise(prev.maxFeePerGas, p.bumpPercent), fresh.maxFeePerGas, tip);
  if (maxFee > p.maxFeePerGasCap) return undefined;
  return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
}

function max(...v: bigint[]): bigint {
  return v.reduce((a, b) => (a > b ? a : b));
}

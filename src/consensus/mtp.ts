/**
 * BIP-113 median-time-past: the median of the timestamps of the 11 blocks
 * before a block. Bitcoin Core reports the same number as `mediantime` of the
 * block before (it includes the block itself), so "MTP of block b+1" is
 * Core's `mediantime` of block b: computable when block b is known.
 */
export const MTP_SPAN = 11;

/** Median of up to the last 11 timestamps given (oldest first), as Core's GetMedianTimePast. */
export function medianTimePast(timestamps: readonly number[]): number {
  if (timestamps.length === 0) return 0;
  const last = [...timestamps.slice(-MTP_SPAN)].sort((a, b) => a - b);
  return last[Math.floor(last.length / 2)]!;
}

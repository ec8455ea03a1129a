import { BridgeError } from '../errors.js';

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

/** The last (up to) 11 block timestamps ending at `height`: enough to give Core's `mediantime` of that block. */
export interface TimestampWindow {
  readonly height: number;
  readonly timestamps: readonly number[];
}

/**
 * Appends block `height`'s header timestamp. Heights must follow each other
 * (a gap or a repeat means the caller lost track, e.g. across a reorg: start
 * a new window from the headers).
 */
export function pushTimestamp(w: TimestampWindow | undefined, height: number, timestamp: number): TimestampWindow {
  if (w !== undefined && height !== w.height + 1) {
    throw new BridgeError({ code: 'CONSENSUS_TIMESTAMP_WINDOW_GAP', expected: w.height + 1, got: height });
  }
  return { height, timestamps: [...(w?.timestamps ?? []), timestamp].slice(-MTP_SPAN) };
}

/** Core `mediantime` of the window's last block (median of it and its 10 predecessors). */
export function windowMedianTime(w: TimestampWindow): number {
  return medianTimePast(w.timestamps);
}

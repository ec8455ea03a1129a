import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isBridgeError } from '../../src/errors.js';
import { CollectionClock, majorityThreshold, rotationOrder } from '../../src/consensus/quorum.js';
import { assertMaySign, reorgHalt } from '../../src/consensus/safety.js';

const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isBridgeError(e) ? e.code : String(e);
  }
};

describe('safety rules', () => {
  it('stops signing while the home view is older than the scheduling margin, or while halted', () => {
    const base = { now: 10_000, homeViewTime: 9_000, schedulingMarginSeconds: 1_000, halt: undefined };
    expect(code(() => assertMaySign(base))).toBeUndefined();
    expect(code(() => assertMaySign({ ...base, now: 10_001 }))).toBe('CONSENSUS_HOME_VIEW_STALE');
    expect(code(() => assertMaySign({ ...base, halt: { reason: 'reorg', height: 5, at: 1 } }))).toBe('CONSENSUS_SIGNING_HALTED');
  });

  it('halts on a reorg only when it reaches a signed height', () => {
    expect(reorgHalt(undefined, { forkHeight: 1 }, 0)).toBeUndefined();
    expect(reorgHalt(99, { forkHeight: 100 }, 0)).toBeUndefined();
    expect(reorgHalt(100, { forkHeight: 100 }, 7)).toEqual({ reason: 'reorg', height: 100, signedHeight: 100, at: 7 });
  });
});

describe('quorum and rotation', () => {
  it('threshold is N/2+1 by count, the BMV majority rule', () => {
    for (let n = 1; n <= 100; n++) {
      const t = majorityThreshold(n);
      expect(t * 2 > n && (t - 1) * 2 <= n).toBe(true);
    }
  });

  it('rotation is a permutation starting at key mod n; takeovers come one timeout apart (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.bigInt({ min: 0n, max: 1n << 64n }), fc.nat({ max: 10_000 }), (n, key, q) => {
        const ps = Array.from({ length: n }, (_, i) => i);
        const order = rotationOrder(ps, key);
        expect([...order].sort((a, b) => a - b)).toEqual(ps);
        expect(order[0]).toBe(Number(key % BigInt(n)));
        const c = new CollectionClock(0, { collectAfterQuorumMs: 100, takeoverTimeoutMs: 1_000 });
        c.update(true, false, q);
        expect(c.eligiblePositions(q + 99, n)).toBe(0);
        expect(c.eligiblePositions(q + 100, n)).toBe(1);
        expect(c.eligiblePositions(q + 100 + 1_000 * (n + 5), n)).toBe(n);
        c.markSubmitted();
        expect(c.eligiblePositions(q + 100, n)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

describe('median time past', () => {
  it('is the median of the last 11 timestamps, in a window that refuses gaps', async () => {
    const { medianTimePast, pushTimestamp, windowMedianTime } = await import('../../src/consensus/mtp.js');
    expect(medianTimePast([5, 1, 3])).toBe(3);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 2_000_000_000 }), { minLength: 1, maxLength: 40 }), (ts) => {
        let w: ReturnType<typeof pushTimestamp> | undefined;
        ts.forEach((t, i) => (w = pushTimestamp(w, 100 + i, t)));
        const last = ts.slice(-11).sort((a, b) => a - b);
        expect(windowMedianTime(w!)).toBe(last[Math.floor(last.length / 2)]);
        // never below more than half of the window (the median property)
        expect(last.filter((t) => t < windowMedianTime(w!)).length).toBeLessThanOrEqual(Math.floor(last.length / 2));
      }),
      { numRuns: 100 },
    );
    expect(code(() => pushTimestamp({ height: 5, timestamps: [1] }, 7, 2))).toBe('CONSENSUS_TIMESTAMP_WINDOW_GAP');
  });
});

import { describe, expect, it } from 'vitest';
import { derivationHealth } from '../../../src/node/validator/readiness.js';

describe('derivationHealth', () => {
  const base = { nextHeight: 812, stuckAfterMs: 30_000 };

  it('is ready while deriving', () => {
    expect(derivationHealth({ ...base, lastError: undefined, failingSince: undefined, now: 1_000_000 })).toEqual({ ok: true });
  });

  it('stays ready through a short run of failures, and says what it is retrying', () => {
    const r = derivationHealth({ ...base, lastError: 'home view stale', failingSince: 1_000_000, now: 1_029_999 });
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('retrying height 812');
  });

  it('is not ready once every attempt has failed for stuckAfterMs, naming the height, the time and the error', () => {
    const r = derivationHealth({ ...base, lastError: 'BTC_RPC_ERROR: getblock', failingSince: 1_000_000, now: 1_045_000 });
    expect(r).toEqual({ ok: false, detail: 'height 812 not derived for 45 s: BTC_RPC_ERROR: getblock' });
  });
});

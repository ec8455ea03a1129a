import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS, fuzzTarget } from './fuzz-harness.js';

// The short version of decoders.fuzz.ts for the default suite.
describe('BTP decoders under fuzzing (short run)', () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: 2,000 cases, only typed errors`, () => {
      const stats = fuzzTarget(target, 2_000);
      expect(stats.cases).toBe(2_000);
    });
  }
});

import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS, fuzzTarget } from './fuzz-harness.js';

// `npm run fuzz`: >= 100,000 cases per decoder (random bytes and mutations of valid encodings).
const CASES = Number(process.env.BTP_FUZZ_CASES ?? 100_000);

describe('BTP decoders under fuzzing (long run)', () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: ${CASES} cases, only typed errors, accepted inputs are canonical`, () => {
      const stats = fuzzTarget(target, CASES, 0xc0ffee);
      console.log(`fuzz ${target.name}: ${stats.cases} cases, ${stats.accepted} accepted`);
      expect(stats.cases).toBe(CASES);
    });
  }
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bumpedFees, initialFees, raise, validateFeePolicy, type FeePolicy } from '../../../../src/chains/ethereum/sender/fees.js';
import { decodeRevert } from '../../../../src/chains/ethereum/sender/revert.js';
import { isBridgeError } from '../../../../src/errors.js';

const policy: FeePolicy = { baseFeeMultiplier: 2n, defaultPriorityFeePerGas: 10n ** 9n, maxFeePerGasCap: 10n ** 15n, bumpPercent: 10 };

describe('fee rules', () => {
  it('a replacement raises both fee fields by at least the bump percentage (>= 10%)', () => {
    fc.assert(fc.property(
      fc.bigInt({ min: 1n, max: 10n ** 13n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 10, max: 100 }),
      (maxFee, tip0, baseFee, pct) => {
        const prev = { maxFeePerGas: maxFee + tip0, maxPriorityFeePerGas: tip0 };
        const b = bumpedFees(prev, baseFee, undefined, { ...policy, bumpPercent: pct });
        if (b === undefined) return;
        expect(b.maxFeePerGas * 100n).toBeGreaterThanOrEqual(prev.maxFeePerGas * BigInt(100 + pct));
        expect(b.maxPriorityFeePerGas * 100n).toBeGreaterThanOrEqual(prev.maxPriorityFeePerGas * BigInt(100 + pct));
        expect(b.maxFeePerGas).toBeGreaterThanOrEqual(b.maxPriorityFeePerGas);
        expect(b.maxFeePerGas).toBeGreaterThanOrEqual(baseFee * 2n);
      }));
  });

  it('stops bumping at the fee cap, and never starts above it', () => {
    const capped = { ...policy, maxFeePerGasCap: 100n };
    expect(bumpedFees({ maxFeePerGas: 95n, maxPriorityFeePerGas: 1n }, 1n, 1n, capped)).toBeUndefined();
    expect(initialFees(1_000n, 5n, capped).maxFeePerGas).toBe(100n);
    expect(raise(0n, 10)).toBe(1n);
  });

  it('refuses a bump below 10%', () => {
    let err: unknown;
    try { validateFeePolicy({ ...policy, bumpPercent: 9.9 }); } catch (e) { err = e; }
    expect(isBridgeError(err, 'ETH_SENDER_BAD_OPTIONS')).toBe(true);
  });

  it('decodes the built-in Error(string) revert', () => {
    // Error("nope")
    const data = '0x08c379a0' + '20'.padStart(64, '0') + '4'.padStart(64, '0') + Buffer.from('nope').toString('hex').padEnd(64, '0');
    expect(decodeRevert(data)).toMatchObject({ name: 'Error', args: ['nope'] });
    expect(decodeRevert('0xdeadbeef')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { payments } from 'bitcoinjs-lib';
import { isBridgeError } from '../../../src/errors.js';
import {
  buildPayout,
  buildSweep,
  bumpPayoutFee,
  compareUtxos,
  parsePayoutOpReturn,
  payoutOpReturn,
  type FederationUtxo,
  type PayoutLimits,
  type Withdrawal,
} from '../../../src/chains/bitcoin/payout.js';
import { DUST_SATS, RBF_SEQUENCE } from '../../../src/chains/bitcoin/constants.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { feeFor, vsizeOf } from '../../../src/chains/bitcoin/weight.js';
import { testFederation } from '../../fixtures/bitcoin/regtest.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

const fed = testFederation(15, 8, 1);
const old = testFederation(3, 2, 0, undefined, 'old');
const LIMITS: PayoutLimits = { feeRateSatPerKvB: 5_000n, maxInputs: 8, maxWithdrawals: 40, maxWeight: 60_000 };
const recipients = testKeys(8, 'recipients').map((k) => payments.p2wpkh({ pubkey: k.publicKey }).output!);

const utxoArb = fc.record({
  txid: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b)),
  vout: fc.nat(5),
  amountSats: fc.bigInt(10_000n, 50_000_000n),
  height: fc.integer({ min: 432, max: 440 }),
  old: fc.boolean(),
  p2sh: fc.boolean(),
}).map((u): FederationUtxo => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, height: u.height, script: u.old ? old.script : fed.script, kind: u.p2sh ? 'p2sh-p2wsh' : 'p2wsh' }));

const withdrawalArb = fc.record({ amountSats: fc.bigInt(1n, 5_000_000n), to: fc.nat(recipients.length - 1) });

const requestArb = fc
  .record({
    reserve: fc.option(utxoArb, { nil: undefined }),
    deposits: fc.uniqueArray(utxoArb, { maxLength: 12, selector: (u) => `${u.txid}:${u.vout}` }),
    withdrawals: fc.array(withdrawalArb, { maxLength: 60 }),
    feeRate: fc.bigInt(0n, 50_000n),
    batchId: fc.bigInt(0n, (1n << 64n) - 1n),
  })
  .filter((r) => !r.reserve || !r.deposits.some((d) => d.txid === r.reserve!.txid && d.vout === r.reserve!.vout))
  .map((r) => ({
    batchId: r.batchId,
    reserve: r.reserve,
    deposits: r.deposits,
    withdrawals: r.withdrawals.map((w, i): Withdrawal => ({ id: BigInt(i * 3 + 1), amountSats: w.amountSats, outputScript: recipients[w.to]! })),
    changeScript: fed.script,
    limits: { ...LIMITS, feeRateSatPerKvB: r.feeRate },
  }));

describe('buildPayout properties', () => {
  it('is deterministic whatever order deposits and withdrawals arrived in', () => {
    fc.assert(
      fc.property(requestArb, fc.func(fc.integer()), fc.func(fc.integer()), (req, f1, f2) => {
        const a = buildPayout(req);
        const shuffled = {
          ...req,
          deposits: [...req.deposits].sort((x, y) => f1(x.txid + x.vout) - f1(y.txid + y.vout)),
          withdrawals: [...req.withdrawals].sort((x, y) => f2(String(x.id)) - f2(String(y.id))),
        };
        const b = buildPayout(shuffled);
        expect(b.txid).toBe(a.txid);
        expect(b.tx?.toHex()).toBe(a.tx?.toHex());
        expect(b.unpayable.map((w) => w.id)).toEqual(a.unpayable.map((w) => w.id));
      }),
      { numRuns: 150 },
    );
  });

  it('never pays more than its inputs, keeps change ≥ dust, and charges the fee to the withdrawals', () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const p = buildPayout(req);
        if (p.tx === null) return;
        const inSum = p.inputs.reduce((s, u) => s + u.amountSats, 0n);
        const outSum = p.tx.outs.reduce((s, o) => s + o.value, 0n);
        expect(outSum).toBeLessThanOrEqual(inSum);
        expect(inSum - outSum).toBe(p.feeSats);
        expect(p.changeSats).toBeGreaterThanOrEqual(DUST_SATS);
        // Ledger invariant: what leaves the ledger is exactly the burned amounts (the fee came out of them).
        expect(inSum - p.changeSats).toBe(p.paid.reduce((s, w) => s + w.withdrawal.amountSats, 0n));
        expect(p.feeSats).toBeGreaterThanOrEqual(feeFor(vsizeOf(p.estimatedWeight), req.limits.feeRateSatPerKvB));
        for (const w of p.paid) expect(w.valueSats).toBeGreaterThanOrEqual(DUST_SATS);
        expect(p.estimatedWeight).toBeLessThanOrEqual(req.limits.maxWeight);
        expect(p.inputs.length).toBeLessThanOrEqual(req.limits.maxInputs);
        expect(p.paid.length).toBeLessThanOrEqual(req.limits.maxWithdrawals);
      }),
      { numRuns: 200 },
    );
  });
});

describe('buildPayout layout (docs/PROTOCOL.md)', () => {
  const u = (txidByte: number, height: number, amount: bigint, kind: FederationUtxo['kind'] = 'p2wsh'): FederationUtxo => ({
    txid: bytesToHex(new Uint8Array(32).fill(txidByte)),
    vout: 0,
    amountSats: amount,
    height,
    script: fed.script,
    kind,
  });
  const w = (id: bigint, amount: bigint, to = 0): Withdrawal => ({ id, amountSats: amount, outputScript: recipients[to]! });

  it('orders inputs reserve first then (height, txid, vout), outputs change, withdrawals by id, OP_RETURN', () => {
    const reserve = u(9, 500, 1_000_000n);
    const deposits = [u(1, 502, 100_000n), u(3, 501, 100_000n, 'p2sh-p2wsh'), u(2, 501, 100_000n)];
    const p = buildPayout({ batchId: 77n, reserve, deposits, withdrawals: [w(5n, 60_000n, 1), w(2n, 50_000n, 2)], changeScript: fed.script, limits: LIMITS });
    expect(p.inputs).toEqual([reserve, deposits[2], deposits[1], deposits[0]]);
    const tx = p.tx!;
    expect(tx.version).toBe(2);
    expect(tx.locktime).toBe(0);
    expect(tx.ins.every((i) => i.sequence === RBF_SEQUENCE)).toBe(true);
    expect(tx.ins[2]!.script.length).toBe(35); // P2SH-P2WSH: push of OP_0 <32>
    expect(tx.ins[0]!.script.length).toBe(0);
    expect(bytesToHex(tx.outs[0]!.script)).toBe(bytesToHex(fed.script.p2wshOutput));
    expect(bytesToHex(tx.outs[1]!.script)).toBe(bytesToHex(recipients[2]!));
    expect(bytesToHex(tx.outs[2]!.script)).toBe(bytesToHex(recipients[1]!));
    expect(parsePayoutOpReturn(tx.outs[3]!.script)).toBe(77n);
    expect(tx.outs[3]!.value).toBe(0n);
    // Pro rata: the larger withdrawal pays at least as much fee.
    expect(p.paid[1]!.feeSats).toBeGreaterThanOrEqual(p.paid[0]!.feeSats);
    expect(compareUtxos(deposits[2]!, deposits[1]!)).toBeLessThan(0);
  });

  it('refunds withdrawals that would be dust after their fee share and stops at the first that inputs cannot cover', () => {
    const p = buildPayout({
      batchId: 1n,
      reserve: u(1, 1, 300_000n),
      deposits: [],
      withdrawals: [w(1n, 550n), w(2n, 100_000n), w(3n, 250_000n), w(4n, 1_000n)],
      changeScript: fed.script,
      limits: LIMITS,
    });
    expect(p.unpayable.map((x) => x.id)).toEqual([1n]);
    expect(p.paid.map((x) => x.withdrawal.id)).toEqual([2n]);
  });

  it('caps withdrawals by count and weight', () => {
    const many = Array.from({ length: 200 }, (_, i) => w(BigInt(i), 10_000n, i % 8));
    const byCount = buildPayout({ batchId: 1n, reserve: u(1, 1, 100_000_000n), deposits: [], withdrawals: many, changeScript: fed.script, limits: LIMITS });
    expect(byCount.paid.length).toBe(LIMITS.maxWithdrawals);
    const byWeight = buildPayout({ batchId: 1n, reserve: u(1, 1, 100_000_000n), deposits: [], withdrawals: many, changeScript: fed.script, limits: { ...LIMITS, maxWithdrawals: 1000, maxWeight: 10_000 } });
    expect(byWeight.estimatedWeight).toBeLessThanOrEqual(10_000);
    expect(byWeight.paid.length).toBeGreaterThan(10);
    expect(byWeight.paid.length).toBeLessThan(200);
  });

  it('refuses a federation script as recipient, duplicate inputs and duplicate withdrawal ids', () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return isBridgeError(e) ? e.code : String(e);
      }
      return undefined;
    };
    const base = { batchId: 1n, reserve: u(1, 1, 1_000_000n), deposits: [], changeScript: fed.script, limits: LIMITS };
    expect(code(() => buildPayout({ ...base, withdrawals: [{ id: 1n, amountSats: 10_000n, outputScript: fed.script.p2shP2wshOutput }] }))).toBe('BTC_PAYOUT_RECIPIENT_IS_FEDERATION');
    expect(code(() => buildPayout({ ...base, withdrawals: [w(1n, 10_000n), w(1n, 20_000n)] }))).toBe('BTC_PAYOUT_DUPLICATE_WITHDRAWAL');
    expect(code(() => buildPayout({ ...base, deposits: [u(1, 1, 5n)], withdrawals: [w(1n, 10_000n)] }))).toBe('BTC_PAYOUT_DUPLICATE_INPUT');
    expect(code(() => buildPayout({ ...base, withdrawals: [{ id: 1n, amountSats: 10_000n, outputScript: Uint8Array.of(0x6a) }] }))).toBe('BTC_PAYOUT_NONSTANDARD_RECIPIENT');
  });
});

describe('bumpPayoutFee and buildSweep', () => {
  const reserve: FederationUtxo = { txid: 'aa'.repeat(32), vout: 1, amountSats: 2_000_000n, height: 450, script: fed.script, kind: 'p2wsh' };
  const plan = buildPayout({ batchId: 3n, reserve, deposits: [], withdrawals: [{ id: 1n, amountSats: 500_000n, outputScript: recipients[0]! }], changeScript: fed.script, limits: LIMITS });

  it('lowers only the change and pays at least the BIP-125 increment', () => {
    const b = bumpPayoutFee({ plan, feeRateSatPerKvB: LIMITS.feeRateSatPerKvB, maxExtraFeeSats: 100_000n });
    expect(b.feeSats - plan.feeSats).toBe(BigInt(plan.estimatedVsize)); // same rate: only the 1 sat/vB increment
    expect(b.changeSats).toBe(plan.changeSats - (b.feeSats - plan.feeSats));
    expect(b.tx!.outs.slice(1).map((o) => [bytesToHex(o.script), o.value])).toEqual(plan.tx!.outs.slice(1).map((o) => [bytesToHex(o.script), o.value]));
    expect(b.txid).not.toBe(plan.txid);
    expect(() => bumpPayoutFee({ plan, feeRateSatPerKvB: 1_000_000n, maxExtraFeeSats: 1_000n })).toThrow(/BTC_BUMP_EXCEEDS_SURPLUS/);
  });

  it('sweeps oldest first within the input cap', () => {
    const utxos = Array.from({ length: 12 }, (_, i): FederationUtxo => ({ txid: bytesToHex(new Uint8Array(32).fill(i)), vout: 0, amountSats: 100_000n, height: 1000 - i, script: old.script, kind: 'p2wsh' }));
    const s = buildSweep({ batchId: 4n, utxos, toScript: fed.script, limits: LIMITS, maxFeeSats: 100_000n });
    expect(s.inputs.length).toBe(LIMITS.maxInputs);
    expect(s.inputs.map((x) => x.height)).toEqual([989, 990, 991, 992, 993, 994, 995, 996]);
    expect(s.valueSats + s.feeSats).toBe(800_000n);
    expect(parsePayoutOpReturn(s.tx.outs[1]!.script)).toBe(4n);
    expect(() => buildSweep({ batchId: 4n, utxos, toScript: fed.script, limits: LIMITS, maxFeeSats: 1n })).toThrow(/BTC_SWEEP_FEE_EXCEEDS_SURPLUS/);
  });

  it('encodes the payout OP_RETURN as magic plus big-endian batch id', () => {
    expect(bytesToHex(payoutOpReturn(0x0102030405060708n))).toBe('6a0c' + '464e5001' + '0102030405060708');
    expect(parsePayoutOpReturn(Uint8Array.of(0x6a, 0x01, 0x00))).toBeUndefined();
  });
});

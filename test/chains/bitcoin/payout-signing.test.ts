import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { payments } from 'bitcoinjs-lib';
import { isBridgeError } from '../../../src/errors.js';
import { buildPayout, type FederationUtxo } from '../../../src/chains/bitcoin/payout.js';
import { assemblePayout, payoutSighashes, signPayoutInputs, verifyInputSignature } from '../../../src/chains/bitcoin/payout-signing.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { testFederation } from '../../fixtures/bitcoin/regtest.js';

const cur = testFederation(4, 3, 2, undefined, 'sign-cur');
const old = testFederation(3, 2, 1, undefined, 'sign-old');
const utxo = (b: number, f: typeof cur, kind: FederationUtxo['kind']): FederationUtxo => ({ txid: bytesToHex(new Uint8Array(32).fill(b)), vout: b, amountSats: 1_000_000n, height: b, script: f.script, kind });
const inputs = [utxo(1, cur, 'p2wsh'), utxo(2, old, 'p2sh-p2wsh')];
const plan = buildPayout({
  batchId: 5n,
  reserve: inputs[0],
  deposits: [inputs[1]!],
  withdrawals: [{ id: 1n, amountSats: 100_000n, outputScript: payments.p2wpkh({ hash: new Uint8Array(20).fill(9) }).output! }],
  changeScript: cur.script,
  limits: { feeRateSatPerKvB: 1_000n, maxInputs: 5, maxWithdrawals: 5, maxWeight: 50_000 },
});
const tx = plan.tx!;

describe('payout signing', () => {
  it('signs only the inputs whose script holds the key, and the signatures verify only where they belong', () => {
    const s = signPayoutInputs(tx, plan.inputs, cur.keys[1]!.privateKey);
    expect(s.map((x) => [x.inputIndex, x.keyIndex])).toEqual([[0, 1]]);
    expect(bytesToHex(s[0]!.sighash)).toBe(bytesToHex(payoutSighashes(tx, plan.inputs)[0]!));
    expect(verifyInputSignature(tx, plan.inputs, 0, 1, s[0]!.signature.der)).toBe(true);
    expect(verifyInputSignature(tx, plan.inputs, 0, 2, s[0]!.signature.der)).toBe(false);
    expect(verifyInputSignature(tx, plan.inputs, 1, 1, s[0]!.signature.der)).toBe(false);
    expect(verifyInputSignature(tx, plan.inputs, 7, 1, s[0]!.signature.der)).toBe(false);
    const other = tx.clone();
    other.outs[0]!.value -= 1n;
    expect(verifyInputSignature(other, plan.inputs, 0, 1, s[0]!.signature.der)).toBe(false);
  });

  it('assembles once every input has its own script quorum, and names the input that lacks one', () => {
    const sigs = new Map<number, Map<number, Uint8Array>>([[0, new Map()], [1, new Map()]]);
    for (const k of [0, 1, 3]) for (const s of signPayoutInputs(tx, plan.inputs, cur.keys[k]!.privateKey)) sigs.get(s.inputIndex)!.set(s.keyIndex, s.signature.der);
    for (const s of signPayoutInputs(tx, plan.inputs, old.keys[2]!.privateKey)) sigs.get(s.inputIndex)!.set(s.keyIndex, s.signature.der);
    try {
      assemblePayout(tx, plan.inputs, sigs);
      expect.fail('expected a quorum error');
    } catch (e) {
      expect(isBridgeError(e, 'BTC_WITNESS_TOO_FEW_SIGNATURES') && e.context['inputIndex']).toBe(1);
    }
    for (const s of signPayoutInputs(tx, plan.inputs, old.keys[0]!.privateKey)) sigs.get(s.inputIndex)!.set(s.keyIndex, s.signature.der);
    const signed = assemblePayout(tx, plan.inputs, sigs);
    expect(signed.getId()).toBe(plan.txid);
    // multisig: dummy, 3 signatures in key order, script; the P2SH-P2WSH input: dummy, 2 sigs, script.
    expect(signed.ins[0]!.witness.map((w) => w.length > 0)).toEqual([false, true, true, true, true]);
    expect(signed.ins[1]!.witness).toHaveLength(4);
    expect(signed.weight()).toBeLessThanOrEqual(plan.estimatedWeight);
  });

  it('never produces a witness heavier than the fee estimate, whoever signs (73-byte signature assumption)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: n, maxLength: n }), fc.boolean())),
        ([n, m, order, wrapped]) => {
          const f = testFederation(n, m, 9, undefined, `est-${n}`);
          const u: FederationUtxo = { txid: 'cd'.repeat(32), vout: 0, amountSats: 10_000_000n, height: 1, script: f.script, kind: wrapped ? 'p2sh-p2wsh' : 'p2wsh' };
          const p = buildPayout({ batchId: 1n, reserve: u, deposits: [], withdrawals: [{ id: 1n, amountSats: 50_000n, outputScript: payments.p2wpkh({ hash: new Uint8Array(20) }).output! }], changeScript: f.script, limits: { feeRateSatPerKvB: 1_000n, maxInputs: 1, maxWithdrawals: 1, maxWeight: 400_000 } });
          const sigs = new Map<number, Map<number, Uint8Array>>([[0, new Map()]]);
          // Signers arrive in a random order; more than m may sign.
          for (const k of order.slice(0, Math.min(n, m + 1))) for (const sg of signPayoutInputs(p.tx!, p.inputs, f.keys[k]!.privateKey)) sigs.get(0)!.set(sg.keyIndex, sg.signature.der);
          const signed = assemblePayout(p.tx!, p.inputs, sigs);
          expect(signed.weight()).toBeLessThanOrEqual(p.estimatedWeight);
          expect(p.estimatedWeight - signed.weight()).toBeLessThanOrEqual(2 * m + 2);
          expect(signed.getId()).toBe(p.txid);
        },
      ),
      { numRuns: 25 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { buildPayout, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { assemblePayout, payoutSighashes } from '../../src/chains/bitcoin/payout-signing.js';
import { signSighash } from '../../src/chains/bitcoin/signer.js';
import { PayoutAggregator, batchKey } from '../../src/consensus/payout-aggregator.js';
import { P2WPKH, epochOf, randomHash, validators, type Validator } from './fixtures.js';

const v0 = validators(3, 'pay-e0');
const v1 = validators(4, 'pay-e1');
const e0 = epochOf(0, v0, 0, 100);
const e1 = epochOf(1, v1, 0, 200);
const hexTxid = (tag: string) => Buffer.from(randomHash(tag)).toString('hex');
const reserve: FederationUtxo = { txid: hexTxid('pay-res'), vout: 0, amountSats: 500_000n, height: 150, script: e0.script, kind: 'p2wsh' };
const deposit: FederationUtxo = { txid: hexTxid('pay-dep'), vout: 1, amountSats: 300_000n, height: 210, script: e1.script, kind: 'p2sh-p2wsh' };
const plan = buildPayout({
  batchId: 42n,
  reserve,
  deposits: [deposit],
  withdrawals: [{ id: 1n, amountSats: 100_000n, outputScript: P2WPKH(1) }],
  changeScript: e1.script,
  limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 2_000n },
});
const tx = plan.tx!;
const sighashes = payoutSighashes(tx, plan.inputs);
const sig = (v: Validator, input: number) => {
  const s = signSighash(sighashes[input]!, v.key.privateKey);
  return Uint8Array.of(...s.compact, s.recovery);
};
const timing = { collectAfterQuorumMs: 100, takeoverTimeoutMs: 1_000 };
const keyOfEpoch = (i: number) => (plan.inputs[i]!.script === e0.script ? v0 : v1);

function open() {
  const agg = new PayoutAggregator({ timing, backend: nobleBackend });
  const key = agg.open({ batchId: 42n, txid: plan.txid!, inputs: plan.inputs.map((u, i) => ({ sighash: sighashes[i]!, script: u.script })), submitters: v1.map((v) => v.address) }, 0);
  return { agg, key };
}

describe('payout witness aggregation', () => {
  it('counts quorum per input against that input\'s own script keys, and assembles a witness', () => {
    expect(plan.inputs.map((u) => u.script.epoch)).toEqual([0, 1]);
    const { agg, key } = open();
    expect(key).toBe(batchKey(42n, plan.txid!));
    // Epoch-1 validators sign input 0 (an epoch-0 input): not in that script, never counted.
    expect(agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 0, signature: sig(v1[0]!, 0) }] }, 1)).toEqual({ counted: 0, duplicate: 0, invalid: 1 });
    // 2 of 3 on input 0 reaches its threshold (2); input 1 needs 3 of 4.
    for (const v of v0.slice(0, 2)) agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 0, signature: sig(v, 0) }] }, 2);
    for (const v of v1.slice(0, 2)) agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 1, signature: sig(v, 1) }] }, 3);
    expect(agg.phase(key, 3)).toBe('collecting');
    // a duplicate does not make the third
    expect(agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 1, signature: sig(v1[0]!, 1) }] }, 4)).toEqual({ counted: 0, duplicate: 1, invalid: 0 });
    expect(agg.phase(key, 4)).toBe('collecting');
    // a signature over the wrong input's sighash is invalid
    expect(agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 1, signature: sig(v1[2]!, 0) }] }, 5)).toEqual({ counted: 0, duplicate: 0, invalid: 1 });
    expect(agg.add({ batchId: 42n, txid: plan.txid!, inputs: [{ index: 1, signature: sig(v1[2]!, 1) }] }, 10)).toEqual({ counted: 1, duplicate: 0, invalid: 0 });
    expect(agg.tick(10).map((e) => e.type)).toEqual(['quorum']);
    const fin = agg.tick(110);
    // key indexes are script (BIP-67) positions, not address order
    const pos = (script: typeof e0.script, v: Validator) => script.keys.findIndex((k) => Buffer.compare(Buffer.from(k), Buffer.from(v.key.publicKey)) === 0);
    expect(fin[0]).toMatchObject({ type: 'final', at: 110, missingByInput: [[pos(e0.script, v0[2]!)], [pos(e1.script, v1[3]!)]] });
    const signed = assemblePayout(tx, plan.inputs, agg.witnessSignatures(key));
    expect(signed.ins.every((i) => i.witness.length > 0)).toBe(true);
    expect(agg.contractSignatures(key)).toHaveLength(5);
    // rotation on the batch id; takeover after the timeout
    const order = agg.rotation(key);
    expect(order[0]).toEqual(v1[42 % 4]!.address);
    expect(agg.shouldSubmit(key, order[1]!, 110)).toBe(false);
    expect(agg.shouldSubmit(key, order[0]!, 110)).toBe(true);
    expect(agg.shouldSubmit(key, order[1]!, 1_110)).toBe(true);
  });

  it('refuses witnesses for a batch version it has not opened', () => {
    const { agg } = open();
    expect(agg.add({ batchId: 43n, txid: plan.txid!, inputs: [{ index: 0, signature: sig(keyOfEpoch(0)[0]!, 0) }] }, 1)).toBeUndefined();
  });
});

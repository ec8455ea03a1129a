import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, payments } from 'bitcoinjs-lib';
import { isBridgeError } from '../../../src/errors.js';
import { buildPayout, bumpPayoutFee, buildSweep, type PayoutLimits, type Withdrawal } from '../../../src/chains/bitcoin/payout.js';
import { finalizeTransaction, assembleWitness } from '../../../src/chains/bitcoin/witness.js';
import { bip143Sighash } from '../../../src/chains/bitcoin/sighash.js';
import { signSighash } from '../../../src/chains/bitcoin/signer.js';
import type { FederationScript } from '../../../src/chains/bitcoin/scripts.js';
import { fundFederation, signAll, startRegtest, testFederation, type Regtest, type TestFederation } from '../../fixtures/bitcoin/regtest.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

const LIMITS: PayoutLimits = { feeRateSatPerKvB: 2_000n, maxInputs: 10, maxWithdrawals: 100, maxWeight: 100_000 };

function withdrawalsTo(count: number, firstId: bigint, amount: bigint): Withdrawal[] {
  return testKeys(count, `user-${firstId}`).map((k, i) => ({
    id: firstId + BigInt(i),
    amountSats: amount + BigInt(i) * 1_000n,
    outputScript: payments.p2wpkh({ pubkey: k.publicKey }).output!,
  }));
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isBridgeError(e, 'BTC_TX_REJECTED')) return String(e.context['reason']);
    throw e;
  }
  throw new Error('expected the node to reject the transaction');
}

describe('payouts judged by bcoin regtest', () => {
  let rt: Regtest;
  beforeAll(async () => {
    rt = await startRegtest();
  });
  afterAll(async () => {
    await rt?.node.stop();
  });

  async function payout(fed: TestFederation, batchId: bigint, withdrawals: Withdrawal[]) {
    const reserve = await fundFederation(rt, fed.script, 'p2wsh', 5_000_000n);
    const deposit = await fundFederation(rt, fed.script, 'p2sh-p2wsh', 1_000_000n);
    const plan = buildPayout({ batchId, reserve, deposits: [deposit], withdrawals, changeScript: fed.script, limits: LIMITS });
    expect(plan.tx).not.toBeNull();
    return plan;
  }

  it.each([
    [2, 3, undefined],
    [8, 15, undefined],
    [34, 67, 'thresh' as const],
  ])('a %i-of-%i payout signed by a quorum is accepted and mined', async (m, n, template) => {
    const fed = testFederation(n, m, 1, template);
    expect(fed.script.template).toBe(n <= 15 ? 'multisig' : 'thresh');
    const plan = await payout(fed, BigInt(n), withdrawalsTo(3, 100n, 300_000n));
    const feds = new Map<FederationScript, TestFederation>([[fed.script, fed]]);
    // Signers are the last m validators, so thresh has empty items at the front and multisig skips keys.
    const signers = Array.from({ length: m }, (_, i) => n - m + i);
    // One signature short of the quorum: the node refuses it.
    const short = plan.inputs.map((u, i) => {
      const sighash = bip143Sighash(plan.tx!, i, u.script.witnessScript, u.amountSats);
      return assembleWitness(u.script, new Map(signers.slice(1).map((k) => [k, signSighash(sighash, fed.keys[k]!.privateKey).der] as const)), { requireQuorum: false });
    });
    expect(await rejection(rt.node.rpc.sendRawTransaction(finalizeTransaction(plan.tx!, short).toHex()))).toMatch(template === 'thresh' ? /script-verify-flag-failed \(EVAL_FALSE/ : /script-verify-flag-failed \(INVALID_STACK_OPERATION/);
    const tx = finalizeTransaction(plan.tx!, signAll(plan.tx!, plan.inputs, feds, signers));
    expect(tx.weight()).toBeLessThanOrEqual(plan.estimatedWeight);
    const txid = await rt.node.rpc.sendRawTransaction(tx.toHex());
    expect(txid).toBe(plan.txid);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeDefined();
    await rt.faucet.mine(1);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeUndefined();
    const mined = Transaction.fromHex(await rt.node.rpc.getRawTransaction(txid));
    expect(mined.outs.map((o) => o.value)).toEqual(plan.tx!.outs.map((o) => o.value));
  });

  describe('the node rejects bad witnesses with its script error', () => {
    const fed = testFederation(3, 2, 2);
    let plan: ReturnType<typeof buildPayout>;
    beforeAll(async () => {
      plan = await payout(fed, 7n, withdrawalsTo(2, 500n, 200_000n));
    });
    const sigFor = (tx: Transaction, input: number, k: number) =>
      signSighash(bip143Sighash(tx, input, plan.inputs[input]!.script.witnessScript, plan.inputs[input]!.amountSats), fed.keys[k]!.privateKey).der;
    const witnessesWith = (override: (input: number) => Uint8Array[]) => plan.inputs.map((_, i) => override(i));
    const ws = fed.script.witnessScript;
    const empty = new Uint8Array(0);

    it('too few signatures', async () => {
      const tx = finalizeTransaction(plan.tx!, witnessesWith((i) => assembleWitness(fed.script, new Map([[0, sigFor(plan.tx!, i, 0)]]), { requireQuorum: false })));
      expect(await rejection(rt.node.rpc.sendRawTransaction(tx.toHex()))).toMatch(/script-verify-flag-failed \(INVALID_STACK_OPERATION/);
    });

    it('one bad signature', async () => {
      const tx = finalizeTransaction(plan.tx!, witnessesWith((i) => {
        const bad = Uint8Array.from(sigFor(plan.tx!, i, 1));
        bad[10]! ^= 0x01; // inside r: still strict DER, wrong value
        return [empty, sigFor(plan.tx!, i, 0), bad, ws];
      }));
      expect(await rejection(rt.node.rpc.sendRawTransaction(tx.toHex()))).toMatch(/script-verify-flag-failed \(NULLFAIL \(op=OP_CHECKMULTISIG/);
    });

    it('signatures out of key order', async () => {
      const tx = finalizeTransaction(plan.tx!, witnessesWith((i) => [empty, sigFor(plan.tx!, i, 1), sigFor(plan.tx!, i, 0), ws]));
      expect(await rejection(rt.node.rpc.sendRawTransaction(tx.toHex()))).toMatch(/script-verify-flag-failed \(NULLFAIL \(op=OP_CHECKMULTISIG/);
    });

    it('a signature over another transaction', async () => {
      const other = plan.tx!.clone();
      other.outs[0]!.value -= 1n;
      const tx = finalizeTransaction(plan.tx!, witnessesWith((i) => [empty, sigFor(plan.tx!, i, 0), sigFor(other, i, 1), ws]));
      expect(await rejection(rt.node.rpc.sendRawTransaction(tx.toHex()))).toMatch(/script-verify-flag-failed \(NULLFAIL \(op=OP_CHECKMULTISIG/);
      // The honest quorum's witness for the same transaction is accepted.
      const good = finalizeTransaction(plan.tx!, witnessesWith((i) => [empty, sigFor(plan.tx!, i, 0), sigFor(plan.tx!, i, 1), ws]));
      expect(await rt.node.rpc.sendRawTransaction(good.toHex())).toBe(plan.txid);
    });
  });

  it('refuses an oversized witness script as non-standard, and accepts one at the limit', async () => {
    // OP_1 followed by (push75 DROP) pairs: valid, non-standard only by size.
    const script = (pairs: number, pad: number) => Uint8Array.from([0x51, ...Array.from({ length: pairs }, () => [75, ...new Uint8Array(75), 0x75]).flat(), ...new Array<number>(pad).fill(0x61)]);
    const spend = async (ws: Uint8Array, items: Uint8Array[] = []) => {
      const out = Uint8Array.from([0x00, 0x20, ...(await import('@noble/hashes/sha2.js')).sha256(ws)]);
      const sent = await rt.faucet.send([{ script: out, valueSats: 100_000n }]);
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(Buffer.from(sent.txid, 'hex').reverse(), 0, 0xfffffffd);
      tx.addOutput(rt.faucet.outputScript, 90_000n);
      tx.setWitness(0, [...items, ws]);
      return rt.node.rpc.sendRawTransaction(tx.toHex());
    };
    const at = script(46, 3600 - 1 - 46 * 77); // exactly 3,600 bytes (NOPs pad it; 46 DROPs + NOPs < 201 ops)
    expect(at.length).toBe(3600);
    await expect(spend(at)).resolves.toMatch(/^[0-9a-f]{64}$/);
    const over = script(46, 3601 - 1 - 46 * 77);
    expect(await rejection(spend(over))).toBe('bad-witness-nonstandard');
  });

  it('refuses more than 100 witness stack items as non-standard, and accepts 100', async () => {
    const empties = (n: number) => Array.from({ length: n }, () => new Uint8Array(0));
    const { sha256 } = await import('@noble/hashes/sha2.js');
    const spendWith = async (ws: Uint8Array, items: number) => {
      const sent = await rt.faucet.send([{ script: Uint8Array.from([0x00, 0x20, ...sha256(ws)]), valueSats: 100_000n }]);
      const tx = new Transaction();
      tx.version = 2;
      tx.addInput(Buffer.from(sent.txid, 'hex').reverse(), 0, 0xfffffffd);
      tx.addOutput(rt.faucet.outputScript, 90_000n);
      tx.setWitness(0, [...empties(items), ws]);
      return rt.node.rpc.sendRawTransaction(tx.toHex());
    };
    // 50 × OP_2DROP (+ OP_DROP) then OP_1: consumes exactly the items given.
    await expect(spendWith(Uint8Array.from([...new Array<number>(50).fill(0x6d), 0x51]), 100)).resolves.toMatch(/^[0-9a-f]{64}$/);
    expect(await rejection(spendWith(Uint8Array.from([...new Array<number>(50).fill(0x6d), 0x75, 0x51]), 101))).toBe('bad-witness-nonstandard');
  });

  it('a fee-bumped version (lower change, same withdrawals) is mined once the original is evicted', async () => {
    const fed = testFederation(15, 8, 3);
    const feds = new Map<FederationScript, TestFederation>([[fed.script, fed]]);
    const plan = await payout(fed, 42n, withdrawalsTo(5, 900n, 250_000n));
    const bumped = bumpPayoutFee({ plan, feeRateSatPerKvB: 10_000n, maxExtraFeeSats: 1_000_000n });
    expect(bumped.changeSats).toBeLessThan(plan.changeSats);
    expect(bumped.tx!.outs.slice(1)).toEqual(plan.tx!.outs.slice(1));
    expect(bumped.tx!.ins.map((i) => [i.hash, i.index])).toEqual(plan.tx!.ins.map((i) => [i.hash, i.index]));
    const signers = [0, 2, 4, 6, 8, 10, 12, 14];
    const original = finalizeTransaction(plan.tx!, signAll(plan.tx!, plan.inputs, feds, signers));
    const replacement = finalizeTransaction(bumped.tx!, signAll(bumped.tx!, bumped.inputs, feds, signers));
    await rt.node.rpc.sendRawTransaction(original.toHex());
    expect(await rejection(rt.node.rpc.sendRawTransaction(replacement.toHex()))).toBe('txn-mempool-conflict');
    expect(rt.node.evictFromMempool(plan.txid!)).toBe(true);
    expect(await rt.node.rpc.sendRawTransaction(replacement.toHex())).toBe(bumped.txid);
    await rt.faucet.mine(1);
    expect(Transaction.fromHex(await rt.node.rpc.getRawTransaction(bumped.txid!)).outs[0]!.value).toBe(bumped.changeSats);
    await expect(rt.node.rpc.getRawTransaction(plan.txid!)).rejects.toThrow();
  });

  it('sweeps an old epoch to the new script', async () => {
    const old = testFederation(3, 2, 4, undefined, 'sweep-old');
    const next = testFederation(4, 3, 5, undefined, 'sweep-new');
    const a = await fundFederation(rt, old.script, 'p2wsh', 400_000n);
    const b = await fundFederation(rt, old.script, 'p2sh-p2wsh', 300_000n);
    const plan = buildSweep({ batchId: 9n, utxos: [b, a], toScript: next.script, limits: LIMITS, maxFeeSats: 50_000n });
    expect(plan.inputs.map((u) => u.txid)).toEqual([a.txid, b.txid]);
    const tx = finalizeTransaction(plan.tx, signAll(plan.tx, plan.inputs, new Map([[old.script, old]]), [0, 2]));
    await rt.node.rpc.sendRawTransaction(tx.toHex());
    await rt.faucet.mine(1);
    const mined = Transaction.fromHex(await rt.node.rpc.getRawTransaction(plan.txid));
    expect(Buffer.from(mined.outs[0]!.script).equals(Buffer.from(next.script.p2wshOutput))).toBe(true);
    expect(mined.outs[0]!.value).toBe(700_000n - plan.feeSats);
  });
});

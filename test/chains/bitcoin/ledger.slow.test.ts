import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payments } from 'bitcoinjs-lib';
import { BtcWatcher, type EmittedBlock } from '../../../src/chains/bitcoin/watcher.js';
import { MemoryWatcherStore } from '../../../src/chains/bitcoin/watcher-store.js';
import { encodeDepositOpReturn, extractBlockRecords, UNKNOWN_BATCH_ID, type FederationView } from '../../../src/chains/bitcoin/deposits.js';
import { buildPayout, buildSweep, bumpPayoutFee, type FederationUtxo, type PayoutLimits, type PayoutPlan, type Withdrawal } from '../../../src/chains/bitcoin/payout.js';
import { decodeRecord, encodeRecord, type BtcRecord } from '../../../src/chains/bitcoin/records.js';
import type { FederationScript } from '../../../src/chains/bitcoin/scripts.js';
import { finalizeTransaction } from '../../../src/chains/bitcoin/witness.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { signAll, startRegtest, testFederation, type Regtest, type TestFederation } from '../../fixtures/bitcoin/regtest.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

type QueuedWithdrawal = Withdrawal & { refund: boolean };

/**
 * The home contract's bookkeeping, reduced to what the Bitcoin rules need:
 * ledger UTXOs, BTCT supply, the withdrawal queue and closed batches. It is
 * driven only by records read back from the chain, as the contract is.
 */
class Ledger {
  readonly utxos = new Map<string, FederationUtxo>();
  reserve: FederationUtxo | undefined;
  supply = 0n;
  /** Refunds queued but not yet paid: BTC the ledger owes without BTCT behind it. */
  owedRefunds = 0n;
  queue: QueuedWithdrawal[] = [];
  nextId = 1n;
  readonly batches = new Map<bigint, { versions: PayoutPlan[]; withdrawals: QueuedWithdrawal[] }>();
  readonly sweeps = new Map<bigint, { txid: string; value: bigint; script: FederationScript; inputs: readonly FederationUtxo[] }>();
  readonly minted: { recipient: string; amount: bigint }[] = [];
  readonly unclaimed: bigint[] = [];

  constructor(private readonly scriptsByEpoch: Map<number, FederationScript>) {}

  isFederationOutpoint = (txid: string, vout: number): boolean => this.utxos.has(`${txid}:${vout}`) || this.reserve?.txid === txid && this.reserve.vout === vout;

  get total(): bigint {
    return [...this.utxos.values()].reduce((s, u) => s + u.amountSats, this.reserve?.amountSats ?? 0n);
  }

  withdraw(amountSats: bigint, outputScript: Uint8Array): void {
    if (amountSats > this.supply) throw new Error('burning more than the supply');
    this.supply -= amountSats;
    this.queue.push({ id: this.nextId++, amountSats, outputScript, refund: false });
  }

  apply(record: BtcRecord, height: number): void {
    // Records travel as bytes in BTP messages: decode what we encode, as the BSH would.
    const r = decodeRecord(encodeRecord(record))!;
    if (r.type === 'payout-confirmed') return this.#confirm(r.txid, r.batchId, r.btcHeight);
    const txid = bytesToHex(r.txid.slice().reverse());
    const script = this.scriptsByEpoch.get(r.epoch)!;
    this.utxos.set(`${txid}:${r.vout}`, { txid, vout: r.vout, amountSats: r.amountSats, height, script, kind: 'p2wsh' });
    if (r.type === 'deposit-mint') {
      this.supply += r.amountSats;
      this.minted.push({ recipient: bytesToHex(r.recipient), amount: r.amountSats });
    } else if (r.type === 'deposit-refund') {
      this.owedRefunds += r.amountSats;
      this.queue.push({ id: this.nextId++, amountSats: r.amountSats, outputScript: r.refundScript, refund: true });
    } else {
      this.unclaimed.push(r.amountSats);
    }
  }

  /** Fixes the kind of a deposit UTXO (the record carries epoch, the output script tells P2WSH from P2SH-P2WSH). */
  setKind(txid: string, vout: number, kind: FederationUtxo['kind']): void {
    const u = this.utxos.get(`${txid}:${vout}`);
    if (u) this.utxos.set(`${txid}:${vout}`, { ...u, kind });
  }

  close(batchId: bigint, plan: PayoutPlan): void {
    const ids = new Set(plan.paid.map((p) => p.withdrawal.id));
    const unpayable = new Set(plan.unpayable.map((w) => w.id));
    const taken = this.queue.filter((w) => ids.has(w.id));
    for (const w of this.queue.filter((w) => unpayable.has(w.id))) {
      if (w.refund) this.owedRefunds -= w.amountSats;
      else this.supply += w.amountSats; // re-mint an unpayable withdrawal
    }
    this.queue = this.queue.filter((w) => !ids.has(w.id) && !unpayable.has(w.id));
    this.batches.set(batchId, { versions: [plan], withdrawals: taken });
  }

  #confirm(txidInternal: Uint8Array, batchId: bigint, height: number): void {
    const txid = bytesToHex(txidInternal.slice().reverse());
    expect(batchId).not.toBe(UNKNOWN_BATCH_ID);
    const sweep = this.sweeps.get(batchId);
    if (sweep !== undefined) {
      expect(txid).toBe(sweep.txid);
      for (const u of sweep.inputs) this.utxos.delete(`${u.txid}:${u.vout}`);
      this.utxos.set(`${txid}:0`, { txid, vout: 0, amountSats: sweep.value, height, script: sweep.script, kind: 'p2wsh' });
      return;
    }
    const batch = this.batches.get(batchId)!;
    const version = batch.versions.find((v) => v.txid === txid);
    expect(version, 'a confirmed federation spend must be a version of a closed batch').toBeDefined();
    for (const u of version!.inputs) {
      if (this.reserve?.txid === u.txid && this.reserve.vout === u.vout) this.reserve = undefined;
      this.utxos.delete(`${u.txid}:${u.vout}`);
    }
    for (const w of batch.withdrawals) if (w.refund) this.owedRefunds -= w.amountSats;
    const changeScript = bytesToHex(version!.tx!.outs[0]!.script);
    const script = [...this.scriptsByEpoch.values()].find((s) => bytesToHex(s.p2wshOutput) === changeScript)!;
    this.reserve = { txid, vout: 0, amountSats: version!.changeSats, height, script, kind: 'p2wsh' };
  }
}

describe('the ledger follows the chain through deposits, payouts, a fee bump, an epoch change and a sweep', () => {
  let rt: Regtest;
  beforeAll(async () => {
    rt = await startRegtest();
  });
  afterAll(async () => {
    await rt?.node.stop();
  });

  it('keeps Σ ledger UTXOs = what the chain holds and ≥ BTCT supply at every step', async () => {
    const fed1 = testFederation(3, 2, 1, undefined, 'e2e-1');
    const fed2 = testFederation(4, 3, 2, undefined, 'e2e-2');
    const feds = new Map<FederationScript, TestFederation>([[fed1.script, fed1], [fed2.script, fed2]]);
    const ledger = new Ledger(new Map([[1, fed1.script], [2, fed2.script]]));
    let current = fed1.script;
    const view = (): FederationView => ({
      depositScripts: current === fed1.script ? [fed1.script] : [fed2.script, fed1.script],
      allScripts: [fed1.script, fed2.script],
      minDepositSats: 20_000n,
      isFederationOutpoint: ledger.isFederationOutpoint,
    });
    const limits: PayoutLimits = { feeRateSatPerKvB: 3_000n, maxInputs: 3, maxWithdrawals: 10, maxWeight: 100_000 };
    const users = testKeys(4, 'e2e-users');
    const userScript = (i: number) => payments.p2wpkh({ pubkey: users[i]!.publicKey }).output!;
    const recipient = (i: number) => new Uint8Array(20).fill(0x10 + i);

    const watcher = new BtcWatcher({ rpc: rt.node.rpc, store: new MemoryWatcherStore(), confirmations: 2, startHeight: (await rt.node.rpc.getBlockCount()) + 1 });
    const emitted: EmittedBlock[] = [];
    watcher.on('block', (b) => emitted.push(b));
    const sync = async (): Promise<void> => {
      await rt.faucet.mine(2);
      emitted.length = 0;
      await watcher.poll();
      for (const b of emitted) {
        for (const r of extractBlockRecords(b.transactions, b.height, view())) ledger.apply(r, b.height);
        // P2SH-P2WSH deposits: the contract learns the kind from the record's script match; here from the block.
        for (const tx of b.transactions) tx.outs.forEach((o, vout) => {
          if ([fed1.script, fed2.script].some((s) => bytesToHex(s.p2shP2wshOutput) === bytesToHex(o.script))) ledger.setKind(tx.getId(), vout, 'p2sh-p2wsh');
        });
      }
    };
    const checkInvariant = async (): Promise<void> => {
      let onChain = 0n;
      for (const u of [...ledger.utxos.values(), ...(ledger.reserve ? [ledger.reserve] : [])]) {
        const out = await rt.node.rpc.getTxOut(u.txid, u.vout);
        expect(out, `${u.txid}:${u.vout} is unspent on chain`).toBeDefined();
        expect(out!.valueSats).toBe(u.amountSats);
        onChain += out!.valueSats;
      }
      expect(onChain).toBe(ledger.total);
      expect(ledger.total).toBeGreaterThanOrEqual(ledger.supply + ledger.owedRefunds);
    };
    const broadcast = async (plan: { tx: PayoutPlan['tx']; inputs: readonly FederationUtxo[] }, signers: number[]): Promise<string> => {
      const tx = finalizeTransaction(plan.tx!, signAll(plan.tx!, plan.inputs, feds, signers));
      return rt.node.rpc.sendRawTransaction(tx.toHex());
    };

    // Operators seed the reserve (never minted); users deposit.
    await rt.faucet.send([{ script: fed1.script.p2wshOutput, valueSats: 5_000n }]);
    await rt.faucet.send([{ script: fed1.script.p2wshOutput, valueSats: 400_000n }, { script: encodeDepositOpReturn({ recipient: recipient(0) }), valueSats: 0n }]);
    await rt.faucet.send([{ script: encodeDepositOpReturn({ recipient: recipient(1) }), valueSats: 0n }, { script: fed1.script.p2shP2wshOutput, valueSats: 300_000n }]);
    await rt.faucet.send([{ script: fed1.script.p2wshOutput, valueSats: 10_000n }, { script: encodeDepositOpReturn({ recipient: recipient(2), refundScript: userScript(2) }), valueSats: 0n }]);
    await sync();
    expect(ledger.minted.map((m) => m.amount).sort()).toEqual([300_000n, 400_000n]);
    expect(ledger.unclaimed).toEqual([5_000n]);
    expect(ledger.queue.map((w) => [w.amountSats, w.refund])).toEqual([[10_000n, true]]);
    expect(ledger.supply).toBe(700_000n);
    await checkInvariant();

    // Batch 1: two burns plus the refund, paid with its version bumped.
    ledger.withdraw(150_000n, userScript(0));
    ledger.withdraw(90_000n, userScript(1));
    const plan1 = buildPayout({ batchId: 1n, reserve: ledger.reserve, deposits: [...ledger.utxos.values()], withdrawals: ledger.queue, changeScript: current, limits });
    expect(plan1.paid).toHaveLength(3);
    ledger.close(1n, plan1);
    await broadcast(plan1, [0, 1]);
    const surplus = ledger.total - ledger.supply - ledger.owedRefunds;
    const bump1 = bumpPayoutFee({ plan: plan1, feeRateSatPerKvB: 6_000n, maxExtraFeeSats: surplus });
    ledger.batches.get(1n)!.versions.push(bump1);
    expect(rt.node.evictFromMempool(plan1.txid!)).toBe(true);
    await broadcast(bump1, [1, 2]);
    await sync();
    expect(ledger.reserve?.txid).toBe(bump1.txid);
    expect(ledger.queue).toEqual([]);
    await checkInvariant();

    // Epoch 2: new deposits, batch 2 pays its change to the new script; the input cap leaves old UTXOs for the sweep.
    current = fed2.script;
    await rt.faucet.send([{ script: fed2.script.p2wshOutput, valueSats: 250_000n }, { script: encodeDepositOpReturn({ recipient: recipient(3) }), valueSats: 0n }]);
    await sync();
    // Deposits to the old address are honoured inside the window.
    await rt.faucet.send([{ script: fed1.script.p2wshOutput, valueSats: 60_000n }, { script: encodeDepositOpReturn({ recipient: recipient(3) }), valueSats: 0n }]);
    await sync();
    expect(ledger.minted).toHaveLength(4);
    await checkInvariant();
    ledger.withdraw(500_000n, userScript(3));
    const plan2 = buildPayout({ batchId: 2n, reserve: ledger.reserve, deposits: [...ledger.utxos.values()], withdrawals: ledger.queue, changeScript: current, limits });
    expect(plan2.inputs).toHaveLength(3);
    expect(plan2.paid).toHaveLength(1);
    ledger.close(2n, plan2);
    await broadcast(plan2, [0, 1, 2]);
    await sync();
    expect(bytesToHex(ledger.reserve!.script.witnessScript)).toBe(bytesToHex(fed2.script.witnessScript));
    await checkInvariant();

    // Sweep what is left at the old script, paid from surplus.
    const old = [...ledger.utxos.values()].filter((u) => u.script === fed1.script);
    expect(old.length).toBeGreaterThan(0);
    const sweep = buildSweep({ batchId: 3n, utxos: old, toScript: fed2.script, limits, maxFeeSats: ledger.total - ledger.supply - ledger.owedRefunds });
    ledger.sweeps.set(3n, { txid: sweep.txid, value: sweep.valueSats, script: fed2.script, inputs: sweep.inputs });
    await broadcast(sweep, [0, 2]);
    await sync();
    expect([...ledger.utxos.values(), ledger.reserve!].every((u) => u.script === fed2.script)).toBe(true);
    await checkInvariant();
  });
});

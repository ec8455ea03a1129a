import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Block } from 'bitcoinjs-lib';
import { buildRelayMessages } from '../../src/chains/btp/builder.js';
import { decodeBTPMessage, encodeDecision } from '../../src/chains/btp/codec.js';
import { toHex } from '../../src/chains/btp/bytes.js';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { signDecision } from '../../src/chains/btp/sign.js';
import { initVerifierState, verifierConfig, verifyRelayMessage } from '../../src/chains/btp/verifier.js';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { decodeRecord } from '../../src/chains/bitcoin/records.js';
import { BtcWatcher, type EmittedBlock } from '../../src/chains/bitcoin/watcher.js';
import { MemoryWatcherStore } from '../../src/chains/bitcoin/watcher-store.js';
import { BtpAggregator } from '../../src/consensus/btp-aggregator.js';
import { deriveHeight, initialDerivationState, type DerivedHeight, type ObservedBlock } from '../../src/consensus/derivation.js';
import { medianTimePast } from '../../src/consensus/mtp.js';
import { buildPayout, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { assemblePayout, payoutSighashes, signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { outpointKey } from '../../src/consensus/ledger.js';
import { PayoutAggregator } from '../../src/consensus/payout-aggregator.js';
import { startRegtest, type Regtest } from '../fixtures/bitcoin/regtest.js';
import { CONFIG, epochOf, genesisChain, snapshot, validators } from './fixtures.js';

describe('BTP derivation from a real bcoin regtest chain', () => {
  let rt: Regtest;
  beforeAll(async () => {
    rt = await startRegtest();
  });
  afterAll(async () => {
    await rt?.node.stop();
  });

  async function medianTime(height: number): Promise<number> {
    const times: number[] = [];
    for (let h = Math.max(0, height - 10); h <= height; h++) times.push(Block.fromHex(await rt.node.rpc.getBlockHex(await rt.node.rpc.getBlockHash(h))).timestamp);
    return medianTimePast(times);
  }

  it('derives the block of a real deposit (a quorum proof passes the BTP verifier), then of the payout spending it', async () => {
    const vals = validators(4, 'regtest-derive');
    const tip = await rt.node.rpc.getBlockCount();
    const e0 = epochOf(0, vals, 0, tip);
    const genesis = genesisChain(vals, tip);
    const recipient = new Uint8Array(20).fill(0x5a);
    const dep = await rt.faucet.send([{ script: encodeDepositOpReturn({ recipient }), valueSats: 0n }, { script: e0.script.p2shP2wshOutput, valueSats: 250_000n }]);
    await rt.faucet.mine(3);

    const watcher = new BtcWatcher({ rpc: rt.node.rpc, store: new MemoryWatcherStore(), confirmations: 3, startHeight: tip + 1 });
    const emitted: EmittedBlock[] = [];
    watcher.on('block', (b) => emitted.push(b));
    await watcher.poll();
    expect(emitted.map((b) => b.height)).toEqual([tip + 1]);

    // Two validators, independently: same bytes.
    const derive = async (): Promise<DerivedHeight> => {
      const b = emitted[0]!;
      const observed: ObservedBlock = { height: b.height, hash: b.hash, transactions: b.transactions, medianTime: await medianTime(b.height) };
      const now = Math.floor(Date.now() / 1000);
      const st = initialDerivationState({ chain: genesis.state, nextHeight: tip + 1, activations: [[0, tip]] });
      return deriveHeight(st, observed, snapshot([e0], now, 6 * 3600), CONFIG, { now });
    };
    const [d, d2] = [await derive(), await derive()];
    expect(toHex(d2.block!.headerBytes)).toBe(toHex(d.block!.headerBytes));
    expect(d.block!.messages).toHaveLength(1);
    const rec = decodeRecord(decodeBTPMessage(d.block!.messages[0]!).payload);
    expect(rec).toMatchObject({ type: 'deposit-mint', vout: 1, amountSats: 250_000n, epoch: 0 });
    expect(Buffer.from(rec!.txid).reverse().toString('hex')).toBe(dep.txid);

    const agg = new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, backend: nobleBackend, timing: { collectAfterQuorumMs: 50, takeoverTimeoutMs: 1_000 } });
    const height = d.height;
    agg.open(height, { validators: genesis.state.validators, decisionHash: d.block!.decisionHash, decision: encodeDecision(d.block!.decision) }, 0);
    for (const v of vals.slice(0, 3)) expect(agg.add({ height, decisionHash: d.block!.decisionHash, signature: signDecision(d.block!.decisionHash, v.key.privateKey, nobleBackend) }, 10)).toBe('counted');
    expect(agg.tick(60).map((e) => e.type)).toEqual(['quorum', 'final']);

    const relay = buildRelayMessages({ header: d.block!.header, proof: agg.proof(height)! }, d.block!.messages, 1 << 20);
    const cfg = verifierConfig({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, backend: nobleBackend });
    const res = verifyRelayMessage(initVerifierState(genesis.headerBytes), relay[0]!, cfg);
    expect(res.messages.map(toHex)).toEqual(d.block!.messages.map(toHex));
    expect(res.blocks[0]!.signers).toHaveLength(3);

    // The federation pays a withdrawal out of that deposit: witnesses collected through the
    // payout aggregator (per-input quorum), the transaction mined, and the next BTP block
    // carries its confirmation; its change joins the derived ledger.
    const utxo: FederationUtxo = { txid: dep.txid, vout: 1, amountSats: 250_000n, height, script: e0.script, kind: 'p2sh-p2wsh' };
    const plan = buildPayout({ batchId: 1n, reserve: undefined, deposits: [utxo], withdrawals: [{ id: 1n, amountSats: 100_000n, outputScript: rt.faucet.outputScript }], changeScript: e0.script, limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 2_000n } });
    const sighashes = payoutSighashes(plan.tx!, plan.inputs);
    const payouts = new PayoutAggregator({ backend: nobleBackend, timing: { collectAfterQuorumMs: 0, takeoverTimeoutMs: 1_000 } });
    const key = payouts.open({ batchId: 1n, txid: plan.txid!, inputs: plan.inputs.map((u, i) => ({ sighash: sighashes[i]!, script: u.script })), submitters: genesis.state.validators }, 0);
    for (const v of vals.slice(1)) {
      const sigs = signPayoutInputs(plan.tx!, plan.inputs, v.key.privateKey).map((s) => ({ index: s.inputIndex, signature: Uint8Array.of(...s.signature.compact, s.signature.recovery) }));
      payouts.add({ batchId: 1n, txid: plan.txid!, inputs: sigs }, 5);
    }
    expect(payouts.phase(key, 5)).toBe('final');
    const signedTx = assemblePayout(plan.tx!, plan.inputs, payouts.witnessSignatures(key));
    await rt.node.rpc.sendRawTransaction(signedTx.toHex());
    expect(await rt.node.rpc.getMempoolEntry(plan.txid!)).toBeDefined();
    await rt.faucet.mine(3);
    await watcher.poll();
    let st = d.state;
    const derived: DerivedHeight[] = [];
    for (const b of emitted.slice(1)) {
      const now = Math.floor(Date.now() / 1000);
      const out = deriveHeight(st, { height: b.height, hash: b.hash, transactions: b.transactions, medianTime: await medianTime(b.height) }, snapshot([e0], now, 6 * 3600), CONFIG, { now });
      derived.push(out);
      st = out.state;
    }
    const withBlock = derived.filter((x) => x.block !== null);
    expect(withBlock).toHaveLength(1);
    expect(withBlock[0]!.records).toEqual([{ type: 'payout-confirmed', txid: Uint8Array.from(signedTx.getHash()), batchId: 1n, btcHeight: withBlock[0]!.height }]);
    expect(withBlock[0]!.block!.header.prev).toEqual(d.block!.networkSectionHash);
    expect(st.ledger.has(outpointKey(dep.txid, 1))).toBe(false);
    expect(st.ledger.get(outpointKey(plan.txid!, 0))?.amountSats).toBe(plan.changeSats);
  });
});

// End to end on both real chains: federation UTXOs funded on bcoin regtest and recorded on the
// home contract through BTP messages; the coordinator closes the batch, validators' witness
// signatures are recorded on chain; the node reads them back from the WitnessRecorded events,
// assembles the transaction (assemblePayout) and bcoin accepts and mines it; the confirmation
// settles the batch on the home chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, payments, script as bscript } from 'bitcoinjs-lib';
import { Contract, Wallet, getBytes, hexlify, type Result } from 'ethers';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { federationScript, type FederationScript } from '../../src/chains/bitcoin/scripts.js';
import { buildSweep, type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { assemblePayout, signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { BITCOIN_ADDRESS_PARAMS, stakeValidator } from '../../src/chains/ethereum/contracts.js';
import { witnessSigArg } from '../../src/chains/ethereum/bindings.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { isBridgeError } from '../../src/errors.js';
import { fundFederation, startRegtest, type Regtest } from '../fixtures/bitcoin/regtest.js';
import { testKeys as btcKeys } from '../fixtures/bitcoin/keys.js';
import { SRC_BMC, deliverRecords, eventsOf, expectRevert, importAll, increaseTime, setupPayout, startEnv, stopEnv, testKeys, type Env, type PayoutFixture } from './helpers.js';

const N = 4;
const M = N / 2 + 1;
const internal = (display: string): Uint8Array => Uint8Array.from(Buffer.from(display, 'hex').reverse());

describe('payout batch signed on the home contract, mined by bcoin regtest', () => {
  let env: Env;
  let rt: Regtest;
  let f: PayoutFixture;
  let script0: FederationScript;
  // state the rotation test leaves for the sweep test
  let script1: FederationScript;
  let allKeys: string[] = [];
  let open3: { batchId: bigint; tx: Transaction; inputs: FederationUtxo[] };

  beforeAll(async () => {
    rt = await startRegtest();
    env = await startEnv(2 + N + 3);
    f = await setupPayout(env, N, { bitcoin: BITCOIN_ADDRESS_PARAMS['bcoin-regtest'], payout: { feeRateSatPerKvB: 2_000n } });
    script0 = federationScript({ keys: f.signingKeys.map((k) => secp256k1.getPublicKey(getBytes(k), true)), threshold: M, epoch: 0 });
  });
  afterAll(async () => {
    await stopEnv(env);
    await rt?.node.stop();
  });

  it('quorum witnesses recorded on chain, read back from events, assembled and mined; the confirmation settles the batch', async () => {
    const user = env.wallets[2 + N]!;
    // the federation's coins on Bitcoin: the bootstrap reserve and two deposits (P2WSH, P2SH-P2WSH)
    const reserve = await fundFederation(rt, script0, 'p2wsh', 20_000n);
    const d1 = await fundFederation(rt, script0, 'p2wsh', 300_000n);
    const d2 = await fundFederation(rt, script0, 'p2sh-p2wsh', 200_000n);
    await waitReceipt(env.provider, await f.d.payout.getFunction('initReserve')(hexlify(internal(reserve.txid)), reserve.vout, reserve.amountSats, 0));
    for (const d of [d1, d2]) {
      await deliverRecords(env, f, [{ type: 'deposit-mint', txid: internal(d.txid), vout: d.vout, amountSats: d.amountSats, epoch: 0, recipient: getBytes(user.address), ...(d.kind === 'p2sh-p2wsh' ? { outputKind: 'p2sh-p2wsh' as const } : {}) }]);
    }
    await importAll(env, f);
    // a withdrawal to a bcoin-regtest address
    const payee = payments.p2wpkh({ pubkey: btcKeys(1, 'payee')[0]!.publicKey, network: rt.node.network });
    const bsh = f.d.bsh.connect(user);
    await waitReceipt(env.provider, await bsh.getFunction('transferToForeign')(payee.address!, 450_000n));
    const closed = await waitReceipt(env.provider, await f.d.payout.getFunction('closeBatch')());
    const [ev] = eventsOf(f.d.payout, closed, 'BatchClosed');
    const batchId = ev![0] as bigint;
    const unsigned = Transaction.fromHex((ev![3] as string).slice(2));

    // the inputs, as the node re-derives them from the contract's view
    const [txids, vouts, amounts] = (await f.d.payout.getFunction('batchInputs')(batchId)) as Result;
    const known = [reserve, d1, d2];
    const inputs: FederationUtxo[] = (txids as string[]).map((t, i) => {
      const u = known.find((k) => hexlify(internal(k.txid)) === t && k.vout === Number(vouts[i]))!;
      expect(u.amountSats).toBe(amounts[i]);
      return u;
    });
    expect(inputs.map((u) => u.kind)).toEqual(['p2wsh', 'p2wsh', 'p2sh-p2wsh']);

    // M validators each submit their own signatures (Terra-Bridge style)
    for (let k = 0; k < M; k++) {
      const sigs = signPayoutInputs(unsigned, inputs, getBytes(f.signingKeys[k]!)).map(witnessSigArg);
      await waitReceipt(env.provider, await f.d.payout.getFunction('submitSignature')(batchId, 0, sigs));
    }
    const approvals = await f.d.payout.queryFilter(f.d.payout.filters['BatchApproved']!(batchId));
    expect(approvals).toHaveLength(1);

    // any validator: read the witnesses back from the events and assemble
    const logs = await f.d.payout.queryFilter(f.d.payout.filters['WitnessRecorded']!(batchId));
    const collected = new Map<number, Map<number, Uint8Array>>();
    for (const log of logs) {
      const parsed = f.d.payout.interface.parseLog(log)!;
      expect(parsed.args[1]).toBe(0n);
      for (const s of parsed.args[3] as Result[]) {
        const compact = Buffer.concat([Buffer.from(getBytes(s[3] as string)), Buffer.from(getBytes(s[4] as string))]);
        const der = bscript.signature.encode(compact, 1);
        const input = Number(s[0]);
        if (!collected.has(input)) collected.set(input, new Map());
        collected.get(input)!.set(Number(s[1]), der);
      }
    }
    const signed = assemblePayout(unsigned, inputs, collected);
    const txid = await rt.node.rpc.sendRawTransaction(signed.toHex());
    expect(`0x${Buffer.from(txid, 'hex').reverse().toString('hex')}`).toBe(ev![2]);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeDefined();
    await rt.faucet.mine(1);
    expect(await rt.node.rpc.getMempoolEntry(txid)).toBeUndefined();
    const paid = await rt.node.rpc.getTxOut(txid, 1);
    expect(paid?.confirmations).toBe(1);
    expect(paid?.valueSats).toBeLessThan(450_000n);

    // the BTP block for that height carries PAYOUT_CONFIRMED: the change becomes the reserve
    const height = await rt.node.rpc.getBlockCount();
    const r = await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: internal(txid), batchId, btcHeight: height }]);
    expect(eventsOf(f.d.payout, r, 'BatchConfirmed')).toHaveLength(1);
    const [res] = (await f.d.payout.getFunction('ledgerUtxos')(0, 1)) as Result;
    expect(res.txid).toBe(ev![2]);
    const change = await rt.node.rpc.getTxOut(txid, 0);
    expect(BigInt.asUintN(64, res.word as bigint)).toBe(change!.valueSats);
  });

  it('rotation: the first payout after an epoch change moves the old epoch\'s coins to the new script; the old keys can no longer spend them', async () => {
    const user = env.wallets[2 + N]!;
    const newcomer = env.wallets[2 + N + 1]!;
    const newKey = testKeys(1, 'payout-newcomer')[0]!;
    const registry = f.d.registry!;
    // a stronger newcomer: epoch 1 swaps it for the weakest member (maxChurn allows it)
    await stakeValidator(registry, env.provider, { operator: newcomer, signingKey: newKey, peerId: '0x02', amountWei: 10n ** 16n });
    await increaseTime(env.provider, 61);
    await waitReceipt(env.provider, await registry.getFunction('freezeNextEpoch')());
    const set1: string[] = [...(await registry.getFunction('epochValidators')(1))];
    expect(set1).toContain(new Wallet(newKey).address);
    const keyOf = new Map([...f.signingKeys, newKey].map((k) => [new Wallet(k).address, k]));
    const leaver = f.signingKeys.find((k) => !set1.includes(new Wallet(k).address))!;
    expect(leaver).toBeDefined();
    // the last BTP block of epoch 0 carries NextProofContext: the BMV activates epoch 1
    f.fed.addKeys([newKey]);
    const b = f.fed.block(f.height++, [], { nextValidators: set1 });
    await waitReceipt(env.provider, await (f.d.bmc.connect(env.wallets[1]!) as Contract).getFunction('handleRelayMessage')(SRC_BMC, b.relay));
    expect(await registry.getFunction('currentEpoch')()).toBe(1n);
    script1 = federationScript({ keys: set1.map((a) => secp256k1.getPublicKey(getBytes(keyOf.get(a)!), true)), threshold: M, epoch: 1 });

    // a deposit to the old address (inside the old-address window) and a withdrawal
    const d3 = await fundFederation(rt, script0, 'p2wsh', 250_000n);
    await deliverRecords(env, f, [{ type: 'deposit-mint', txid: internal(d3.txid), vout: d3.vout, amountSats: d3.amountSats, epoch: 0, recipient: getBytes(user.address) }]);
    await importAll(env, f);
    const payee = payments.p2wpkh({ pubkey: btcKeys(1, 'payee-2')[0]!.publicKey, network: rt.node.network });
    await waitReceipt(env.provider, await (f.d.bsh.connect(user) as Contract).getFunction('transferToForeign')(payee.address!, 100_000n));
    const closed = await waitReceipt(env.provider, await f.d.payout.getFunction('closeBatch')());
    const [ev] = eventsOf(f.d.payout, closed, 'BatchClosed');
    const batchId = ev![0] as bigint;
    const unsigned = Transaction.fromHex((ev![3] as string).slice(2));
    // change (output 0) pays the new epoch's P2WSH; both inputs are epoch 0's
    expect(hexlify(unsigned.outs[0]!.script)).toBe(hexlify(script1.p2wshOutput));
    expect(await f.d.epochScripts.getFunction('epochScript')(1)).toBe(hexlify(script1.witnessScript));
    const [, , , epochs] = (await f.d.payout.getFunction('batchInputs')(batchId)) as Result;
    expect((epochs as bigint[]).map(Number)).toEqual([0, 0]);
    const [rTxid] = (await f.d.payout.getFunction('batchInputs')(batchId)) as Result;
    const reserveNow: FederationUtxo = { txid: Buffer.from(getBytes((rTxid as string[])[0]!)).reverse().toString('hex'), vout: 0, amountSats: (await rt.node.rpc.getTxOut(Buffer.from(getBytes((rTxid as string[])[0]!)).reverse().toString('hex'), 0))!.valueSats, height: 0, script: script0, kind: 'p2wsh' };
    const inputs = [reserveNow, d3];
    // epoch 0's keys sign epoch 0's inputs (the leaver included: its duty lasts through unbonding)
    const signers = [leaver, ...f.signingKeys.filter((k) => k !== leaver)].slice(0, M);
    const all = signers.flatMap((k) => signPayoutInputs(unsigned, inputs, getBytes(k)).map(witnessSigArg));
    const r = await waitReceipt(env.provider, await f.d.payout.getFunction('submitSignatures')(batchId, 0, all));
    expect(eventsOf(f.d.payout, r, 'BatchApproved')).toHaveLength(1);
    const collected = new Map<number, Map<number, Uint8Array>>();
    for (const w of all) {
      if (!collected.has(w.input)) collected.set(w.input, new Map());
      collected.get(w.input)!.set(w.keyIndex, bscript.signature.encode(Buffer.concat([Buffer.from(getBytes(w.r)), Buffer.from(getBytes(w.s))]), 1));
    }
    const swept = assemblePayout(unsigned, inputs, collected);
    const txid = await rt.node.rpc.sendRawTransaction(swept.toHex());
    await rt.faucet.mine(1);
    expect((await rt.node.rpc.getTxOut(txid, 0))?.confirmations).toBe(1);
    await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: internal(txid), batchId, btcHeight: await rt.node.rpc.getBlockCount() }]);
    const [res] = (await f.d.payout.getFunction('ledgerUtxos')(0, 1)) as Result;
    expect(Number((res.word as bigint) >> 64n & 0xffffffffn)).toBe(1); // the reserve is epoch 1's now

    // the old keys cannot move the coins any more: a spend of the new reserve by epoch 0's
    // quorum (its witness script, its signatures) is rejected by bcoin
    const change = (await rt.node.rpc.getTxOut(txid, 0))!.valueSats;
    const thief = new Transaction();
    thief.version = 2;
    thief.addInput(Buffer.from(txid, 'hex').reverse(), 0, 0xfffffffd);
    thief.addOutput(payments.p2wpkh({ pubkey: btcKeys(1, 'thief')[0]!.publicKey, network: rt.node.network }).output!, change - 10_000n);
    const oldUtxo: FederationUtxo = { txid, vout: 0, amountSats: change, height: 0, script: script0, kind: 'p2wsh' };
    const oldSigs = new Map<number, Map<number, Uint8Array>>([[0, new Map()]]);
    for (const k of f.signingKeys.slice(0, M)) for (const s of signPayoutInputs(thief, [oldUtxo], getBytes(k))) oldSigs.get(0)!.set(s.keyIndex, s.signature.der);
    let reason = '';
    try {
      await rt.node.rpc.sendRawTransaction(assemblePayout(thief, [oldUtxo], oldSigs).toHex());
    } catch (e) {
      reason = isBridgeError(e, 'BTC_TX_REJECTED') ? String(e.context['reason']) : String(e);
    }
    expect(reason).toMatch(/WITNESS_PROGRAM_MISMATCH/);
    // and the contract refuses the leaver's signature for the new epoch's input
    await waitReceipt(env.provider, await (f.d.bsh.connect(user) as Contract).getFunction('transferToForeign')(payee.address!, 30_000n));
    const c3 = await waitReceipt(env.provider, await f.d.payout.getFunction('closeBatch')());
    const [ev3] = eventsOf(f.d.payout, c3, 'BatchClosed');
    const tx3 = Transaction.fromHex((ev3![3] as string).slice(2));
    const newReserve: FederationUtxo = { txid, vout: 0, amountSats: change, height: 0, script: script1, kind: 'p2wsh' };
    expect(signPayoutInputs(tx3, [newReserve], getBytes(leaver))).toHaveLength(0);
    const forged = signPayoutInputs(tx3, [{ ...newReserve, script: script0 }], getBytes(leaver)).map(witnessSigArg)[0]!;
    await expectRevert(f.d.payout.getFunction('submitSignature')(ev3![0], 0, [forged]), 'InvalidWitnessSignature');
    const ok = signPayoutInputs(tx3, [newReserve], getBytes(keyOf.get(set1[0]!)!)).map(witnessSigArg);
    await waitReceipt(env.provider, await f.d.payout.getFunction('submitSignature')(ev3![0], 0, ok));
    allKeys = [...f.signingKeys, newKey];
    open3 = { batchId: ev3![0] as bigint, tx: tx3, inputs: [newReserve] };
  });

  /** Every key signs what it can; submitSignatures records them; the witnesses are assembled and mined. */
  async function approveAndMine(batchId: bigint, tx: Transaction, inputs: FederationUtxo[]): Promise<string> {
    const sigs = allKeys.flatMap((k) => signPayoutInputs(tx, inputs, getBytes(k)).map(witnessSigArg));
    const r = await waitReceipt(env.provider, await f.d.payout.getFunction('submitSignatures')(batchId, 0, sigs));
    expect(r.status).toBe(1);
    expect((await f.d.payout.getFunction('versionInfo')(batchId, 0)).approved).toBe(true);
    const collected = new Map<number, Map<number, Uint8Array>>();
    for (const w of sigs) {
      if (!collected.has(w.input)) collected.set(w.input, new Map());
      collected.get(w.input)!.set(w.keyIndex, bscript.signature.encode(Buffer.concat([Buffer.from(getBytes(w.r)), Buffer.from(getBytes(w.s))]), 1));
    }
    const txid = await rt.node.rpc.sendRawTransaction(assemblePayout(tx, inputs, collected).toHex());
    await rt.faucet.mine(1);
    await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: internal(txid), batchId, btcHeight: await rt.node.rpc.getBlockCount() }]);
    return txid;
  }

  it('sweep: an old-address deposit with no withdrawal to pay is moved to the new script (with the reserve), as buildSweep builds it, and mined', async () => {
    const t3 = await approveAndMine(open3.batchId, open3.tx, open3.inputs);
    expect((await f.d.payout.getFunction('batchInfo')(open3.batchId))[0].status).toBe(2n);
    await expectRevert(f.d.payout.getFunction('closeSweep')(), 'NothingToSweep');
    const d4 = await fundFederation(rt, script0, 'p2sh-p2wsh', 120_000n);
    const h4 = f.height;
    await deliverRecords(env, f, [{ type: 'deposit-unclaimed', txid: internal(d4.txid), vout: d4.vout, amountSats: d4.amountSats, epoch: 0, outputKind: 'p2sh-p2wsh' }]);
    await importAll(env, f);
    const surplus = (await f.d.payout.getFunction('surplus')()) as bigint;
    const closed = await waitReceipt(env.provider, await f.d.payout.getFunction('closeSweep')());
    const [ev] = eventsOf(f.d.payout, closed, 'BatchClosed');
    const reserve: FederationUtxo = { txid: t3, vout: 0, amountSats: (await rt.node.rpc.getTxOut(t3, 0))!.valueSats, height: h4 - 1, script: script1, kind: 'p2wsh' };
    const old: FederationUtxo = { ...d4, height: h4 };
    const plan = buildSweep({ batchId: ev![0] as bigint, utxos: [reserve, old], toScript: script1, limits: { feeRateSatPerKvB: 2_000n, maxInputs: 10, maxWithdrawals: 100, maxWeight: 100_000 }, maxFeeSats: surplus });
    expect(ev![3]).toBe(`0x${plan.tx.toHex()}`);
    const swept = await approveAndMine(ev![0] as bigint, plan.tx, [...plan.inputs]);
    const [res] = (await f.d.payout.getFunction('ledgerUtxos')(0, 1)) as Result;
    expect(res.txid).toBe(`0x${Buffer.from(swept, 'hex').reverse().toString('hex')}`);
    expect(BigInt.asUintN(64, res.word as bigint)).toBe(plan.valueSats);
    expect(await f.d.payout.getFunction('ledgerCount')()).toBe(1n);
  });
});

// The payout coordinator on the real EVM: batches closed on chain are byte-identical to
// buildPayout (src/chains/bitcoin/payout.ts), sighashes to payoutSighashes, and witness
// signatures made by signPayoutInputs are recorded with per-input quorum.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, SigningKey, Wallet, computeAddress, getBytes, hexlify, keccak256, type TransactionReceipt } from 'ethers';
import { Transaction, networks, payments, script as bscript } from 'bitcoinjs-lib';
import { loadSharedVector } from '../helpers/vectors.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { federationScript, type FederationScript } from '../../src/chains/bitcoin/scripts.js';
import { buildPayout, bumpPayoutFee, type FederationUtxo, type PayoutPlan, type Withdrawal } from '../../src/chains/bitcoin/payout.js';
import { payoutSighashes, signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { witnessSigArg, type WitnessSigArg } from '../../src/chains/ethereum/bindings.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import type { BtcRecord } from '../../src/chains/bitcoin/records.js';
import { deliverRecords, eventsOf, expectRevert, importAll, mine, revertTo, setupPayout, snapshot, startEnv, stopEnv, type Env, type PayoutFixture } from './helpers.js';

const N = 4;
const M = N / 2 + 1;
const RT = networks.regtest;
const rev = (b: Uint8Array): string => Buffer.from(b).reverse().toString('hex');
const txidBytes = (i: number): Uint8Array => { const b = new Uint8Array(32); b[0] = 0x10 + i; b[31] = i; b[7] = 0x5a; return b; };
const addr = (i: number): { address: string; script: Uint8Array } => {
  const p = payments.p2wpkh({ hash: Buffer.alloc(20, i), network: RT });
  return { address: p.address!, script: p.output! };
};

describe('PayoutCoordinator: ledger, batches, sighashes, witnesses', () => {
  let env: Env;
  let f: PayoutFixture;
  let user: Wallet;
  let script0: FederationScript;
  let snap: string;
  let saved: { height: number; state: PayoutFixture['fed']['state']; recorded: PayoutFixture['recorded'] };

  beforeAll(async () => {
    env = await startEnv(2 + N + 2);
    f = await setupPayout(env, N);
    user = env.wallets[2 + N]!;
    script0 = federationScript({ keys: f.signingKeys.map((k) => secp256k1.getPublicKey(getBytes(k), true)), threshold: M, epoch: 0 });
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => { snap = await snapshot(env.provider); saved = { height: f.height, state: f.fed.state, recorded: new Map(f.recorded) }; });
  afterEach(async () => { await revertTo(env.provider, snap); f.height = saved.height; f.fed.state = saved.state; f.recorded = saved.recorded; });

  const send = async (c: Contract, who: Wallet, fn: string, ...args: unknown[]): Promise<TransactionReceipt> =>
    waitReceipt(env.provider, await (c.connect(who) as Contract).getFunction(fn)(...args));

  /** Reserve + deposits recorded on chain, mirrored as FederationUtxos for buildPayout. */
  async function fundLedger(deposits: { i: number; amount: bigint; kind?: 'p2wsh' | 'p2sh-p2wsh'; vout?: number; block: number }[], reserve = 10_000n): Promise<{ reserve: FederationUtxo; deposits: FederationUtxo[] }> {
    const rTxid = txidBytes(200);
    await send(f.d.payout, f.admin, 'initReserve', hexlify(rTxid), 1, reserve, 0);
    const byBlock = new Map<number, typeof deposits>();
    for (const d of deposits) byBlock.set(d.block, [...(byBlock.get(d.block) ?? []), d]);
    const utxos: FederationUtxo[] = [];
    for (const [, ds] of [...byBlock.entries()].sort((a, b) => a[0] - b[0])) {
      const h = f.height;
      const recs: BtcRecord[] = ds.map((d) => ({ type: 'deposit-mint', txid: txidBytes(d.i), vout: d.vout ?? 0, amountSats: d.amount, epoch: 0, recipient: getBytes(user.address), ...(d.kind === 'p2sh-p2wsh' ? { outputKind: 'p2sh-p2wsh' as const } : {}) }));
      await deliverRecords(env, f, recs);
      for (const d of ds) utxos.push({ txid: rev(txidBytes(d.i)), vout: d.vout ?? 0, amountSats: d.amount, height: h, script: script0, kind: d.kind ?? 'p2wsh' });
    }
    await importAll(env, f);
    return { reserve: { txid: rev(rTxid), vout: 1, amountSats: reserve, height: 0, script: script0, kind: 'p2wsh' }, deposits: utxos };
  }

  async function withdraw(amounts: bigint[]): Promise<Withdrawal[]> {
    const first = Number(await f.d.bsh.getFunction('nextWithdrawalId')());
    const out: Withdrawal[] = [];
    for (const [k, a] of amounts.entries()) {
      const { address, script } = addr(k + 1);
      await send(f.d.bsh, user, 'transferToForeign', address, a);
      out.push({ id: BigInt(first + k), amountSats: a, outputScript: script });
    }
    return out;
  }

  async function close(): Promise<{ r: TransactionReceipt; batchId: bigint; txid: string; tx: string }> {
    const r = await send(f.d.payout, user, 'closeBatch');
    const [ev] = eventsOf(f.d.payout, r, 'BatchClosed');
    expect(ev, 'BatchClosed').toBeDefined();
    return { r, batchId: ev![0] as bigint, txid: ev![2] as string, tx: ev![3] as string };
  }

  function expectSame(onChain: { txid: string; tx: string }, plan: PayoutPlan): void {
    expect(plan.tx).not.toBeNull();
    expect(onChain.tx).toBe(`0x${plan.tx!.toHex()}`);
    expect(onChain.txid).toBe(`0x${Buffer.from(plan.txid!, 'hex').reverse().toString('hex')}`);
  }

  const limits = { feeRateSatPerKvB: 10_000n, maxInputs: 10, maxWithdrawals: 100, maxWeight: 100_000 };

  it('BIP-143: reproduces the published P2SH-P2WSH vector sighash and accepts its signature only for its own key', async () => {
    const v = loadSharedVector<Record<string, string | number>>('bip143-p2sh-p2wsh.json');
    const tx = Transaction.fromHex(v.unsignedTx as string);
    const i = v.inputIndex as number;
    const inp = tx.ins[i]!;
    const h = (await f.d.payoutCodec.getFunction('sighash')(
      tx.version, `0x${v.hashPrevouts}`, `0x${v.hashSequence}`,
      { txid: hexlify(inp.hash), vout: inp.index, scriptCode: `0x${v.witnessScript}`, amount: BigInt(v.amountSats as number), sequence: inp.sequence },
      `0x${v.hashOutputsAll}`, tx.locktime,
    )) as string;
    expect(h).toBe(`0x${v.sighashAll}`);
    const { signature, hashType } = bscript.signature.decode(Buffer.from(v.signatureDerWithHashType as string, 'hex'));
    expect(hashType).toBe(1);
    const r = hexlify(signature.subarray(0, 32));
    const sv = hexlify(signature.subarray(32, 64));
    const vectorAddr = computeAddress(SigningKey.computePublicKey(`0x${v.publicKey}`, false));
    const recid = [0, 1].find((y) => SigningKey.computePublicKey(SigningKey.recoverPublicKey(h, { r, s: sv, yParity: y as 0 | 1 }), true) === `0x${v.publicKey}`)!;
    expect(recid).toBeDefined();
    const signer = await f.d.payoutCodec.getFunction('recoverSigner')(h, recid, r, sv);
    expect(signer).toBe(vectorAddr);
    // any other key: a validator's address never matches; the other recovery id gives another key
    for (const k of f.signingKeys) expect(signer).not.toBe(new Wallet(k).address);
    expect(await f.d.payoutCodec.getFunction('recoverSigner')(h, 1 - recid, r, sv)).not.toBe(vectorAddr);
    // high S (n − s) is refused before ecrecover
    const n = secp256k1.Point.CURVE().n;
    expect(await f.d.payoutCodec.getFunction('recoverSigner')(h, 1 - recid, r, `0x${(n - BigInt(sv)).toString(16).padStart(64, '0')}`)).toBe('0x0000000000000000000000000000000000000000');
  });

  it('builds the epoch script on chain exactly as scripts.ts (BIP-67 key order, m = N/2+1, epoch tag)', async () => {
    await send(f.d.epochScripts, user, 'ensure', 0);
    expect(await f.d.epochScripts.getFunction('epochScript')(0)).toBe(hexlify(script0.witnessScript));
    const [signers, n, m] = await f.d.epochScripts.getFunction('epochScriptInfo')(0);
    expect([n, m]).toEqual([BigInt(N), BigInt(M)]);
    const byKey = script0.keys.map((pk) => new Wallet(f.signingKeys.find((k) => hexlify(secp256k1.getPublicKey(getBytes(k), true)) === hexlify(pk))!).address);
    expect(signers).toEqual(byKey);
    // both output scripts are federation scripts: a withdrawal to them reverts
    expect(await f.d.bsh.getFunction('isFederationScript')(keccak256(script0.p2wshOutput))).toBe(true);
    expect(await f.d.bsh.getFunction('isFederationScript')(keccak256(script0.p2shP2wshOutput))).toBe(true);
  });

  it('one withdrawal: reserve + P2WSH and P2SH-P2WSH deposits, same bytes, txid and sighashes as buildPayout', async () => {
    const led = await fundLedger([{ i: 1, amount: 100_000n, block: 0 }, { i: 2, amount: 50_000n, kind: 'p2sh-p2wsh', block: 0 }, { i: 3, amount: 30_000n, block: 1, vout: 2 }]);
    expect(await f.d.payout.getFunction('ledgerCount')()).toBe(4n);
    expect(await f.d.payout.getFunction('ledgerTotal')()).toBe(190_000n);
    const ws = await withdraw([120_000n]);
    const c = await close();
    const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits });
    expectSame(c, plan);
    expect(plan.inputs.some((u) => u.kind === 'p2sh-p2wsh')).toBe(true);
    const hs = (await f.d.payout.getFunction('sighashes')(c.batchId, 0)) as string[];
    expect(hs).toEqual(payoutSighashes(plan.tx!, plan.inputs).map((h) => hexlify(h)));
    for (const h of hs) expect(await f.d.payout.getFunction('isDerivedSighash')(h)).toBe(true);
    expect(await f.d.payout.getFunction('versionTx')(c.batchId, 0)).toBe(c.tx);
    const [txids, vouts, amounts, epochs, kinds] = await f.d.payout.getFunction('batchInputs')(c.batchId);
    expect(txids).toEqual(plan.inputs.map((u) => `0x${rev(Buffer.from(u.txid, 'hex'))}`));
    expect(vouts.map(Number)).toEqual(plan.inputs.map((u) => u.vout));
    expect(amounts).toEqual(plan.inputs.map((u) => u.amountSats));
    expect(epochs.map(Number)).toEqual(plan.inputs.map(() => 0));
    expect(kinds.map(Number)).toEqual(plan.inputs.map((u) => (u.kind === 'p2sh-p2wsh' ? 1 : 0)));
    expect(await f.d.payout.getFunction('batchWithdrawals')(c.batchId)).toEqual([0n]);
    expect(await f.d.payout.getFunction('wasFederationOutpoint')(hexlify(txidBytes(2)), 0)).toBe(true);
    expect(await f.d.payout.getFunction('wasFederationOutpoint')(hexlify(txidBytes(200)), 1)).toBe(true);
    expect(await f.d.payout.getFunction('wasFederationOutpoint')(hexlify(txidBytes(2)), 1)).toBe(false);
    // one batch in flight at a time
    await withdraw([5_000n]);
    await expectRevert(f.d.payout.getFunction('closeBatch')(), 'BatchInFlight');
  });

  it('many withdrawals under caps (2 inputs, 5 outputs): FIFO prefix, same bytes as buildPayout', async () => {
    await send(f.d.payout, f.admin, 'setParams', 2, 5, 100_000, 100, 15_000_000n);
    const led = await fundLedger([{ i: 1, amount: 400_000n, block: 0 }, { i: 2, amount: 300_000n, block: 0 }, { i: 3, amount: 200_000n, block: 1 }]);
    const ws = await withdraw([20_000n, 31_000n, 42_000n, 15_000n, 60_000n, 17_000n, 18_000n, 19_000n]);
    const c = await close();
    const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits: { ...limits, maxInputs: 2, maxWithdrawals: 5 } });
    expectSame(c, plan);
    expect(plan.inputs).toHaveLength(2);
    expect(plan.paid).toHaveLength(5);
    expect(await f.d.payout.getFunction('batchWithdrawals')(c.batchId)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(await f.d.payout.getFunction('nextWithdrawal')()).toBe(5n);
  });

  it('a withdrawal below dust after its fee share is refunded (BTCT re-minted minus the failed-transfer fee); the rest is paid as buildPayout does', async () => {
    await send(f.d.bsh, f.admin, 'setFailedTransferFee', 100);
    const led = await fundLedger([{ i: 1, amount: 500_000n, block: 0 }]);
    const ws = await withdraw([50_000n, 560n, 70_000n]);
    const before = (await f.d.btct.getFunction('balanceOf')(user.address)) as bigint;
    const c = await close();
    const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits });
    expectSame(c, plan);
    expect(plan.unpayable.map((w) => w.id)).toEqual([1n]);
    expect(eventsOf(f.d.payout, c.r, 'WithdrawalUnpayable').map((e) => e[0])).toEqual([1n]);
    expect((await f.d.btct.getFunction('balanceOf')(user.address)) as bigint).toBe(before + 460n);
    expect(await f.d.payout.getFunction('batchWithdrawals')(c.batchId)).toEqual([0n, 2n]);
  });

  it('every withdrawal unpayable: no batch, all refunded; nothing to pay reverts', async () => {
    await fundLedger([{ i: 1, amount: 500_000n, block: 0 }]);
    await withdraw([700n]);
    const r = await send(f.d.payout, user, 'closeBatch');
    expect(eventsOf(f.d.payout, r, 'BatchClosed')).toHaveLength(0);
    expect(eventsOf(f.d.payout, r, 'WithdrawalUnpayable')).toHaveLength(1);
    await expectRevert(f.d.payout.getFunction('closeBatch')(), 'NothingToPay');
  });

  it('closing waits for every recorded height to be imported; the import is complete, sorted and checked against the BSH ledger', async () => {
    await send(f.d.payout, f.admin, 'initReserve', hexlify(txidBytes(200)), 0, 10_000n, 0);
    const h = f.height;
    await deliverRecords(env, f, [1, 2].map((i) => ({ type: 'deposit-mint', txid: txidBytes(i), vout: 0, amountSats: 50_000n, epoch: 0, recipient: getBytes(user.address) })));
    await withdraw([10_000n]);
    await expectRevert(f.d.payout.getFunction('closeBatch')(), 'DepositsNotImported');
    const hex = (i: number, vout = 0): string => `${Buffer.from(txidBytes(i)).toString('hex')}${vout.toString(16).padStart(8, '0')}`;
    await expectRevert(f.d.payout.getFunction('importDeposits')([`0x${hex(1)}`]), 'ImportCountMismatch');
    await expectRevert(f.d.payout.getFunction('importDeposits')([`0x${hex(2)}${hex(1)}`]), 'ImportNotSorted');
    await expectRevert(f.d.payout.getFunction('importDeposits')([`0x${hex(1)}${hex(1, 1)}`]), 'ImportUnknownOutpoint');
    expect(f.recorded.get(h)).toHaveLength(2);
    await importAll(env, f);
    await close();
  });

  describe('witnesses', () => {
    async function closedBatch(): Promise<{ batchId: bigint; plan: PayoutPlan }> {
      const led = await fundLedger([{ i: 1, amount: 100_000n, block: 0 }, { i: 2, amount: 50_000n, kind: 'p2sh-p2wsh', block: 0 }]);
      const ws = await withdraw([120_000n]);
      const c = await close();
      const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits });
      expectSame(c, plan);
      return { batchId: c.batchId, plan };
    }
    const sigsOf = (plan: PayoutPlan, key: string): WitnessSigArg[] => signPayoutInputs(plan.tx!, plan.inputs, getBytes(key)).map(witnessSigArg);
    const validator = (k: number): Wallet => env.wallets[2 + k]!;

    it('records each validator\'s signatures (one ecrecover each), emits them, and approves at quorum on every input', async () => {
      const { batchId, plan } = await closedBatch();
      const nIn = plan.inputs.length;
      let approved: TransactionReceipt | undefined;
      for (let k = 0; k < M; k++) {
        const sigs = sigsOf(plan, f.signingKeys[k]!);
        expect(sigs).toHaveLength(nIn);
        const r = await send(f.d.payout, validator(k), 'submitSignature', batchId, 0, sigs);
        const [ev] = eventsOf(f.d.payout, r, 'WitnessRecorded');
        expect(ev![2]).toBe(new Wallet(f.signingKeys[k]!).address);
        expect((ev![3] as unknown[]).length).toBe(nIn);
        if (k < M - 1) expect(eventsOf(f.d.payout, r, 'BatchApproved')).toHaveLength(0);
        else approved = r;
      }
      const [ap] = eventsOf(f.d.payout, approved!, 'BatchApproved');
      expect(ap![2]).toBe(`0x${Buffer.from(plan.txid!, 'hex').reverse().toString('hex')}`);
      const [approvedAt, epoch, bitmap] = await f.d.payout.getFunction('batchDuty')(batchId);
      expect(approvedAt).toBe(BigInt(approved!.blockNumber));
      expect(epoch).toBe(0n);
      // the registry order is ascending address: bits for the first M signing keys' positions
      const reg: string[] = await f.d.registry!.getFunction('epochValidators')(0);
      const expected = f.signingKeys.slice(0, M).reduce((b, k) => b | (1n << BigInt(reg.indexOf(new Wallet(k).address))), 0n);
      expect(bitmap).toBe(expected);
      // a late signer still counts for its duty
      await send(f.d.payout, validator(M), 'submitSignature', batchId, 0, sigsOf(plan, f.signingKeys[M]!));
      const [, , bitmap2] = await f.d.payout.getFunction('batchDuty')(batchId);
      expect(bitmap2).toBe(expected | (1n << BigInt(reg.indexOf(new Wallet(f.signingKeys[M]!).address))));
    });

    it('rejects a forged signature, one over another transaction, a non-validator\'s, a high-S one and a duplicate', async () => {
      const { batchId, plan } = await closedBatch();
      const good = sigsOf(plan, f.signingKeys[0]!);
      const forged = { ...good[0]!, r: hexlify(new Uint8Array(32).fill(7)) };
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [forged]), 'InvalidWitnessSignature');
      // a valid signature by the same key over another transaction (another batch id)
      const other = buildPayout({ batchId: 2n, reserve: plan.inputs[0], deposits: plan.inputs.slice(1), withdrawals: plan.paid.map((p) => p.withdrawal), changeScript: script0, limits });
      const overOther = signPayoutInputs(other.tx!, other.inputs, getBytes(f.signingKeys[0]!)).map(witnessSigArg);
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [overOther[0]!]), 'InvalidWitnessSignature');
      // a key that is not in the script, claiming validator 0's key index
      const outsider = sigsOf(plan, Wallet.createRandom().privateKey)[0];
      expect(outsider).toBeUndefined(); // signPayoutInputs signs nothing for a key not in the script
      const { bip143Sighash } = await import('../../src/chains/bitcoin/sighash.js');
      const { signSighash } = await import('../../src/chains/bitcoin/signer.js');
      const h0 = bip143Sighash(plan.tx!, 0, plan.inputs[0]!.script.witnessScript, plan.inputs[0]!.amountSats);
      const sig = signSighash(h0, getBytes(Wallet.createRandom().privateKey));
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [witnessSigArg({ inputIndex: 0, keyIndex: good[0]!.keyIndex, signature: sig })]), 'InvalidWitnessSignature');
      // high S: the same signature with s' = n − s (valid ECDSA, non-standard in Bitcoin)
      const n = secp256k1.Point.CURVE().n;
      const highS = { ...good[0]!, s: `0x${(n - BigInt(good[0]!.s)).toString(16).padStart(64, '0')}`, recid: 1 - good[0]!.recid };
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [highS]), 'HighS');
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [{ ...good[0]!, recid: 2 }]), 'BadRecoveryId');
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [{ ...good[0]!, input: 9 }]), 'InputOutOfRange');
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [{ ...good[0]!, keyIndex: N }]), 'KeyIndexOutOfRange');
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 1, good), 'UnknownBatchVersion');
      await send(f.d.payout, user, 'submitSignature', batchId, 0, good);
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, good), 'DuplicateSignature');
      // mixing validators in the single form is refused
      await expectRevert(f.d.payout.getFunction('submitSignature')(batchId, 0, [...sigsOf(plan, f.signingKeys[1]!), ...sigsOf(plan, f.signingKeys[2]!)]), 'MixedSigners');
    });

    it('submitSignatures: many validators in one transaction, one event per validator, duplicates skipped', async () => {
      const { batchId, plan } = await closedBatch();
      const s0 = sigsOf(plan, f.signingKeys[0]!);
      await send(f.d.payout, user, 'submitSignature', batchId, 0, s0);
      const all = [...s0, ...sigsOf(plan, f.signingKeys[1]!), ...sigsOf(plan, f.signingKeys[2]!)];
      const r = await send(f.d.payout, user, 'submitSignatures', batchId, 0, all);
      const evs = eventsOf(f.d.payout, r, 'WitnessRecorded');
      expect(evs.map((e) => e[2])).toEqual([1, 2].map((k) => new Wallet(f.signingKeys[k]!).address));
      expect(eventsOf(f.d.payout, r, 'BatchApproved')).toHaveLength(1);
      for (let i = 0; i < plan.inputs.length; i++) {
        const bits = (await f.d.payout.getFunction('signatureBitmap')(batchId, 0, i)) as bigint;
        expect(bits.toString(2).split('').filter((x) => x === '1')).toHaveLength(3);
      }
      // an invalid one in the batched form reverts the whole call
      await expectRevert(f.d.payout.getFunction('submitSignatures')(batchId, 0, [{ ...s0[0]!, r: hexlify(new Uint8Array(32).fill(9)) }]), 'InvalidWitnessSignature');
    });
  });

  it('PAYOUT_CONFIRMED settles the batch (withdrawals paid, change becomes the reserve); an unknown federation spend pauses withdrawals', async () => {
    const led = await fundLedger([{ i: 1, amount: 100_000n, block: 0 }]);
    const ws = await withdraw([40_000n]);
    const c = await close();
    const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits });
    const btcHeight = 777;
    const r = await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: getBytes(c.txid), batchId: c.batchId, btcHeight }]);
    expect(eventsOf(f.d.payout, r, 'BatchConfirmed')).toHaveLength(1);
    const [batch] = await f.d.payout.getFunction('batchInfo')(c.batchId);
    expect(batch.status).toBe(2n);
    const [rv] = await f.d.payout.getFunction('ledgerUtxos')(0, 1);
    expect(rv.txid).toBe(c.txid);
    expect(BigInt.asUintN(64, rv.word)).toBe(plan.changeSats);
    expect(await f.d.payout.getFunction('ledgerTotal')()).toBe(10_000n + 100_000n - 40_000n);
    expect(await f.d.payout.getFunction('inFlight')()).toBe(0n);
    expect(await f.d.bsh.getFunction('paused')()).toBe(false);
    // the next batch spends the change first
    const ws2 = await withdraw([20_000n]);
    const c2 = await close();
    const reserve2: FederationUtxo = { txid: plan.txid!, vout: 0, amountSats: plan.changeSats, height: btcHeight, script: script0, kind: 'p2wsh' };
    expectSame(c2, buildPayout({ batchId: 2n, reserve: reserve2, deposits: [], withdrawals: ws2, changeScript: script0, limits }));
    // a federation spend the contract never closed (no payout OP_RETURN): withdrawals pause
    const r2 = await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: txidBytes(99), batchId: (1n << 64n) - 1n, btcHeight: 800 }]);
    expect(eventsOf(f.d.bsh, r2, 'UnapprovedFederationSpend')).toHaveLength(1);
    expect(await f.d.bsh.getFunction('paused')()).toBe(true);
    await expectRevert((f.d.bsh.connect(user) as Contract).getFunction('transferToForeign')(addr(1).address, 10_000n), 'Paused');
  });

  it('a conflicting spend naming the batch in flight makes it refundable; fee bump after bumpAfterBlocks matches bumpPayoutFee', async () => {
    const led = await fundLedger([{ i: 1, amount: 100_000n, block: 0 }]);
    const ws = await withdraw([40_000n]);
    const c = await close();
    const plan = buildPayout({ batchId: 1n, reserve: led.reserve, deposits: led.deposits, withdrawals: ws, changeScript: script0, limits });
    await expectRevert(f.d.payout.getFunction('bumpFee')(c.batchId), 'BumpTooEarly');
    await mine(env.provider, 100);
    const surplus = (await f.d.payout.getFunction('surplus')()) as bigint;
    expect(surplus).toBe(10_000n); // the bootstrap reserve
    const r = await send(f.d.payout, user, 'bumpFee', c.batchId);
    const [ev] = eventsOf(f.d.payout, r, 'BatchClosed');
    expect(ev![1]).toBe(1n);
    const bumped = bumpPayoutFee({ plan, feeRateSatPerKvB: limits.feeRateSatPerKvB, maxExtraFeeSats: surplus });
    expect(ev![3]).toBe(`0x${bumped.tx!.toHex()}`);
    for (const h of payoutSighashes(bumped.tx!, bumped.inputs)) expect(await f.d.payout.getFunction('isDerivedSighash')(hexlify(h))).toBe(true);
    expect(await f.d.payout.getFunction('versionTx')(c.batchId, 1)).toBe(ev![3]);
    // signatures over version 1 are legitimate and counted separately
    const sigs = signPayoutInputs(bumped.tx!, bumped.inputs, getBytes(f.signingKeys[0]!)).map(witnessSigArg);
    await send(f.d.payout, user, 'submitSignature', c.batchId, 1, sigs);
    await expectRevert(f.d.payout.getFunction('refundBatch')(c.batchId), 'NotRefundable');
    const before = (await f.d.btct.getFunction('balanceOf')(user.address)) as bigint;
    await deliverRecords(env, f, [{ type: 'payout-confirmed', txid: txidBytes(98), batchId: c.batchId, btcHeight: 900 }]);
    expect(await f.d.bsh.getFunction('paused')()).toBe(true);
    await send(f.d.payout, user, 'refundBatch', c.batchId);
    expect((await f.d.btct.getFunction('balanceOf')(user.address)) as bigint).toBe(before + 40_000n);
  });
});

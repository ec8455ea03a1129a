// The Slasher against the real PayoutCoordinator (not the mock): a batch closed, fee-bumped and
// approved on chain; the validator that did not sign is slashed for missed duty after T; honest
// signatures over either version are not equivocation (their sighashes are derived); a signature
// over a spend of the same federation outpoints that no batch produced is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, getBytes, hexlify, type Contract, type TransactionReceipt } from 'ethers';
import { Transaction, networks, payments } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { federationScript } from '../../src/chains/bitcoin/scripts.js';
import { buildPayout, bumpPayoutFee, type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { bip143Digest } from '../../src/chains/bitcoin/sighash.js';
import { witnessSigArg } from '../../src/chains/ethereum/bindings.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { deploySlasherForBridge, submitBitcoinEquivocation } from '../../src/chains/ethereum/slashing.js';
import { verifyBitcoinEquivocation } from '../../src/consensus/equivocation.js';
import { deliverRecords, eventsOf, importAll, mine, setupPayout, startEnv, stopEnv, type Env, type PayoutFixture } from './helpers.js';
import { bitcoinEvidence, expectSlashRevert, sha256d } from './slashing-helpers.js';

const N = 4;
const M = N / 2 + 1;
const T = 20;
const STAKE = 10n ** 15n; // setupPayout's stake per validator
const rev = (b: Uint8Array): string => Buffer.from(b).reverse().toString('hex');
const txidBytes = (i: number): Uint8Array => { const b = new Uint8Array(32); b[0] = 0xc0 + i; b[31] = i; return b; };

describe('Slasher × PayoutCoordinator (real EVM)', () => {
  let env: Env;
  let f: PayoutFixture;
  let user: Wallet;
  let reporter: Wallet;
  let slasher: Contract;

  beforeAll(async () => {
    env = await startEnv(2 + N + 3);
    f = await setupPayout(env, N, { seed: 'slash-payout' });
    user = env.wallets[2 + N]!;
    reporter = env.wallets[2 + N + 1]!;
    slasher = await deploySlasherForBridge(f.admin, env.provider, f.d, {
      admin: f.admin.address, treasury: env.wallets[2 + N + 2]!.address,
      params: { dutyBlocks: T, missedDutyBps: 100, missedDutyCapBps: 500, equivocationBps: 5_000, reporterBps: 1_000, keeperBps: 100 },
    });
    expect(await slasher.getFunction('payout')()).toBe(await f.d.payout.getAddress());
  });
  afterAll(async () => stopEnv(env));

  const send = async (c: Contract, who: Wallet, fn: string, ...args: unknown[]): Promise<TransactionReceipt> =>
    waitReceipt(env.provider, await (c.connect(who) as Contract).getFunction(fn)(...args));
  const stakeOf = async (k: string): Promise<[bigint, boolean]> => (await f.d.registry!.getFunction('stakeOf')(new Wallet(k).address)) as [bigint, boolean];

  it('missed batch duty and Bitcoin equivocation follow the coordinator: bumped re-signing is fine, an unapproved spend is slashed', async () => {
    const payout = f.d.payout;
    const script0 = federationScript({ keys: f.signingKeys.map((k) => secp256k1.getPublicKey(getBytes(k), true)), threshold: M, epoch: 0 });
    // ledger: the bootstrap reserve and one deposit
    await send(payout, f.admin, 'initReserve', hexlify(txidBytes(0)), 1, 10_000n, 0);
    const h = f.height;
    await deliverRecords(env, f, [{ type: 'deposit-mint', txid: txidBytes(1), vout: 0, amountSats: 100_000n, epoch: 0, recipient: getBytes(user.address) }]);
    await importAll(env, f);
    const reserve: FederationUtxo = { txid: rev(txidBytes(0)), vout: 1, amountSats: 10_000n, height: 0, script: script0, kind: 'p2wsh' };
    const deposit: FederationUtxo = { txid: rev(txidBytes(1)), vout: 0, amountSats: 100_000n, height: h, script: script0, kind: 'p2wsh' };
    // one withdrawal, one batch
    const out = payments.p2wpkh({ hash: Buffer.alloc(20, 7), network: networks.regtest });
    const first = (await f.d.bsh.getFunction('nextWithdrawalId')()) as bigint;
    await send(f.d.bsh, user, 'transferToForeign', out.address!, 40_000n);
    const closed = await send(payout, user, 'closeBatch');
    const batchId = eventsOf(payout, closed, 'BatchClosed')[0]![0] as bigint;
    const limits = { feeRateSatPerKvB: 10_000n, maxInputs: 10, maxWithdrawals: 100, maxWeight: 100_000 };
    const plan = buildPayout({ batchId, reserve, deposits: [deposit], withdrawals: [{ id: first, amountSats: 40_000n, outputScript: out.output! }], changeScript: script0, limits });
    expect(eventsOf(payout, closed, 'BatchClosed')[0]![3]).toBe(`0x${plan.tx!.toHex()}`);

    // fee bump (version 1), signed by M validators: approved; validator N-1 never signs
    await mine(env.provider, 100);
    const surplus = (await payout.getFunction('surplus')()) as bigint;
    const bumpRc = await send(payout, user, 'bumpFee', batchId);
    const bumped = bumpPayoutFee({ plan, feeRateSatPerKvB: limits.feeRateSatPerKvB, maxExtraFeeSats: surplus });
    expect(eventsOf(payout, bumpRc, 'BatchClosed')[0]![3]).toBe(`0x${bumped.tx!.toHex()}`);
    let approvedRc: TransactionReceipt | undefined;
    for (let k = 0; k < M; k++) {
      approvedRc = await send(payout, user, 'submitSignature', batchId, 1, signPayoutInputs(bumped.tx!, bumped.inputs, getBytes(f.signingKeys[k]!)).map(witnessSigArg));
    }
    const [approvedAt] = (await payout.getFunction('batchDuty')(batchId)) as [bigint, bigint, bigint];
    expect(approvedAt).toBe(BigInt(approvedRc!.blockNumber));

    // missed duty: not before T, then the one validator without signatures loses 1 %
    expect((await expectSlashRevert((slasher.connect(reporter) as Contract).getFunction('reportMissedBatch')(batchId), 'DutyNotDue'))[0]).toBe(approvedAt + BigInt(T));
    const latest = await env.provider.getBlockNumber();
    await mine(env.provider, Number(approvedAt) + T - latest);
    await send(slasher, reporter, 'reportMissedBatch', batchId);
    const idle = f.signingKeys[N - 1]!;
    expect(await stakeOf(idle)).toEqual([STAKE - STAKE / 100n, false]);
    for (const k of f.signingKeys.slice(0, M)) expect(await stakeOf(k)).toEqual([STAKE, false]);

    // honest signatures over either version of the batch: derived sighashes, not equivocation
    const onChain = async (pre: Uint8Array): Promise<{ isApprovedSighash: () => boolean; isFederationOutpoint: () => boolean }> => {
      const derived = (await payout.getFunction('isDerivedSighash')(sha256d(pre))) as boolean;
      const fed = (await payout.getFunction('wasFederationOutpoint')(pre.subarray(68, 100), new DataView(pre.buffer, pre.byteOffset + 100, 4).getUint32(0, true))) as boolean;
      return { isApprovedSighash: () => derived, isFederationOutpoint: () => fed };
    };
    const signer = f.signingKeys[0]!;
    for (const [tx, inputs] of [[plan.tx!, plan.inputs], [bumped.tx!, bumped.inputs]] as const) {
      for (let i = 0; i < inputs.length; i++) {
        const pre = bip143Digest(tx, i, inputs[i]!.script.witnessScript, inputs[i]!.amountSats).preimage;
        const e = bitcoinEvidence(signer, pre);
        const ctx = await onChain(pre);
        expect([ctx.isApprovedSighash(), ctx.isFederationOutpoint()]).toEqual([true, true]);
        expect(verifyBitcoinEquivocation(e, ctx)).toBe(false);
        await expectSlashRevert(submitBitcoinEquivocation(slasher.connect(reporter) as Contract, e), 'DerivedSighash');
      }
    }
    expect(await stakeOf(signer)).toEqual([STAKE, false]);

    // a spend of the same federation outpoint to elsewhere: no batch derived it
    const rogue = Transaction.fromBuffer(bumped.tx!.toBuffer());
    rogue.outs[0]!.script = payments.p2wpkh({ hash: Buffer.alloc(20, 0xee), network: networks.regtest }).output!;
    const pre = bip143Digest(rogue, 0, bumped.inputs[0]!.script.witnessScript, bumped.inputs[0]!.amountSats).preimage;
    const e = bitcoinEvidence(signer, pre);
    const ctx = await onChain(pre);
    expect([ctx.isApprovedSighash(), ctx.isFederationOutpoint()]).toEqual([false, true]);
    expect(verifyBitcoinEquivocation(e, ctx)).toBe(true);
    const rc = await waitReceipt(env.provider, await submitBitcoinEquivocation(slasher.connect(reporter) as Contract, e));
    expect(rc.status).toBe(1);
    expect(await stakeOf(signer)).toEqual([STAKE / 2n, true]);
    expect(await slasher.getFunction('rewardOf')(reporter.address)).toBe(STAKE / 2n / 10n + (STAKE / 100n) / 100n);
  });
});

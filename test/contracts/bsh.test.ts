import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, keccak256, type TransactionReceipt } from 'ethers';
import { networks, payments } from 'bitcoinjs-lib';
import { encodeRecord } from '../../src/chains/bitcoin/records.js';
import { deployContract } from '../../src/chains/ethereum/artifacts.js';
import { BITCOIN_ADDRESS_PARAMS, deployBridge, type BridgeDeployment } from '../../src/chains/ethereum/contracts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { Federation, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, depositMint, expectRevert, mine, revertTo, snapshot, startEnv, stopEnv, testKeys, txidOf, type Env } from './helpers.js';

const DST_BMC = 'btp://0x7a69.eth/bmc';
const h20 = (b: number): Buffer => Buffer.alloc(20, b);
const h32 = (b: number): Buffer => Buffer.alloc(32, b);
const RT = networks.regtest;
const ADDR = {
  p2wpkh: payments.p2wpkh({ hash: h20(1), network: RT }).address!,
  p2wsh: payments.p2wsh({ hash: h32(2), network: RT }).address!,
  p2pkh: payments.p2pkh({ hash: h20(3), network: RT }).address!,
  p2sh: payments.p2sh({ hash: h20(4), network: RT }).address!,
};

function events(c: Contract, r: TransactionReceipt, name: string): unknown[][] {
  const out: unknown[][] = [];
  const addr = c.target.toString().toLowerCase();
  for (const log of r.logs) {
    if (log.address.toLowerCase() !== addr) continue;
    const parsed = c.interface.parseLog(log);
    if (parsed?.name === name) out.push([...parsed.args]);
  }
  return out;
}

describe('Bitcoin token service, BMC and BTCT on a real EVM', () => {
  let env: Env;
  let snap: string;
  let admin: Wallet;
  let user: Wallet;
  let other: Wallet;
  let fed: Federation;
  let d: BridgeDeployment;
  let height = 200;
  const keys = testKeys(4, 'bsh');

  beforeAll(async () => {
    env = await startEnv(6);
    [admin, user, other] = env.wallets as [Wallet, Wallet, Wallet];
    fed = new Federation(keys, DST_BMC);
    d = await deployBridge(admin, env.provider, {
      admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(height),
      bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest,
    });
  });
  afterAll(async () => stopEnv(env));
  let fedState: typeof fed.state;
  let heightAtSnap = 0;
  beforeEach(async () => { snap = await snapshot(env.provider); fedState = fed.state; heightAtSnap = height; });
  afterEach(async () => { await revertTo(env.provider, snap); fed.state = fedState; height = heightAtSnap; });

  async function deliver(payloads: Uint8Array[], from: Wallet = other): Promise<TransactionReceipt> {
    const b = fed.block(++height, payloads);
    const bmc = d.bmc.connect(from) as Contract;
    return waitReceipt(env.provider, await bmc.getFunction('handleRelayMessage')(SRC_BMC, b.relay));
  }
  const bal = async (a: string): Promise<bigint> => d.btct.getFunction('balanceOf')(a) as Promise<bigint>;
  const call = async (c: Contract, who: Wallet, fn: string, ...args: unknown[]): Promise<TransactionReceipt> =>
    waitReceipt(env.provider, await (c.connect(who) as Contract).getFunction(fn)(...args));

  it('a relay message produced by the TypeScript builder is accepted on chain and mints BTCT once per outpoint', async () => {
    const r1 = Wallet.createRandom().address;
    const r2 = Wallet.createRandom().address;
    const rec = await deliver([depositMint(1, r1, 150_000n), depositMint(2, r2, 20_000n, { vout: 3, epoch: 7 })]);
    expect(await bal(r1)).toBe(150_000n);
    expect(await bal(r2)).toBe(20_000n);
    // one summary event per dispatch; the per-deposit detail is in the BTCT Transfer events
    const [summary] = events(d.bsh, rec, 'DepositsMinted');
    expect(summary!.slice(1, 3)).toEqual([0n, 2n]);
    expect(events(d.btct, rec, 'Transfer').map((e) => [e[1], e[2]])).toEqual([[r1, 150_000n], [r2, 20_000n]]);
    const [amount, epoch, status] = await d.bsh.getFunction('utxoOf')(hexlify(txidOf(2)), 3);
    expect([amount, epoch, status]).toEqual([20_000n, 7n, 1n]);
    expect(await d.btct.getFunction('decimals')()).toBe(8n);
    // the same outpoint again in a later block (double delivery): no second mint
    const rec2 = await deliver([depositMint(1, r1, 150_000n)]);
    expect(events(d.bsh, rec2, 'DepositDuplicate')).toHaveLength(1);
    expect(await bal(r1)).toBe(150_000n);
    expect(await d.btct.getFunction('totalSupply')()).toBe(170_000n);
  });

  it('takes ratio deposit fees and splits them between the relayer and the signers of the block', async () => {
    await call(d.bsh, admin, 'setFee', true, 1, 0, 100); // 1%
    await call(d.bsh, admin, 'setRelayerShare', 2_000); // 20% to the relayer
    await call(d.bmv, admin, 'setSignatureWindow', 5);
    const r = Wallet.createRandom().address;
    await deliver([depositMint(10, r, 1_000_000n)]);
    expect(await bal(r)).toBe(990_000n);
    expect(await d.bsh.getFunction('relayerFees')(other.address)).toBe(2_000n);
    expect(await d.bsh.getFunction('blockFees')(height)).toBe(8_000n);
    await expectRevert(d.bsh.getFunction('claimSignerReward')(height, 0), 'RewardNotClaimable');
    await mine(env.provider, 6);
    const vs: string[] = await d.bmv.getFunction('getValidators')(0);
    await call(d.bsh, user, 'claimSignerReward', height, 1);
    expect(await bal(vs[1]!)).toBe(2_000n); // 8000 / 4 signers
    await expectRevert(d.bsh.getFunction('claimSignerReward')(height, 1), 'AlreadyClaimed');
    await call(d.bsh, other, 'claimRelayerReward');
    expect(await bal(other.address)).toBe(2_000n);
    await expectRevert((d.bsh.connect(other) as Contract).getFunction('claimRelayerReward')(), 'NothingToClaim');
    // a block signed by 3 of 4: the fourth cannot claim
    const b = fed.block(++height, [depositMint(12, r, 1_000_000n)], { signers: (_a, i) => i !== 2 });
    await call(d.bmc, other, 'handleRelayMessage', SRC_BMC, b.relay);
    await mine(env.provider, 6);
    await expectRevert(d.bsh.getFunction('claimSignerReward')(height, 2), 'NotASigner');
    await expectRevert((d.bsh.connect(user) as Contract).getFunction('setFee')(true, 2, 0, 0), 'Unauthorized');
    await expectRevert(d.bsh.getFunction('setFee')(true, 2, 0, 0), 'InvalidFeeConfig');
    await expectRevert(d.bsh.getFunction('setRelayerShare')(10_001), 'InvalidFeeConfig');
  });

  it('pause stops new withdrawals while proven deposits queue and mint after unpause', async () => {
    const r = Wallet.createRandom().address;
    await deliver([depositMint(20, user.address, 500_000n)]);
    await expectRevert((d.bsh.connect(other) as Contract).getFunction('pause')(), 'Unauthorized');
    await call(d.bsh, admin, 'grantRole', await d.bsh.getFunction('PAUSER_ROLE')(), other.address);
    await call(d.bsh, other, 'pause');
    await expectRevert((d.bsh.connect(user) as Contract).getFunction('transferToForeign')(ADDR.p2wpkh, 100_000n), 'Paused');
    const rec = await deliver([depositMint(21, r, 70_000n), depositMint(22, r, 30_000n)]);
    expect(rec.status).toBe(1);
    expect(events(d.bsh, rec, 'DepositDeferred')).toHaveLength(2);
    expect(await d.bsh.getFunction('pendingCount')()).toBe(2n);
    expect(await bal(r)).toBe(0n);
    expect(await d.bsh.getFunction('processPending').staticCall(10)).toBe(0n);
    await expectRevert((d.bsh.connect(other) as Contract).getFunction('unpause')(), 'Unauthorized');
    await call(d.bsh, admin, 'unpause');
    await expectRevert(d.bsh.getFunction('unpause')(), 'NotPaused');
    // a deposit arriving while the queue is non-empty waits behind it (FIFO)
    await deliver([depositMint(23, r, 1n)]);
    expect(await d.bsh.getFunction('pendingCount')()).toBe(3n);
    await call(d.bsh, other, 'processPending', 10);
    expect(await bal(r)).toBe(100_001n);
    expect(await d.bsh.getFunction('pendingCount')()).toBe(0n);
    await call(d.bsh, user, 'transferToForeign', ADDR.p2wpkh, 100_000n);
  });

  it('deposit limits and the per-asset flag defer mints instead of reverting', async () => {
    const r = Wallet.createRandom().address;
    await call(d.bsh, admin, 'setLimits', true, [0, 100_000, 150_000, 10]);
    await deliver([depositMint(30, r, 90_000n), depositMint(31, r, 90_000n), depositMint(32, r, 200_000n)]);
    expect(await bal(r)).toBe(90_000n); // the second exceeds the daily cap, the third the maximum
    expect(await d.bsh.getFunction('pendingCount')()).toBe(2n);
    await call(d.bsh, admin, 'setLimits', true, [0, 1_000_000, 10_000_000, 10]);
    await call(d.bsh, admin, 'setMaxSupply', 200_000);
    await call(d.bsh, user, 'processPending', 10);
    expect(await bal(r)).toBe(180_000n); // max supply blocks the 200k one
    await call(d.bsh, admin, 'setMaxSupply', 10n ** 15n);
    await call(d.bsh, admin, 'setAssetActive', false);
    expect(await d.bsh.getFunction('processPending').staticCall(10)).toBe(0n);
    await call(d.bsh, admin, 'setAssetActive', true);
    await call(d.bsh, user, 'processPending', 10);
    expect(await bal(r)).toBe(380_000n);
  });

  it('records refund, unclaimed and payout-confirmation messages; malformed payloads never revert the relay', async () => {
    const refundScript = getBytes(payments.p2wpkh({ hash: h20(9), network: RT }).output!);
    const rec = await deliver([
      encodeRecord({ type: 'deposit-refund', txid: txidOf(40), vout: 1, amountSats: 5_000n, epoch: 2, refundScript }),
      encodeRecord({ type: 'deposit-unclaimed', txid: txidOf(41), vout: 0, amountSats: 6_000n, epoch: 2 }),
      encodeRecord({ type: 'payout-confirmed', txid: txidOf(42), batchId: 3n, btcHeight: 812 }),
      new Uint8Array([0x01, 0x02]),
      new Uint8Array([0x77]),
      depositMint(43, '0x0000000000000000000000000000000000000000', 7_000n),
    ]);
    expect(events(d.bsh, rec, 'DepositRefundRecorded')).toHaveLength(1);
    expect(events(d.bsh, rec, 'DepositUnclaimed')).toHaveLength(2);
    expect(events(d.bsh, rec, 'PayoutConfirmed')[0]).toEqual([hexlify(txidOf(42)), 3n, 812n]);
    expect(events(d.bsh, rec, 'MessageRejected').map((e) => e[1])).toEqual([1n, 2n]);
    const [, , status] = await d.bsh.getFunction('utxoOf')(hexlify(txidOf(40)), 1);
    expect(status).toBe(2n);
    expect(await d.btct.getFunction('totalSupply')()).toBe(0n);
  });

  it('a P2SH-P2WSH deposit record (type 0x81) mints and the ledger keeps the output kind; refund/unclaimed too', async () => {
    const r = Wallet.createRandom().address;
    const refundScript = getBytes(payments.p2wpkh({ hash: h20(9), network: RT }).output!);
    const wrapped = { outputKind: 'p2sh-p2wsh' as const };
    const mint = encodeRecord({ type: 'deposit-mint', txid: txidOf(60), vout: 2, amountSats: 90_000n, epoch: 4, recipient: getBytes(r), ...wrapped });
    expect(mint[0]).toBe(0x81);
    const rec = await deliver([
      mint,
      depositMint(61, r, 10_000n, { vout: 1 }),
      encodeRecord({ type: 'deposit-refund', txid: txidOf(62), vout: 0, amountSats: 5_000n, epoch: 4, refundScript, ...wrapped }),
      encodeRecord({ type: 'deposit-unclaimed', txid: txidOf(63), vout: 0, amountSats: 6_000n, epoch: 4, ...wrapped }),
    ]);
    expect(events(d.bsh, rec, 'MessageRejected')).toEqual([]);
    expect(events(d.bsh, rec, 'DepositsMinted').map((e) => e[2])).toEqual([2n]);
    expect(await bal(r)).toBe(100_000n);
    const utxo = async (i: number, vout: number): Promise<unknown[]> => [...((await d.bsh.getFunction('utxoOf')(hexlify(txidOf(i)), vout)) as unknown[])];
    // amount, epoch, status, btpHeight, kind (1 = P2SH-P2WSH)
    expect(await utxo(60, 2)).toEqual([90_000n, 4n, 1n, BigInt(height), 1n]);
    expect(await utxo(61, 1)).toEqual([10_000n, 0n, 1n, BigInt(height), 0n]);
    expect(await utxo(62, 0)).toEqual([5_000n, 4n, 2n, BigInt(height), 1n]);
    expect(await utxo(63, 0)).toEqual([6_000n, 4n, 3n, BigInt(height), 1n]);
    // the same outpoint as P2WSH later is still a duplicate: the kind is not part of the outpoint
    const again = await deliver([encodeRecord({ type: 'deposit-mint', txid: txidOf(60), vout: 2, amountSats: 90_000n, epoch: 4, recipient: getBytes(r) })]);
    expect(events(d.bsh, again, 'DepositDuplicate')).toHaveLength(1);
    expect(await bal(r)).toBe(100_000n);
  });

  it('an unknown record type (0x04, 0x84, a flagged payout 0x90) is kept on chain by sn, not dropped', async () => {
    const payout = encodeRecord({ type: 'payout-confirmed', txid: txidOf(70), batchId: 1n, btcHeight: 9 });
    const flaggedPayout = Uint8Array.from(payout);
    flaggedPayout[0] = 0x90;
    const unknown4 = Uint8Array.from(depositMint(71, user.address, 1_000n));
    unknown4[0] = 0x04;
    const unknown84 = Uint8Array.from(unknown4);
    unknown84[0] = 0x84;
    const rec = await deliver([unknown4, unknown84, flaggedPayout, new Uint8Array(0)]);
    const rejected = events(d.bsh, rec, 'MessageRejected');
    expect(rejected.map((e) => e[1])).toEqual([2n, 2n, 2n, 0n]);
    expect(events(d.bsh, rec, 'PayoutConfirmed')).toEqual([]);
    expect(await d.bsh.getFunction('rejectedCount')()).toBe(4n);
    const payloads = [unknown4, unknown84, flaggedPayout, new Uint8Array(0)];
    const sn0 = rejected[0]![0] as bigint;
    for (const [i, e] of rejected.entries()) {
      expect(e[0]).toBe(sn0 + BigInt(i));
      expect(await d.bsh.getFunction('rejectedMessages')(e[0])).toBe(keccak256(payloads[i]!));
    }
    expect(await bal(user.address)).toBe(0n);
  });

  it('transferToForeign burns, queues a sequential withdrawal with its output script, and takes the fee', async () => {
    await deliver([depositMint(50, user.address, 10_000_000n)]);
    await call(d.bsh, admin, 'setFee', false, 0, 1_000, 0); // fixed 1000 sat
    const expected: Record<string, string> = {
      p2wpkh: hexlify(payments.p2wpkh({ hash: h20(1) }).output!),
      p2wsh: hexlify(payments.p2wsh({ hash: h32(2) }).output!),
      p2pkh: hexlify(payments.p2pkh({ hash: h20(3) }).output!),
      p2sh: hexlify(payments.p2sh({ hash: h20(4) }).output!),
    };
    let id = 0n;
    for (const [kind, addr] of Object.entries(ADDR)) {
      const rec = await call(d.bsh, user, 'transferToForeign', addr, 100_000n);
      const [ev] = events(d.bsh, rec, 'TransferToForeign');
      expect(ev).toEqual([id, user.address, addr, expected[kind], 99_000n, 1_000n]);
      const w = await d.bsh.getFunction('withdrawals')(id);
      expect(w[3]).toBe(expected[kind]);
      id++;
    }
    expect(await bal(user.address)).toBe(10_000_000n - 400_000n);
    expect(await d.bsh.getFunction('withdrawalFeePool')()).toBe(4_000n);
    // upper-case bech32 is valid too (BIP-173)
    await call(d.bsh, user, 'transferToForeign', ADDR.p2wpkh.toUpperCase(), 100_000n);
  });

  it('transferToForeign reverts with a clear custom error for each rule', async () => {
    await deliver([depositMint(60, user.address, 1_000_000n)]);
    const bsh = d.bsh.connect(user) as Contract;
    const bad = ADDR.p2wpkh.slice(0, -1) + (ADDR.p2wpkh.endsWith('q') ? 'p' : 'q');
    expect((await expectRevert(bsh.getFunction('transferToForeign')(bad, 100_000n), 'InvalidBitcoinAddress'))[0]).toBe(3n);
    const mainnet = payments.p2wpkh({ hash: h20(1) }).address!;
    await expectRevert(bsh.getFunction('transferToForeign')(mainnet, 100_000n), 'InvalidBitcoinAddress');
    const mainP2pkh = payments.p2pkh({ hash: h20(1) }).address!;
    expect((await expectRevert(bsh.getFunction('transferToForeign')(mainP2pkh, 100_000n), 'InvalidBitcoinAddress'))[0]).toBe(9n);
    const b58bad = ADDR.p2pkh.slice(0, -2) + (ADDR.p2pkh.endsWith('22') ? '33' : '22');
    await expectRevert(bsh.getFunction('transferToForeign')(b58bad, 100_000n), 'InvalidBitcoinAddress');
    await expectRevert(bsh.getFunction('transferToForeign')('not an address', 100_000n), 'InvalidBitcoinAddress');
    // a federation script may not be a withdrawal recipient
    const fedScript = hexlify(payments.p2wsh({ hash: h32(2) }).output!);
    await expectRevert((d.bsh.connect(user) as Contract).getFunction('setFederationScript')(fedScript, true), 'Unauthorized');
    await call(d.bsh, admin, 'setFederationScript', fedScript, true);
    expect(await d.bsh.getFunction('addressToScript')(ADDR.p2wsh)).toBe(fedScript);
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wsh, 100_000n), 'FederationRecipient');
    // limits (each check is independent of block timestamps: no minute or day rollover involved)
    await call(d.bsh, admin, 'setLimits', false, [10_000, 500_000, 300_000, 1_000]);
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 9_999n), 'AmountBelowMinimum');
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 500_001n), 'AmountAboveMaximum');
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 300_001n), 'DailyCapExceeded');
    await call(d.bsh, admin, 'setLimits', false, [10_000, 500_000, 10_000_000, 0]);
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 10_000n), 'RateLimited');
    await call(d.bsh, admin, 'setLimits', false, [0, 10_000_000, 10_000_000, 1_000]);
    await call(d.bsh, admin, 'setFee', false, 0, 50_000, 0);
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 50_000n), 'AmountNotAboveFee');
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 5_000_000n), 'InsufficientBalance');
    await call(d.bsh, admin, 'setAssetActive', false);
    await expectRevert(bsh.getFunction('transferToForeign')(ADDR.p2wpkh, 100_000n), 'AssetInactive');
  });

  it('refundWithdrawal (payout role) returns BTCT minus the failed-transfer fee, once', async () => {
    await deliver([depositMint(70, user.address, 1_000_000n)]);
    await call(d.bsh, user, 'transferToForeign', ADDR.p2wpkh, 300_000n);
    await expectRevert(d.bsh.getFunction('refundWithdrawal')(0), 'Unauthorized');
    await call(d.bsh, admin, 'grantRole', await d.bsh.getFunction('PAYOUT_ROLE')(), admin.address);
    await call(d.bsh, admin, 'setFailedTransferFee', 2_000);
    await expectRevert(d.bsh.getFunction('refundWithdrawal')(5), 'UnknownWithdrawal');
    const rec = await call(d.bsh, admin, 'refundWithdrawal', 0);
    expect(events(d.bsh, rec, 'WithdrawalRefunded')[0]).toEqual([0n, user.address, 298_000n, 2_000n]);
    expect(await bal(user.address)).toBe(998_000n);
    await expectRevert(d.bsh.getFunction('refundWithdrawal')(0), 'WithdrawalNotQueued');
  });

  it('parses mainnet, testnet and bcoin-regtest addresses per the configured network', async () => {
    const cases = [
      ['mainnet', networks.bitcoin],
      ['testnet', networks.testnet],
      ['bcoin-regtest', { ...networks.regtest, bech32: 'rb', pubKeyHash: 0x3c, scriptHash: 0x26 }],
    ] as const;
    for (const [name, net] of cases) {
      const p = BITCOIN_ADDRESS_PARAMS[name];
      const bsh = await deployContract(admin, env.provider, 'BitcoinTokenService', [admin.address, admin.address, admin.address, [hexlify(new TextEncoder().encode(p.hrp)), p.p2pkhVersion, p.p2shVersion]]);
      for (const pay of [payments.p2wpkh({ hash: h20(5), network: net }), payments.p2wsh({ hash: h32(6), network: net }), payments.p2pkh({ hash: h20(7), network: net }), payments.p2sh({ hash: h20(8), network: net })]) {
        expect(await bsh.getFunction('addressToScript')(pay.address!)).toBe(hexlify(pay.output!));
      }
      await expectRevert(bsh.getFunction('addressToScript')(ADDR.p2wsh), 'InvalidBitcoinAddress');
    }
  });

  it('BMC: wiring is set once, unknown networks and foreign destinations are refused or dropped', async () => {
    await expectRevert(d.bmc.getFunction('setVerifier')(SRC_UID, other.address), 'VerifierAlreadySet');
    await expectRevert(d.bmc.getFunction('setService')('btc', other.address), 'ServiceAlreadySet');
    await expectRevert((d.bmc.connect(user) as Contract).getFunction('setService')('x', other.address), 'Unauthorized');
    const b = fed.block(++height, [depositMint(80, user.address, 1n)]);
    await expectRevert(d.bmc.getFunction('handleRelayMessage')('btp://0x9.btc/x', b.relay), 'UnknownNetwork');
    await expectRevert(d.bmc.getFunction('retryBatch')(hexlify(new Uint8Array(32)), 1, 1, []), 'UnknownFailedBatch');
    const rec = await waitReceipt(env.provider, await d.bmc.getFunction('handleRelayMessage')(SRC_BMC, b.relay));
    expect(events(d.bmc, rec, 'RelayHandled')).toHaveLength(1);
    expect(await bal(user.address)).toBe(1n);
  });

  it('BTCT: only the service mints or burns; ERC-20 transfers and allowances', async () => {
    await deliver([depositMint(90, user.address, 1_000n)]);
    await expectRevert(d.btct.getFunction('mint')(user.address, 1n), 'NotService');
    await expectRevert(d.btct.getFunction('burn')(user.address, 1n), 'NotService');
    await expectRevert(d.btct.getFunction('mintBatch')([1n]), 'NotService');
    const t = d.btct.connect(user) as Contract;
    await expectRevert(t.getFunction('transfer')(other.address, 1_001n), 'InsufficientBalance');
    await expectRevert(t.getFunction('transfer')('0x0000000000000000000000000000000000000000', 1n), 'InvalidRecipient');
    await call(d.btct, user, 'approve', other.address, 300n);
    await expectRevert((d.btct.connect(other) as Contract).getFunction('transferFrom')(user.address, other.address, 301n), 'InsufficientAllowance');
    await call(d.btct, other, 'transferFrom', user.address, other.address, 300n);
    expect(await bal(other.address)).toBe(300n);
    expect(await d.btct.getFunction('allowance')(user.address, other.address)).toBe(0n);
  });
});

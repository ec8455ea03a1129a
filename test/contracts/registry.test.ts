import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { BITCOIN_ADDRESS_PARAMS, deployBridge, deployRegistry, popDigest, publicKey64, signRaw, stakeValidator, type BridgeDeployment } from '../../src/chains/ethereum/contracts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { Federation, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, depositMint, expectRevert, increaseTime, revertTo, snapshot, startEnv, stopEnv, testKeys, type Env } from './helpers.js';

const ETH = 10n ** 18n;
const DST_BMC = 'btp://0x7a69.eth/bmc';
const PARAMS = { minStakeWei: ETH, unbondingPeriodSec: 1_000, maxActive: 4, maxChurn: 2, activationMarginSec: 600, epochDurationSec: 3_600 };

describe('ValidatorRegistry: staking, epochs, and the BMV following it', () => {
  let env: Env;
  let snap: string;
  let admin: Wallet;
  let operators: Wallet[];
  let registry: Contract;
  const signing = testKeys(7, 'reg');
  const addrOf = (k: string): string => new Wallet(k).address;

  beforeAll(async () => {
    env = await startEnv(10);
    admin = env.wallets[0]!;
    operators = env.wallets.slice(1, 8);
    registry = await deployRegistry(admin, env.provider, admin.address, PARAMS);
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => { snap = await snapshot(env.provider); });
  afterEach(async () => revertTo(env.provider, snap));

  const call = async (c: Contract, who: Wallet, fn: string, ...args: unknown[]): Promise<void> => {
    await waitReceipt(env.provider, await (c.connect(who) as Contract).getFunction(fn)(...args));
  };
  async function stakeAll(n: number, amounts: bigint[] = []): Promise<void> {
    for (let i = 0; i < n; i++) {
      await stakeValidator(registry, env.provider, { operator: operators[i]!, signingKey: signing[i]!, peerId: hexlify(toUtf8Bytes(`peer-${i}`)), amountWei: amounts[i] ?? ETH * BigInt(10 - i) });
    }
  }
  const sorted = (keys: string[]): string[] => keys.map(addrOf).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));

  it('stake checks the public key, proof of possession and minimum; exposes keys, stakes and peer ids', async () => {
    const op = operators[0]!;
    const r = registry.connect(op) as Contract;
    const { chainId } = await env.provider.getNetwork();
    const pop = signRaw(signing[0]!, popDigest(chainId, await registry.getAddress(), op.address));
    await expectRevert(r.getFunction('stake')('0x1234', '0x', pop, { value: ETH }), 'InvalidPublicKey');
    await expectRevert(r.getFunction('stake')(publicKey64(signing[0]!), '0x', pop, { value: ETH - 1n }), 'StakeTooLow');
    const wrongPop = signRaw(signing[1]!, popDigest(chainId, await registry.getAddress(), op.address));
    await expectRevert(r.getFunction('stake')(publicKey64(signing[0]!), '0x', wrongPop, { value: ETH }), 'InvalidProofOfPossession');
    await call(registry, op, 'stake', publicKey64(signing[0]!), '0xabcd', pop, { value: ETH });
    await expectRevert(r.getFunction('stake')(publicKey64(signing[0]!), '0x', pop, { value: ETH }), 'AlreadyRegistered');
    const pop1 = signRaw(signing[1]!, popDigest(chainId, await registry.getAddress(), op.address));
    await expectRevert(r.getFunction('stake')(publicKey64(signing[1]!), '0x', pop1, { value: ETH }), 'OperatorHasValidator');
    const info = await registry.getFunction('validatorInfo')(addrOf(signing[0]!));
    expect(info[0]).toBe(op.address);
    expect(info[1]).toBe(ETH);
    expect(info[3]).toBe(publicKey64(signing[0]!));
    const pub = new Wallet(signing[0]!).signingKey.compressedPublicKey;
    expect(await registry.getFunction('compressedKey')(addrOf(signing[0]!))).toBe(pub);
    await call(registry, op, 'addStake', { value: ETH });
    await expectRevert((registry.connect(operators[5]!) as Contract).getFunction('addStake')({ value: 1n }), 'NotOperator');
  });

  it('bootstrap freezes epoch 0 as the top stakes in ascending address order; freezes are spaced and churn-capped', async () => {
    await expectRevert(registry.getFunction('freezeNextEpoch')(), 'NotBootstrapped');
    await stakeAll(6); // stakes 10, 9, 8, 7, 6, 5 ETH
    await expectRevert((registry.connect(operators[0]!) as Contract).getFunction('bootstrap')(), 'Unauthorized');
    await call(registry, admin, 'bootstrap');
    await expectRevert(registry.getFunction('bootstrap')(), 'AlreadyBootstrapped');
    expect(await registry.getFunction('epochValidators')(0)).toEqual(sorted(signing.slice(0, 4)));
    const [signers, pubs, stakes, peers] = await registry.getFunction('epochDetails')(0);
    expect(signers).toHaveLength(4);
    expect(pubs[0]).toHaveLength(2 + 128);
    expect(stakes.every((s: bigint) => s >= 7n * ETH)).toBe(true);
    expect(peers.map((p: string) => Buffer.from(getBytes(p)).toString()).sort()).toEqual(['peer-0', 'peer-1', 'peer-2', 'peer-3']);

    await expectRevert(registry.getFunction('freezeNextEpoch')(), 'EpochTooSoon');
    // three newcomers outstake three members, but churn 2 allows one swap only
    for (const i of [4, 5]) await call(registry, operators[i]!, 'addStake', { value: 20n * ETH });
    await stakeValidator(registry, env.provider, { operator: operators[6]!, signingKey: signing[6]!, peerId: '0x01', amountWei: 40n * ETH });
    await increaseTime(env.provider, 3_600);
    await call(registry, operators[0]!, 'freezeNextEpoch');
    const next: string[] = await registry.getFunction('epochValidators')(1);
    expect(next).toHaveLength(4);
    const kept = next.filter((a) => sorted(signing.slice(0, 4)).includes(a));
    expect(kept).toHaveLength(3);
    expect(next).toContain(addrOf(signing[6]!)); // the strongest newcomer
    expect(next).not.toContain(addrOf(signing[3]!)); // the weakest member leaves
    expect([...next].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))).toEqual(next);
    const [, activationMtp, , frozen, active] = await registry.getFunction('epochInfo')(1);
    expect(frozen).toBe(true);
    expect(active).toBe(false);
    const block = await env.provider.getBlock('latest');
    expect(activationMtp).toBeGreaterThanOrEqual(BigInt(block!.timestamp) + 600n - 5n);
    await expectRevert(registry.getFunction('freezeNextEpoch')(), 'NextEpochAlreadyFrozen');
    await expectRevert(registry.getFunction('activateEpoch')(1, 5), 'NotVerifier');
  });

  it('unbonding: withdraw only after the period and once out of the current and next sets', async () => {
    await stakeAll(6); // stakes 10..5 ETH: epoch 0 = the first four
    await call(registry, admin, 'bootstrap');
    const r0 = registry.connect(operators[0]!) as Contract;
    await expectRevert(r0.getFunction('withdrawStake')(), 'NotUnbonding');
    await call(registry, operators[0]!, 'unstake');
    await expectRevert(r0.getFunction('unstake')(), 'AlreadyUnbonding');
    await expectRevert(r0.getFunction('withdrawStake')(), 'UnbondingNotOver');
    await increaseTime(env.provider, 3_600);
    await expectRevert(r0.getFunction('withdrawStake')(), 'StillInValidatorSet');
    // the unbonding validator is replaced in the next set; while that set is pending it is out of it,
    // but it still signs epoch 0 until the switch
    await call(registry, operators[1]!, 'freezeNextEpoch');
    expect(await registry.getFunction('epochValidators')(1)).not.toContain(addrOf(signing[0]!));
    await expectRevert(r0.getFunction('withdrawStake')(), 'StillInValidatorSet');
    expect(await registry.getFunction('epochValidators')(1)).toContain(addrOf(signing[4]!));
    // the sixth staker (in no set) can leave freely after unbonding
    await call(registry, operators[5]!, 'unstake');
    await increaseTime(env.provider, 1_001);
    const before = await env.provider.getBalance(operators[5]!.address);
    await call(registry, operators[5]!, 'withdrawStake');
    expect(await env.provider.getBalance(operators[5]!.address)).toBeGreaterThan(before + 4n * ETH);
    expect(await registry.getFunction('candidateCount')()).toBe(5n);
  });

  it('schedules BTP-affecting parameters by Bitcoin median-time-past with a margin', async () => {
    const key = keccak256(toUtf8Bytes('minDeposit'));
    const now = BigInt((await env.provider.getBlock('latest'))!.timestamp);
    await expectRevert(registry.getFunction('scheduleParam')(key, 10_000, now + 10n), 'ActivationTooSoon');
    await expectRevert((registry.connect(operators[0]!) as Contract).getFunction('scheduleParam')(key, 1, now + 10_000n), 'Unauthorized');
    await call(registry, admin, 'scheduleParam', key, 10_000, now + 1_000n);
    await call(registry, admin, 'scheduleParam', key, 20_000, now + 5_000n);
    await expectRevert(registry.getFunction('scheduleParam')(key, 1, now + 4_000n), 'ActivationNotIncreasing');
    expect(await registry.getFunction('paramAt')(key, now + 999n)).toEqual([0n, false]);
    expect(await registry.getFunction('paramAt')(key, now + 1_000n)).toEqual([10_000n, true]);
    expect(await registry.getFunction('paramAt')(key, now + 6_000n)).toEqual([20_000n, true]);
    await expectRevert(registry.getFunction('setStakingParams')(ETH, 1, 0, 1, 1, 1), 'InvalidStakingParams');
  });

  describe('BMV in fednode mode', () => {
    let fed: Federation;
    let d: BridgeDeployment;
    let height: number;
    beforeEach(async () => {
      await stakeAll(6);
      await call(registry, admin, 'bootstrap');
      fed = new Federation(signing.slice(0, 4), DST_BMC);
      fed.addKeys(signing);
      height = 500;
      d = await deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(height), bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest, registry });
    });
    const relay = async (r: string): Promise<void> => call(d.bmc, operators[0]!, 'handleRelayMessage', SRC_BMC, r);

    it('the first ProofContext must be the registry epoch set', async () => {
      const other = new Federation(signing.slice(1, 5), DST_BMC);
      await expectRevert(deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: other.genesis(1), bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest, registry }), 'InitialSetMismatch');
    });

    it('epoch switch: the new set is accepted from the activation height on and not before; other NextProofContexts are refused', async () => {
      // newcomers outstake two members; freeze epoch 1
      for (const i of [4, 5]) await call(registry, operators[i]!, 'addStake', { value: 20n * ETH });
      await increaseTime(env.provider, 3_600);
      await call(registry, operators[0]!, 'freezeNextEpoch');
      const frozen: string[] = await registry.getFunction('epochValidators')(1);
      const newSigners = signing.filter((k) => frozen.includes(addrOf(k)));
      expect(newSigners).toHaveLength(4);

      // before the switch, a block signed by the next set (minus old members) lacks quorum
      const probe = new Federation(signing.slice(0, 4), DST_BMC);
      probe.state = { ...fed.state };
      probe.keys.clear();
      probe.addKeys(newSigners.filter((k) => !signing.slice(0, 4).includes(k)));
      const early = probe.block(height + 1, [depositMint(1, operators[0]!.address, 1_000n)]);
      await expectRevert(d.bmc.getFunction('handleRelayMessage')(SRC_BMC, early.relay), 'QuorumNotReached');

      // a NextProofContext that differs from the frozen set is refused
      const saved = { ...fed.state };
      const wrong = fed.block(height + 1, [], { nextValidators: signing.slice(1, 5).map(addrOf) });
      await expectRevert(d.bmc.getFunction('handleRelayMessage')(SRC_BMC, wrong.relay), 'NextProofContextMismatch');
      fed.state = saved;

      // the switch block, signed by the old set, carries the frozen set
      const sw = fed.block(height + 1, [], { nextValidators: frozen });
      await relay(sw.relay);
      expect(await registry.getFunction('currentEpoch')()).toBe(1n);
      const [, , activationBtcHeight, , active] = await registry.getFunction('epochInfo')(1);
      // the switch block is height + 1; the new set signs from height + 2 (CONSENSUS.md §2.3)
      expect([activationBtcHeight, active]).toEqual([BigInt(height + 2), true]);
      expect(await d.bmv.getFunction('currentValidators')()).toEqual(frozen);

      // from the next height on, only the new set's signatures count
      const saved2 = { ...fed.state };
      const oldOnly = fed.block(height + 2, [depositMint(2, operators[0]!.address, 1_000n)], {
        signers: (a) => !newSigners.map((k) => addrOf(k).toLowerCase()).includes(a),
      });
      await expectRevert(d.bmc.getFunction('handleRelayMessage')(SRC_BMC, oldOnly.relay), 'QuorumNotReached');
      fed.state = saved2;
      const ok = fed.block(height + 2, [depositMint(2, operators[0]!.address, 1_000n)]);
      await relay(ok.relay);
      expect(await d.btct.getFunction('balanceOf')(operators[0]!.address)).toBe(1_000n);
    });

    it('a switch to a set that is not frozen yet is refused', async () => {
      const b = fed.block(height + 1, [], { nextValidators: signing.slice(2, 6).map(addrOf) });
      await expectRevert(d.bmc.getFunction('handleRelayMessage')(SRC_BMC, b.relay), 'NextEpochNotFrozen');
    });
  });
});

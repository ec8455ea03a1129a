import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { encodeDecision } from '../../src/chains/btp/codec.js';
import { signDecision } from '../../src/chains/btp/sign.js';
import type { BtpEquivocationEvidence } from '../../src/consensus/equivocation.js';
import type { Accountability } from '../../src/node/validator/accountability/index.js';
import { startHarness, waitFor, type Harness } from './harness.js';
import { accountabilityOf, registryContract, slasherContract, startNodeWithEvidence } from './slashing-harness.js';

/** T (home blocks) and the BMV's recordSignature window, lowered from 300/100 so the test mines few blocks. */
const DUTY_BLOCKS = 20;
const SIGNATURE_WINDOW = 10;
const MISSED_DUTY_BPS = 10n;

/**
 * Accountability end to end with 4 validators in one process and the accountability module
 * (src/node/validator/accountability) running beside validators 0–2, built from their services:
 * 1. validator 3 stops; the other three still reach quorum and mint; T home blocks after the
 *    block's acceptance the keeper whose turn it is reports it, and validator 3's stake drops
 *    (`MissedDutySlashed`), once;
 * 2. validator 2 turns byzantine: with its key it signs a second decision at the height of the
 *    next deposit and gossips it; the honest nodes' aggregators turn the two signatures into
 *    evidence, their modules prove it on chain (`EquivocationSlashed`) and it is ejected;
 * 3. validator 3 comes back with its module: it derives and signs the block relayed without it,
 *    and its own defence records that signature in the BMV (`SignatureRecorded`).
 */
describe('slashing e2e: missed duty and BTP equivocation on chain', () => {
  let h: Harness;
  let slasher: Contract;
  let registry: Contract;
  const keepers: Array<Accountability | undefined> = [];
  const evidenceSeen: BtpEquivocationEvidence[] = [];
  let lastHeight = 0;

  beforeAll(async () => {
    // The config schema's `ethereum.contracts` does not know `slasher` (deployFederation now returns
    // it): the validators only cross-check configured addresses against the genesis, so none here.
    h = await startHarness({ validators: 4, confirmations: 2, duties: { accountability: false } });
    slasher = slasherContract(h);
    registry = registryContract(h);
    const admin = new Wallet(h.chain.accounts[0]!, h.provider);
    await (await (slasher.connect(admin) as Contract).getFunction('setParams')([DUTY_BLOCKS, MISSED_DUTY_BPS, 500, 5_000, 1_000, 100])).wait();
    await (await (h.bmv.connect(admin) as Contract).getFunction('setSignatureWindow')(SIGNATURE_WINDOW)).wait();
    await Promise.all(
      h.nodes.map((_, i) =>
        startNodeWithEvidence(h, i, (ev) => {
          evidenceSeen.push(...ev);
          keepers[i]?.acceptEvidence(ev);
        }),
      ),
    );
    for (let i = 0; i < 3; i++) {
      const k = await accountabilityOf(h.nodes[i]!.validator!, { takeoverBlocks: 5, tickIntervalMs: 200 });
      await k.start();
      keepers[i] = k;
    }
  }, 120_000);

  afterAll(async () => {
    for (const k of keepers) await k?.stop();
    await h?.stop();
  });

  const stakeOf = async (a: string): Promise<[bigint, boolean]> => (await registry.getFunction('stakeOf')(a)) as [bigint, boolean];
  const events = async (name: string, from: number): Promise<unknown[][]> =>
    (await slasher.queryFilter(slasher.filters[name]!(), from)).map((e) => [...(e as unknown as { args: unknown[] }).args]);

  it('a stopped validator does not stop the others, and is slashed for the missed block after T', async () => {
    await h.stopNode(3);
    const absent = h.nodes[3]!.address;
    const [stakeBefore] = await stakeOf(absent);
    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-slashing-recipient-1'))).address;
    await h.deposit(recipient, 200_000n);
    await h.mine(2);
    await waitFor(async () => (await h.balance(recipient)) === 200_000n, 45_000, 'deposit minted by 3 of 4');
    const height = Number(await h.bmv.getFunction('getHeight')());
    const [signers, , acceptedAt] = (await h.bmv.getFunction('blockRecord')(height)) as [bigint, bigint, bigint];
    const idx = h.deployed.epoch0.indexOf(absent);
    expect((signers >> BigInt(idx)) & 1n).toBe(0n);

    // Every live keeper tracks the duty (from BlockAccepted) and nobody reports before the deadline.
    await waitFor(() => keepers.slice(0, 3).every((k) => k!.openDuties().some((d) => d.kind === 'block' && d.id === BigInt(height))), 15_000, 'the keepers to see the block');
    expect(await events('DutySettled', Number(acceptedAt))).toEqual([]);

    await h.provider.send('hardhat_mine', [`0x${(DUTY_BLOCKS + 1).toString(16)}`]);
    await waitFor(async () => (await events('MissedDutySlashed', Number(acceptedAt))).length > 0, 30_000, 'the missed duty reported');
    const slashed = await events('MissedDutySlashed', Number(acceptedAt));
    expect(slashed.map((e) => [Number(e[0]), Number(e[1]), (e[2] as string).toLowerCase()])).toEqual([[0, height, absent]]);
    const [stakeAfter] = await stakeOf(absent);
    expect(stakeAfter).toBe(stakeBefore - (stakeBefore * MISSED_DUTY_BPS) / 10_000n);
    // Reported once, by one of the live validators' operators.
    await h.provider.send('hardhat_mine', ['0x10']);
    await waitFor(() => keepers.slice(0, 3).every((k) => !k!.openDuties().some((d) => d.id === BigInt(height))), 15_000, 'every keeper to drop the settled duty');
    const settled = await events('DutySettled', Number(acceptedAt));
    expect(settled).toHaveLength(1);
    expect(h.nodes.slice(0, 3).map((x) => x.operator.address)).toContain(settled[0]![2] as string);
  });

  it('a byzantine validator signing two decisions at one height is proven on chain and ejected', async () => {
    const byz = h.nodes[2]!;
    const g = h.deployed.genesis;
    const target = (await h.btc.rpc.getBlockCount()) + 1; // the block that will carry the next deposit
    const from = await h.provider.getBlockNumber();
    // The second decision: same height, another NetworkTypeSection.
    const nts = getBytes(keccak256(toUtf8Bytes('e2e-byzantine-nts')));
    const forged = encodeDecision({ srcNetworkUid: g.srcNetworkUid, dstNetworkTypeId: g.networkTypeId, height: target, round: 0, networkTypeSectionHash: nts });
    const forgedHash = getBytes(keccak256(forged));
    const sig = signDecision(forgedHash, getBytes(byz.signingKey));
    expect(byz.validator!.services.p2p.publish('attestation', { height: BigInt(target), decisionHash: forgedHash, networkTypeSectionHash: nts, signature: sig })).toBe(true);

    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-slashing-recipient-2'))).address;
    await h.deposit(recipient, 150_000n);
    await h.mine(2);
    await waitFor(async () => (await h.balance(recipient)) === 150_000n, 45_000, 'second deposit minted');
    expect(Number(await h.bmv.getFunction('getHeight')())).toBe(target);

    await waitFor(async () => (await events('EquivocationSlashed', from)).length > 0, 30_000, 'the equivocation proven on chain');
    const ev = evidenceSeen.find((e) => e.height === target);
    expect(ev).toBeDefined();
    expect(hexlify(ev!.validator)).toBe(byz.address);
    const eq = await events('EquivocationSlashed', from);
    expect(eq).toHaveLength(1);
    expect([Number(eq[0]![0]), (eq[0]![1] as string).toLowerCase(), BigInt(eq[0]![2] as string)]).toEqual([0, byz.address, BigInt(target)]);
    expect(h.nodes.slice(0, 2).map((x) => x.operator.address)).toContain(eq[0]![3] as string);
    const [, ejected] = await stakeOf(byz.address);
    expect(ejected).toBe(true);
    lastHeight = target;
  });

  it('a validator back after an outage signs the blocks relayed without it and records its signature within the window', async () => {
    const back = h.nodes[3]!;
    const idx = BigInt(h.deployed.epoch0.indexOf(back.address));
    const bit = async (height: number): Promise<bigint> => ((((await h.bmv.getFunction('blockRecord')(height)) as [bigint])[0] >> idx) & 1n);
    expect(lastHeight).toBeGreaterThan(0);
    expect(await bit(lastHeight)).toBe(0n); // relayed while validator 3 was down
    // Give the returning node time to catch up: the window (and so the duty deadline) is longer now.
    const admin = new Wallet(h.chain.accounts[0]!, h.provider);
    await (await (h.bmv.connect(admin) as Contract).getFunction('setSignatureWindow')(600)).wait();

    await startNodeWithEvidence(h, 3, (ev) => keepers[3]?.acceptEvidence(ev));
    const k = await accountabilityOf(back.validator!, { takeoverBlocks: 5, tickIntervalMs: 200 });
    await k.start();
    keepers[3] = k;
    await waitFor(async () => (await bit(lastHeight)) === 1n, 45_000, 'validator 3 to record its signature');
    const [rec] = await h.bmv.queryFilter(h.bmv.filters.SignatureRecorded!(lastHeight, idx));
    expect((rec as unknown as { args: [bigint, bigint, string] }).args[2].toLowerCase()).toBe(back.address);
    // It recorded the decision it signed itself: its sign-log holds the accepted decision.
    const signed = (await back.validator!.services.signLog.contents()).btp.find((e) => e.height === lastHeight);
    expect(signed?.decisionHash).toBe(((await h.bmv.getFunction('decisionOf')(lastHeight)) as string).toLowerCase());
  });
});

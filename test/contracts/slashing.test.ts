import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, ContractFactory, Wallet, ZeroAddress, getBytes, hexlify, keccak256, toBeHex, toUtf8Bytes, zeroPadValue, type TransactionReceipt } from 'ethers';
import { BITCOIN_ADDRESS_PARAMS, deployBridge, deployRegistry, signRaw, stakeValidator, type BridgeDeployment } from '../../src/chains/ethereum/contracts.js';
import { MAX_TX_GAS, waitReceipt } from '../../src/chains/ethereum/provider.js';
import { decodeBip143Preimage } from '../../src/chains/bitcoin/sighash.js';
import { loadArtifact } from '../../src/chains/ethereum/artifacts.js';
import { bitcoinEquivocationArgs, blockDutyStatus, btpEquivocationArgs, deploySlasher, setSlasherPayout, submitBitcoinEquivocation, submitBtpEquivocation } from '../../src/chains/ethereum/slashing.js';
import { verifyBitcoinEquivocation, verifyBtpEquivocation, type BitcoinEquivocationEvidence, type BtpEquivocationEvidence } from '../../src/consensus/equivocation.js';
import { decodeDecision, intToBytes, rlpEncode, type BtpChainState } from '../../src/chains/btp/index.js';
import { Federation, NETWORK_TYPE_ID, SRC_BMC, SRC_UID, depositMint, increaseTime, mine, revertTo, snapshot, startEnv, stopEnv, testKeys, type Env } from './helpers.js';
import { bip143Preimage, bitcoinEvidence, btpEvidence, decision, deployPayoutMock, expectSlashRevert, highS, revertName, sha256d, signKeccak } from './slashing-helpers.js';

const ETH = 10n ** 18n;
const STAKE = 10n * ETH;
const DST_BMC = 'btp://0x7a69.eth/bmc';
// maxChurn 1: ejection must not depend on the churn budget
const REG = { minStakeWei: ETH, unbondingPeriodSec: 1_000, maxActive: 5, maxChurn: 1, activationMarginSec: 600, epochDurationSec: 3_600 };
// T = 150 home blocks (> the BMV's 100-block signature window); 1 % per missed duty, 2.5 % per epoch
const SLASH = { dutyBlocks: 150, missedDutyBps: 100, missedDutyCapBps: 250, equivocationBps: 5_000, reporterBps: 1_000, keeperBps: 500 };
const GENESIS = 500;

describe('Slasher: missed duty, equivocation, rewards (real EVM)', () => {
  let env: Env;
  let snap: string;
  let savedState: BtpChainState;
  let admin: Wallet;
  let operators: Wallet[];
  let reporter: Wallet;
  let treasury: Wallet;
  let registry: Contract;
  let d: BridgeDeployment;
  let payout: Contract;
  let slasher: Contract;
  let fed: Federation;
  let set0: string[];
  const signing = testKeys(6, 'slash');
  const lc = (a: string): string => a.toLowerCase();
  const keyOf = (addr: string): string => signing.find((k) => lc(new Wallet(k).address) === lc(addr))!;
  const opOf = (addr: string): Wallet => operators[signing.indexOf(keyOf(addr))]!;

  beforeAll(async () => {
    env = await startEnv(12);
    admin = env.wallets[0]!;
    operators = env.wallets.slice(1, 7);
    reporter = env.wallets[7]!;
    treasury = env.wallets[8]!;
    registry = await deployRegistry(admin, env.provider, admin.address, REG);
    for (let i = 0; i < 6; i++) {
      await stakeValidator(registry, env.provider, { operator: operators[i]!, signingKey: signing[i]!, peerId: hexlify(toUtf8Bytes(`p${i}`)), amountWei: STAKE });
    }
    await call(registry, admin, 'bootstrap');
    set0 = await registry.getFunction('epochValidators')(0);
    expect(set0).toHaveLength(5);
    fed = new Federation(set0.map(keyOf), DST_BMC);
    fed.addKeys(signing);
    d = await deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(GENESIS), bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest, registry });
    payout = await deployPayoutMock(admin, env.provider);
    slasher = await deploySlasher(admin, env.provider, { admin: admin.address, registry, bmv: d.bmv, payout, treasury: treasury.address, params: SLASH });
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => {
    snap = await snapshot(env.provider);
    savedState = { ...fed.state };
  });
  afterEach(async () => {
    await revertTo(env.provider, snap);
    fed.state = savedState;
  });

  async function call(c: Contract, who: Wallet, fn: string, ...args: unknown[]): Promise<TransactionReceipt> {
    return waitReceipt(env.provider, await (c.connect(who) as Contract).getFunction(fn)(...args));
  }
  const stakeOf = async (a: string): Promise<bigint> => ((await registry.getFunction('stakeOf')(a)) as [bigint, boolean])[0];
  const ejected = async (a: string): Promise<boolean> => ((await registry.getFunction('stakeOf')(a)) as [bigint, boolean])[1];
  const asReporter = (): Contract => slasher.connect(reporter) as Contract;
  /** Relays a block at `height` that `missing` (addresses) did not sign; returns its acceptance block. */
  async function relayMissing(height: number, missing: string[], payloads: Uint8Array[] = []): Promise<{ acceptedAt: number; decisionHash: string }> {
    const b = fed.block(height, payloads, { signers: (a) => !missing.map(lc).includes(a) });
    const rc = await call(d.bmc, operators[0]!, 'handleRelayMessage', SRC_BMC, b.relay);
    return { acceptedAt: rc.blockNumber, decisionHash: b.decisionHash };
  }
  /** Mines until the latest block is `n` (the next transaction executes in block n + 1). */
  async function mineTo(n: number): Promise<void> {
    const latest = await env.provider.getBlockNumber();
    expect(latest).toBeLessThanOrEqual(n);
    if (n > latest) await mine(env.provider, n - latest);
  }
  const slashEvents = (rc: TransactionReceipt, name: string): unknown[][] =>
    rc.logs.map((l) => slasher.interface.parseLog(l)).filter((e) => e?.name === name).map((e) => [...e!.args]);

  it('wiring: the slasher is set once; only it can slash or eject; only the registry pays it; parameters are checked', async () => {
    expect(await registry.getFunction('slasher')()).toBe(await slasher.getAddress());
    await expectSlashRevert(registry.getFunction('setSlasher')(admin.address), 'SlasherAlreadySet');
    await expectSlashRevert(registry.getFunction('slash')(set0[0], 1n), 'NotSlasher');
    await expectSlashRevert(registry.getFunction('eject')(set0[0]), 'NotSlasher');
    await expectSlashRevert(admin.sendTransaction({ to: await slasher.getAddress(), value: 1n }), 'NotRegistry');
    await expectSlashRevert(slasher.getFunction('setParams')({ ...SLASH, missedDutyBps: 300 }), 'InvalidParams');
    await expectSlashRevert(slasher.getFunction('setParams')({ ...SLASH, dutyBlocks: 0 }), 'InvalidParams');
    await expectSlashRevert(asReporter().getFunction('setParams')(SLASH), 'Unauthorized');
    await expectSlashRevert(slasher.getFunction('setPayoutDuties')(admin.address), 'PayoutDutiesAlreadySet');
    await expectSlashRevert(asReporter().getFunction('claimReward')(), 'NothingToClaim');
    await expectSlashRevert(asReporter().getFunction('payTreasury')(), 'NothingToClaim');

    // a slasher deployed before the payout coordinator: the Bitcoin paths wait for it (set once)
    const art = loadArtifact('Slasher');
    const tx = await new ContractFactory(art.abi, art.bytecode, admin).getDeployTransaction(
      admin.address, await registry.getAddress(), await d.bmv.getAddress(), ZeroAddress, treasury.address, Object.values(SLASH), { gasLimit: MAX_TX_GAS });
    const early = new Contract((await waitReceipt(env.provider, await admin.sendTransaction(tx))).contractAddress!, art.abi, admin);
    const txid = getBytes('0x' + '01'.repeat(32));
    await expectSlashRevert(submitBitcoinEquivocation(early, bitcoinEvidence(keyOf(set0[0]!), bip143Preimage(txid, 0))), 'PayoutDutiesNotSet');
    await expectSlashRevert(early.getFunction('reportMissedBatch')(1), 'PayoutDutiesNotSet');
    await setSlasherPayout(early, env.provider, payout);
    expect(await early.getFunction('payout')()).toBe(await payout.getAddress());
    await expectSlashRevert(early.getFunction('reportMissedBatch')(1), 'BatchNotApproved');
  });

  it('missed BTP duty: not before T (nor before the signature window closes), a late recordSignature counts, once per block', async () => {
    const h = GENESIS + 1;
    const { acceptedAt, decisionHash } = await relayMissing(h, [set0[0]!, set0[1]!], [depositMint(1, reporter.address, 1_000n)]);
    const deadline = acceptedAt + SLASH.dutyBlocks;
    expect(await blockDutyStatus(slasher, d.bmv, h)).toEqual({ deadline: BigInt(deadline), settled: false, missing: [set0[0], set0[1]] });
    expect(await blockDutyStatus(slasher, d.bmv, h + 50)).toBeUndefined();
    expect((await expectSlashRevert(asReporter().getFunction('reportMissedBlock')(h), 'DutyNotDue'))[0]).toBe(BigInt(deadline));
    // validator 1 records its signature within the BMV's window: it did its duty
    await call(d.bmv, operators[5]!, 'recordSignature', h, 1, signRaw(keyOf(set0[1]!), decisionHash));
    await mineTo(deadline - 1);
    await expectSlashRevert(asReporter().getFunction('reportMissedBlock')(h), 'DutyNotDue'); // would execute at block = deadline
    await mineTo(deadline);
    const regBefore = await env.provider.getBalance(await registry.getAddress());
    const rc = await call(slasher, reporter, 'reportMissedBlock', h);
    const cut = STAKE / 100n;
    expect(await stakeOf(set0[0]!)).toBe(STAKE - cut);
    for (const v of set0.slice(1)) expect(await stakeOf(v)).toBe(STAKE);
    expect(slashEvents(rc, 'MissedDutySlashed')).toEqual([[0n, BigInt(h), set0[0], 0n, cut]]);
    expect(slashEvents(rc, 'DutySettled')).toEqual([[0n, BigInt(h), reporter.address, 1n, cut]]);
    expect(await env.provider.getBalance(await registry.getAddress())).toBe(regBefore - cut);
    expect(await slasher.getFunction('rewardOf')(reporter.address)).toBe(cut / 20n); // keeperBps 5 %
    expect(await slasher.getFunction('treasuryOwed')()).toBe(cut - cut / 20n);
    expect(await ejected(set0[0]!)).toBe(false); // missed duty does not eject
    await expectSlashRevert(asReporter().getFunction('reportMissedBlock')(h), 'DutyAlreadySettled');
    expect(await blockDutyStatus(slasher, d.bmv, h)).toEqual({ deadline: BigInt(deadline), settled: true, missing: [set0[0]] });
    await expectSlashRevert(asReporter().getFunction('reportMissedBlock')(h + 50), 'UnknownBlock');
  });

  it('missed duty is capped per validator per epoch, across BTP blocks and payout batches', async () => {
    const first = GENESIS + 1;
    let last = 0;
    for (let i = 0; i < 4; i++) last = (await relayMissing(first + i, [set0[0]!], [depositMint(10 + i, reporter.address, 1_000n)])).acceptedAt;
    await mineTo(last + SLASH.dutyBlocks);
    const taken: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const rc = await call(slasher, reporter, 'reportMissedBlock', first + i);
      taken.push(slashEvents(rc, 'MissedDutySlashed')[0]![4] as bigint);
    }
    // 1 %, 1 %, then what is left of the 2.5 % cap, then nothing
    expect(taken).toEqual([STAKE / 100n, STAKE / 100n, STAKE / 200n, 0n]);
    expect(await stakeOf(set0[0]!)).toBe(STAKE - (STAKE * 25n) / 1000n);
    expect(await slasher.getFunction('missedDutyTally')(0, set0[0])).toEqual([STAKE, (STAKE * 25n) / 1000n]);
    // a batch of the same epoch missed by validators 0 and 2: 0 is at its cap, 2 loses 1 %
    const now = await env.provider.getBlockNumber();
    await call(payout, admin, 'setBatchDuty', 1, now, 0, 0b11010);
    await mineTo(now + 1 + SLASH.dutyBlocks);
    const rc = await call(slasher, reporter, 'reportMissedBatch', 1);
    expect(slashEvents(rc, 'MissedDutySlashed').map((e) => [e[2], e[4]])).toEqual([[set0[0], 0n], [set0[2], STAKE / 100n]]);
    // governance lowers the cap below what validator 0 already lost: later duties take nothing, and do not revert
    await call(slasher, admin, 'setParams', { ...SLASH, missedDutyBps: 100, missedDutyCapBps: 100 });
    await call(payout, admin, 'setBatchDuty', 2, now, 0, 0b11110);
    const rc2 = await call(slasher, reporter, 'reportMissedBatch', 2);
    expect(slashEvents(rc2, 'MissedDutySlashed')).toEqual([[1n, 2n, set0[0], 0n, 0n]]);
  });

  it('missed batch duty: only approved batches, not before T after approval, once per batch', async () => {
    const approvedAt = await env.provider.getBlockNumber();
    const bitmap = 0b11111 & ~(1 << 2);
    await call(payout, admin, 'setBatchDuty', 7, approvedAt, 0, bitmap);
    await expectSlashRevert(asReporter().getFunction('reportMissedBatch')(8), 'BatchNotApproved');
    expect((await expectSlashRevert(asReporter().getFunction('reportMissedBatch')(7), 'DutyNotDue'))[0]).toBe(BigInt(approvedAt + SLASH.dutyBlocks));
    await mineTo(approvedAt + SLASH.dutyBlocks - 1);
    await expectSlashRevert(asReporter().getFunction('reportMissedBatch')(7), 'DutyNotDue');
    await mineTo(approvedAt + SLASH.dutyBlocks);
    const rc = await call(slasher, reporter, 'reportMissedBatch', 7);
    expect(slashEvents(rc, 'MissedDutySlashed')).toEqual([[1n, 7n, set0[2], 0n, STAKE / 100n]]);
    expect(await stakeOf(set0[2]!)).toBe(STAKE - STAKE / 100n);
    for (const v of set0.filter((_, i) => i !== 2)) expect(await stakeOf(v)).toBe(STAKE);
    await expectSlashRevert(asReporter().getFunction('reportMissedBatch')(7), 'DutyAlreadySettled');
  });

  describe('BTP equivocation', () => {
    const H = 777;
    const goodEvidence = (): BtpEquivocationEvidence => btpEvidence(keyOf(set0[3]!), decision(H, 0xaa), decision(H, 0xbb), H);

    it('bad evidence is rejected with a specific error and changes nothing; the TypeScript verifier agrees', async () => {
      const v = set0[3]!;
      const key = keyOf(v);
      const other = keyOf(set0[0]!);
      const a = decision(H, 0xaa);
      const cases: { name: string; e: BtpEquivocationEvidence; error: string; arg?: bigint; tsAccepts?: boolean }[] = [
        { name: 'same decision twice', e: btpEvidence(key, a, a, H), error: 'SameDecision' },
        { name: 'different heights', e: btpEvidence(key, a, decision(H + 1, 0xbb), H), error: 'HeightMismatch' },
        { name: 'second signature by another key', e: btpEvidence(key, a, decision(H, 0xbb), H, other), error: 'SignatureNotByValidator', arg: 1n },
        { name: 'high-S twin', e: { ...goodEvidence(), second: { decision: decision(H, 0xbb), signature: highS(signKeccak(key, decision(H, 0xbb))) } }, error: 'SignatureNotByValidator', arg: 1n },
        { name: 'V = 27', e: (() => { const g = goodEvidence(); const s = Uint8Array.from(g.first.signature); s[64] = s[64]! + 27; return { ...g, first: { ...g.first, signature: s } }; })(), error: 'SignatureNotByValidator', arg: 0n },
        // a non-canonical list header (long form for a 46-byte payload) over the same fields
        { name: 'non-canonical RLP', e: (() => { const nc = Uint8Array.from([0xf8, a.length - 1, ...a.subarray(1)]); return btpEvidence(key, nc, decision(H, 0xbb), H); })(), error: 'MalformedDecision', arg: 0n },
        { name: 'truncated preimage', e: btpEvidence(key, decision(H, 0xaa), decision(H, 0xbb).subarray(0, 40), H), error: 'MalformedDecision', arg: 1n },
        // another federation's decisions: consistent with each other (TypeScript accepts), but not this BMV's network
        { name: 'foreign source network', e: btpEvidence(key, decision(H, 0xaa, { src: '0x2.btc' }), decision(H, 0xbb, { src: '0x2.btc' }), H), error: 'ForeignDecision', arg: 0n, tsAccepts: true },
        { name: 'foreign network type', e: btpEvidence(key, decision(H, 0xaa), decision(H, 0xbb, { ntid: NETWORK_TYPE_ID + 1 }), H), error: 'ForeignDecision', arg: 1n },
      ];
      for (const c of cases) {
        expect(verifyBtpEquivocation(c.e), c.name).toBe(c.tsAccepts ?? false);
        const args = await expectSlashRevert(submitBtpEquivocation(asReporter(), c.e), c.error);
        if (c.arg !== undefined) expect(args[0], c.name).toBe(c.arg);
      }
      // evidence against a key with no stake
      const stranger = new Wallet(testKeys(1, 'stranger')[0]!);
      const se = btpEvidence(stranger.privateKey, decision(H, 1), decision(H, 2), H);
      expect(verifyBtpEquivocation(se)).toBe(true);
      await expectSlashRevert(submitBtpEquivocation(asReporter(), se), 'NoStake');
      for (const s of set0) expect(await stakeOf(s)).toBe(STAKE);
      expect(await ejected(v)).toBe(false);
      expect(await slasher.getFunction('treasuryOwed')()).toBe(0n);
      expect(await slasher.getFunction('btpEvidenceUsed')(v, H)).toBe(false);
    });

    it('valid evidence slashes, ejects and rewards the submitter; it counts once; the validator is not selected again', async () => {
      const v = set0[3]!;
      const e = goodEvidence();
      expect(verifyBtpEquivocation(e)).toBe(true);
      expect(btpEquivocationArgs(e)[0]).toBe(hexlify(getBytes(v)));
      const rc = await waitReceipt(env.provider, await submitBtpEquivocation(asReporter(), e));
      const half = STAKE / 2n;
      expect(await stakeOf(v)).toBe(half);
      expect(await ejected(v)).toBe(true);
      expect(slashEvents(rc, 'EquivocationSlashed')).toEqual([[0n, v, zeroPadValue(toBeHex(H), 32), reporter.address, half, half / 10n]]);
      const info = await registry.getFunction('validatorInfo')(v);
      expect(info[2]).toBeGreaterThan(0n); // ejection starts unbonding

      // once only: the same pair, the pair swapped, a third decision at the same height
      await expectSlashRevert(submitBtpEquivocation(asReporter(), e), 'EvidenceAlreadyUsed');
      await expectSlashRevert(submitBtpEquivocation(asReporter(), { ...e, first: e.second, second: e.first }), 'EvidenceAlreadyUsed');
      await expectSlashRevert(submitBtpEquivocation(asReporter(), btpEvidence(keyOf(v), decision(H, 0xcc), decision(H, 0xaa), H)), 'EvidenceAlreadyUsed');
      expect(await stakeOf(v)).toBe(half);

      // the submitter claims its share; the treasury gets the rest
      const before = await env.provider.getBalance(reporter.address);
      const crc = await call(slasher, reporter, 'claimReward');
      expect(await env.provider.getBalance(reporter.address)).toBe(before + half / 10n - crc.gasUsed * crc.gasPrice);
      await expectSlashRevert(asReporter().getFunction('claimReward')(), 'NothingToClaim');
      const tBefore = await env.provider.getBalance(treasury.address);
      await call(slasher, reporter, 'payTreasury');
      expect(await env.provider.getBalance(treasury.address)).toBe(tBefore + half - half / 10n);
      expect(await env.provider.getBalance(await slasher.getAddress())).toBe(0n);

      // a second equivocator (Bitcoin evidence) in the same epoch; churn budget is 1, both leave
      const w = set0[4]!;
      const txid = getBytes('0x' + 'ab'.repeat(32));
      await call(payout, admin, 'setFederationOutpoint', txid, 0, true);
      await waitReceipt(env.provider, await submitBitcoinEquivocation(asReporter(), bitcoinEvidence(keyOf(w), bip143Preimage(txid, 0))));
      expect(await ejected(w)).toBe(true);
      await increaseTime(env.provider, REG.epochDurationSec);
      await call(registry, reporter, 'freezeNextEpoch');
      const next: string[] = await registry.getFunction('epochValidators')(1);
      expect(next).not.toContain(v);
      expect(next).not.toContain(w);
      expect(next).toEqual(set0.filter((a) => a !== v && a !== w));
      expect(await registry.getFunction('stakeOf')(v)).toEqual([half, true]);
    });
  });

  it('decision decoding: the contract accepts exactly the preimages the TypeScript decoder accepts (mutations and edge encodings)', async () => {
    const base = decision(0x1234, 0x5c);
    const int = (v: bigint): Uint8Array => intToBytes(v);
    const nts = new Uint8Array(32).fill(7);
    const src = new TextEncoder().encode(SRC_UID);
    const crafted: Uint8Array[] = [
      rlpEncode([src, int(2n), int(0n), int(0n), nts]), // height 0 is the byte 00
      rlpEncode([src, int(2n), int(0x80n), int(0n), nts]), // 0x80 needs a sign byte
      rlpEncode([src, int(2n), int((1n << 53n) - 1n), int(0n), nts]), // the largest safe integer
      rlpEncode([src, int(2n), int(1n << 53n), int(0n), nts]), // one above: RLP_INT_RANGE
      rlpEncode([src, int(2n), int(-1n), int(0n), nts]), // negative
      rlpEncode([src, int(2n), Uint8Array.of(0, 5), int(0n), nts]), // non-minimal integer
      rlpEncode([src, int(2n), new Uint8Array(0), int(0n), nts]), // empty integer
      rlpEncode([src, int(2n), int(5n), int(0n), nts.subarray(1)]), // 31-byte hash
      rlpEncode([src, int(2n), int(5n), int(0n), nts, int(0n)]), // six fields
      rlpEncode([null, int(2n), int(5n), int(0n), nts]), // nil source
      rlpEncode([[], int(2n), int(5n), int(0n), nts]), // a list as source
      rlpEncode([new Uint8Array(0), int(2n), int(5n), int(0n), nts]), // empty source
      rlpEncode([src, int(2n), int(5n), int(0n), nts]).subarray(1), // no list header
      Uint8Array.from([...base, 0]), // trailing byte
    ];
    // every single-byte change of a valid preimage (a bounded, deterministic set)
    const mutated: Uint8Array[] = [];
    for (let i = 0; i < base.length; i++) {
      for (const x of [0x00, 0x01, 0x7f, 0x80, 0x81, 0xb8, 0xc0, 0xf8, 0xff, base[i]! ^ 0x01]) {
        if (x === base[i]) continue;
        const m = Uint8Array.from(base);
        m[i] = x;
        mutated.push(m);
      }
      mutated.push(base.subarray(0, i));
    }
    let accepted = 0;
    for (const input of [...crafted, ...mutated]) {
      let ts: ReturnType<typeof decodeDecision> | undefined;
      try {
        ts = decodeDecision(input);
      } catch {
        ts = undefined;
      }
      let sol: unknown[] | undefined;
      try {
        sol = [...((await slasher.getFunction('decodeDecision')(input)) as unknown[])];
      } catch {
        sol = undefined;
      }
      // Whatever TypeScript decodes, the contract decodes to the same fields. The contract does
      // not check UTF-8 (TypeScript does), which only matters for a source network other than
      // this BMV's — refused by both as evidence. So the evidence-level predicate must agree.
      if (ts) {
        expect(sol, `input ${hexlify(input)}: TypeScript accepts`).toEqual([keccak256(toUtf8Bytes(ts.srcNetworkUid)), BigInt(ts.dstNetworkTypeId), BigInt(ts.height), BigInt(ts.round), hexlify(ts.networkTypeSectionHash)]);
      }
      const tsOk = ts !== undefined && ts.srcNetworkUid === SRC_UID && ts.dstNetworkTypeId === NETWORK_TYPE_ID;
      const solOk = sol !== undefined && sol[0] === keccak256(toUtf8Bytes(SRC_UID)) && sol[1] === BigInt(NETWORK_TYPE_ID);
      expect(solOk, `input ${hexlify(input)}`).toBe(tsOk);
      if (tsOk) accepted++;
    }
    expect(accepted).toBeGreaterThan(5); // the valid encodings (and harmless mutations) went through both
  });

  describe('Bitcoin equivocation', () => {
    const txid = getBytes('0x' + '5a'.repeat(31) + '01');
    const displayTxid = Buffer.from(txid).reverse().toString('hex');
    const derived = new Set<string>();
    const ctx = {
      isApprovedSighash: (s: Uint8Array) => derived.has(hexlify(s)),
      isFederationOutpoint: (t: string, vout: number) => t === displayTxid && vout === 0,
    };
    async function setup(): Promise<{ pre: Uint8Array; bumped: Uint8Array }> {
      const pre = bip143Preimage(txid, 0);
      const bumped = bip143Preimage(txid, 0, { variant: 1 }); // a fee-bumped version: its sighash was derived
      derived.clear();
      derived.add(hexlify(sha256d(bumped)));
      await call(payout, admin, 'setFederationOutpoint', txid, 0, true);
      await call(payout, admin, 'setDerivedSighash', sha256d(bumped), true);
      return { pre, bumped };
    }

    it('bad evidence is rejected with a specific error and changes nothing; re-signing a bumped batch is not equivocation', async () => {
      const { pre, bumped } = await setup();
      const v = set0[4]!;
      const key = keyOf(v);
      const good = bitcoinEvidence(key, pre);
      const cases: { name: string; e: BitcoinEquivocationEvidence; error: string }[] = [
        { name: 'derived sighash (fee-bumped version)', e: bitcoinEvidence(key, bumped), error: 'DerivedSighash' },
        { name: 'not a federation outpoint (other txid)', e: bitcoinEvidence(key, bip143Preimage(getBytes('0x' + '77'.repeat(32)), 0)), error: 'NotFederationOutpoint' },
        { name: 'not a federation outpoint (other vout)', e: bitcoinEvidence(key, bip143Preimage(txid, 1)), error: 'NotFederationOutpoint' },
        { name: 'SIGHASH_ALL|ANYONECANPAY', e: bitcoinEvidence(key, bip143Preimage(txid, 0, { hashType: 0x81 })), error: 'NotSighashAll' },
        { name: 'signature of another key', e: bitcoinEvidence(key, pre, keyOf(set0[0]!)), error: 'SignatureNotByValidator' },
        { name: 'high-S twin', e: { ...good, signature: highS(good.signature) }, error: 'SignatureNotByValidator' },
        { name: 'trailing byte', e: bitcoinEvidence(key, Uint8Array.from([...pre, 0])), error: 'MalformedPreimage' },
        { name: 'truncated', e: bitcoinEvidence(key, pre.subarray(0, pre.length - 1)), error: 'MalformedPreimage' },
        { name: 'non-canonical script length', e: bitcoinEvidence(key, Uint8Array.from([...pre.subarray(0, 104), 0xfd, 71, 0, ...pre.subarray(105)])), error: 'MalformedPreimage' },
      ];
      for (const c of cases) {
        expect(verifyBitcoinEquivocation(c.e, ctx), c.name).toBe(false);
        await expectSlashRevert(submitBitcoinEquivocation(asReporter(), c.e), c.error);
      }
      expect(await stakeOf(v)).toBe(STAKE);
      expect(await ejected(v)).toBe(false);
      expect(await slasher.getFunction('treasuryOwed')()).toBe(0n);
    });

    it('preimage parsing: MalformedPreimage exactly when decodeBip143Preimage refuses (lengths and CompactSize forms)', async () => {
      const v = set0[4]!;
      const sig = new Uint8Array(65);
      const withScript = (prefix: number[], len: number): Uint8Array => {
        const p = bip143Preimage(txid, 0);
        return Uint8Array.from([...p.subarray(0, 104), ...prefix, ...new Uint8Array(len).fill(0x51), ...p.subarray(104 + 1 + 71)]);
      };
      const inputs: Uint8Array[] = [
        withScript([0x00], 0),
        withScript([0xfc], 0xfc),
        withScript([0xfd, 0xfd, 0x00], 0xfd),
        withScript([0xfd, 0x00, 0x01], 0x100),
        withScript([0xfd, 0xfc, 0x00], 0xfc), // non-canonical
        withScript([0xfd, 0x10, 0x00], 0x10), // non-canonical
        withScript([0xfe, 0x00, 0x01, 0x00, 0x00], 0x100),
        withScript([0xff, 0x00, 0x01, 0, 0, 0, 0, 0, 0], 0x100),
        withScript([0xfd], 0),
        withScript([0xfd, 0xff], 0),
      ];
      const full = bip143Preimage(txid, 0);
      for (let n = 0; n <= full.length + 2; n += n < 100 ? 25 : 1) inputs.push(n <= full.length ? full.subarray(0, n) : Uint8Array.from([...full, ...new Uint8Array(n - full.length)]));
      let parsed = 0;
      for (const input of inputs) {
        const tsOk = decodeBip143Preimage(input) !== undefined;
        let error = 'none';
        try {
          await slasher.getFunction('submitBitcoinEquivocation').staticCall(v, input, sig);
        } catch (e) {
          error = revertName(e) ?? 'undecodable';
        }
        expect(error === 'MalformedPreimage', `input of ${input.length} bytes: TypeScript ${tsOk ? 'parses' : 'refuses'}, contract ${error}`).toBe(!tsOk);
        if (tsOk) parsed++;
      }
      expect(parsed).toBeGreaterThanOrEqual(5);
    });

    it('valid evidence slashes, ejects and rewards the submitter, once per signed sighash', async () => {
      const { pre } = await setup();
      const v = set0[4]!;
      const e = bitcoinEvidence(keyOf(v), pre);
      expect(verifyBitcoinEquivocation(e, ctx)).toBe(true);
      expect(bitcoinEquivocationArgs(e)[0]).toBe(v);
      const rc = await waitReceipt(env.provider, await submitBitcoinEquivocation(asReporter(), e));
      const half = STAKE / 2n;
      expect(slashEvents(rc, 'EquivocationSlashed')).toEqual([[1n, v, hexlify(sha256d(pre)), reporter.address, half, half / 10n]]);
      expect(await stakeOf(v)).toBe(half);
      expect(await ejected(v)).toBe(true);
      expect(await slasher.getFunction('rewardOf')(reporter.address)).toBe(half / 10n);
      await expectSlashRevert(submitBitcoinEquivocation(asReporter(), e), 'EvidenceAlreadyUsed');
      expect(await slasher.getFunction('bitcoinEvidenceUsed')(v, sha256d(pre))).toBe(true);
    });
  });

  it('an ejected validator leaves at the next switch, withdraws what is left after unbonding, and its key can never stake again', async () => {
    const v = set0[1]!;
    const op = opOf(v);
    await waitReceipt(env.provider, await submitBtpEquivocation(asReporter(), btpEvidence(keyOf(v), decision(900, 1), decision(900, 2), 900)));
    await increaseTime(env.provider, REG.epochDurationSec);
    await call(registry, reporter, 'freezeNextEpoch');
    const frozen: string[] = await registry.getFunction('epochValidators')(1);
    expect(frozen).not.toContain(v);
    await call(d.bmc, operators[0]!, 'handleRelayMessage', SRC_BMC, fed.block(GENESIS + 1, [], { nextValidators: frozen }).relay);
    const r = registry.connect(op) as Contract;
    await expectSlashRevert(r.getFunction('withdrawStake')(), 'UnbondingNotOver');
    await increaseTime(env.provider, REG.unbondingPeriodSec);
    const before = await env.provider.getBalance(op.address);
    const rc = await call(registry, op, 'withdrawStake');
    expect(await env.provider.getBalance(op.address)).toBe(before + STAKE / 2n - rc.gasUsed * rc.gasPrice);
    // the same signing key, even from a fresh operator, is refused
    await expectSlashRevert(stakeValidator(registry, env.provider, { operator: env.wallets[9]!, signingKey: keyOf(v), peerId: '0x01', amountWei: STAKE }), 'ValidatorEjected');
  });

  it('unbonding stake stays slashable, and withdrawal waits an unbonding period after the validator left the set', async () => {
    const v = set0[2]!;
    const op = opOf(v);
    await call(registry, op, 'unstake');
    // a duty missed while unbonding (it still signs for epoch 0) is slashed
    const { acceptedAt } = await relayMissing(GENESIS + 1, [v], [depositMint(1, reporter.address, 1_000n)]);
    await mineTo(acceptedAt + SLASH.dutyBlocks);
    await call(slasher, reporter, 'reportMissedBlock', GENESIS + 1);
    const left = STAKE - STAKE / 100n;
    expect(await stakeOf(v)).toBe(left);

    await increaseTime(env.provider, REG.unbondingPeriodSec);
    const r = registry.connect(op) as Contract;
    expect((await expectSlashRevert(r.getFunction('withdrawStake')(), 'StillInValidatorSet'))[0]).toBe(0n);
    expect(((await registry.getFunction('withdrawableAt')(v)) as [bigint, boolean])[1]).toBe(true);
    await increaseTime(env.provider, REG.epochDurationSec);
    await call(registry, reporter, 'freezeNextEpoch');
    const frozen: string[] = await registry.getFunction('epochValidators')(1);
    expect(frozen).not.toContain(v);
    await expectSlashRevert(r.getFunction('withdrawStake')(), 'StillInValidatorSet'); // epoch 0 still signs
    const sw = fed.block(GENESIS + 2, [], { nextValidators: frozen });
    await call(d.bmc, operators[0]!, 'handleRelayMessage', SRC_BMC, sw.relay);
    expect(await registry.getFunction('currentEpoch')()).toBe(1n);
    // out of the set now, but its duty for epoch 0's script lasts a further unbonding period
    const switchedAt = BigInt((await env.provider.getBlock('latest'))!.timestamp);
    const [availableAt, inSet] = (await registry.getFunction('withdrawableAt')(v)) as [bigint, boolean];
    expect(inSet).toBe(false);
    expect(availableAt).toBe(switchedAt + BigInt(REG.unbondingPeriodSec));
    expect((await expectSlashRevert(r.getFunction('withdrawStake')(), 'UnbondingNotOver'))[0]).toBe(availableAt);
    await increaseTime(env.provider, REG.unbondingPeriodSec);
    const before = await env.provider.getBalance(op.address);
    const rc = await call(registry, op, 'withdrawStake');
    expect(await env.provider.getBalance(op.address)).toBe(before + left - rc.gasUsed * rc.gasPrice);
    expect(await stakeOf(v)).toBe(0n);
  });
});

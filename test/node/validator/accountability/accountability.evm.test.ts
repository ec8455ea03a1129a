import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, toUtf8Bytes, type TransactionReceipt } from 'ethers';
import { BITCOIN_ADDRESS_PARAMS, deployBridge, deployRegistry, stakeValidator, type BridgeDeployment } from '../../../../src/chains/ethereum/contracts.js';
import { waitReceipt } from '../../../../src/chains/ethereum/provider.js';
import { createEthRpc, type EthRpc } from '../../../../src/chains/ethereum/rpc/client.js';
import { createTxSender, type TxSender } from '../../../../src/chains/ethereum/sender/sender.js';
import { deploySlasher } from '../../../../src/chains/ethereum/slashing.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { createMetrics } from '../../../../src/node/metrics.js';
import { SignLog } from '../../../../src/node/signlog/signlog.js';
import { Accountability, signLogSignatureSource, slasherOfRegistry } from '../../../../src/node/validator/accountability/index.js';
import { Federation, NETWORK_TYPE_ID, SRC_BMC, SRC_UID, depositMint, mine, startEnv, stopEnv, testKeys, type Env } from '../../../contracts/helpers.js';
import { bip143Preimage, bitcoinEvidence, btpEvidence, decision, deployPayoutMock, sha256d } from '../../../contracts/slashing-helpers.js';

const ETH = 10n ** 18n;
const STAKE = 10n * ETH;
const DST_BMC = 'btp://0x7a69.eth/bmc';
const REG = { minStakeWei: ETH, unbondingPeriodSec: 1_000, maxActive: 5, maxChurn: 1, activationMarginSec: 600, epochDurationSec: 3_600 };
const SLASH = { dutyBlocks: 150, missedDutyBps: 100, missedDutyCapBps: 250, equivocationBps: 5_000, reporterBps: 1_000, keeperBps: 500 };
const TAKEOVER = 4;

interface Node {
  address: string;
  key: string;
  db: NodeDb;
  sender: TxSender;
  signLog: SignLog;
  acc: Accountability;
}

/**
 * The accountability module against the real contracts (hardhat EVM): BMV, registry, Slasher and
 * a payout-duties mock. Five validators; the module runs for each with its own database, sender
 * and sign-log, reads through the node's EthRpc and sends through its TxSender.
 */
describe('accountability duties on the real EVM', () => {
  let env: Env;
  let rpc: EthRpc;
  let dir: string;
  let registry: Contract;
  let d: BridgeDeployment;
  let payout: Contract;
  let slasher: Contract;
  let fed: Federation;
  let set0: string[];
  const nodes = new Map<string, Node>();
  const signing = testKeys(5, 'accountability');
  const log = silentLogger();
  const lc = (a: string): string => a.toLowerCase();
  const keyOf = (addr: string): string => signing.find((k) => lc(new Wallet(k).address) === lc(addr))!;
  const node = (i: number): Node => nodes.get(lc(set0[i]!))!;
  const stakeOf = async (a: string): Promise<bigint> => ((await registry.getFunction('stakeOf')(a)) as [bigint, boolean])[0];
  const head = async (): Promise<bigint> => BigInt(await env.provider.getBlockNumber());
  /** Polls every sender until nothing is pending (bounded). */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      for (const n of nodes.values()) await n.sender.poll();
      if ([...nodes.values()].every((n) => n.sender.pending().length === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('submissions still pending');
  };
  const slasherLogs = async (name: string, from: number): Promise<unknown[][]> =>
    (await slasher.queryFilter(slasher.filters[name]!(), from)).map((e) => [...(e as unknown as { args: unknown[] }).args]);

  function makeAccountability(n: Pick<Node, 'address' | 'db' | 'sender' | 'signLog' | 'key'>, slasherAddr: string, payoutAddr: string): Accountability {
    return new Accountability({
      rpc,
      sender: n.sender,
      contracts: { slasher: slasherAddr, bmv: d.bmv.target as string, registry: registry.target as string, payout: payoutAddr },
      self: n.address,
      network: { srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID },
      ownSignature: signLogSignatureSource(n.signLog, getBytes(n.key)),
      db: n.db,
      log,
      metrics: createMetrics({ defaultMetrics: false }),
      options: { takeoverBlocks: TAKEOVER },
    });
  }

  beforeAll(async () => {
    env = await startEnv(12);
    const admin = env.wallets[0]!;
    const operators = env.wallets.slice(1, 6);
    registry = await deployRegistry(admin, env.provider, admin.address, REG);
    for (let i = 0; i < 5; i++) await stakeValidator(registry, env.provider, { operator: operators[i]!, signingKey: signing[i]!, peerId: hexlify(toUtf8Bytes(`p${i}`)), amountWei: STAKE });
    await waitReceipt(env.provider, await registry.getFunction('bootstrap')());
    set0 = ((await registry.getFunction('epochValidators')(0)) as string[]).map(lc);
    fed = new Federation(set0.map(keyOf), DST_BMC);
    d = await deployBridge(admin, env.provider, { admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(500), bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest, registry });
    payout = await deployPayoutMock(admin, env.provider);
    slasher = await deploySlasher(admin, env.provider, { admin: admin.address, registry, bmv: d.bmv, payout, treasury: env.wallets[9]!.address, params: SLASH });
    rpc = createEthRpc({ options: { urls: [env.chain.rpcUrl], chainId: env.chain.chainId }, log });
    dir = await mkdtemp(join(tmpdir(), 'fednode-accountability-'));
    const slasherAddr = await slasherOfRegistry(rpc, registry.target as string);
    expect(slasherAddr).toBe(slasher.target);
    for (const a of set0) {
      const i = signing.indexOf(keyOf(a));
      const db = await openDatabase(join(dir, a), { log });
      const sender = createTxSender({ rpc, db, signer: new Wallet(operators[i]!.privateKey), log, options: { pollIntervalMs: 50 } });
      const n = { address: a, key: signing[i]!, db, sender, signLog: new SignLog(db) };
      nodes.set(a, { ...n, acc: makeAccountability(n, slasherAddr!, payout.target as string) });
    }
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes.values()) {
      await n.acc.stop();
      await n.sender.stop();
      await n.db.close();
    }
    await rpc?.stop();
    await stopEnv(env);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function relayMissing(height: number, missing: string[]): Promise<{ receipt: TransactionReceipt; decisionHash: string }> {
    const b = fed.block(height, [depositMint(height, env.wallets[10]!.address, 1_000n)], { signers: (a) => !missing.includes(a) });
    const receipt = await waitReceipt(env.provider, await (d.bmc.connect(env.wallets[1]!) as Contract).getFunction('handleRelayMessage')(SRC_BMC, b.relay));
    return { receipt, decisionHash: b.decisionHash };
  }

  it('own defence records a missing signature; the keeper by rotation reports the other miss once, after the deadline', async () => {
    const h = 501;
    const { receipt, decisionHash } = await relayMissing(h, [set0[0]!, set0[1]!]);
    // v0 signed this decision (its sign-log says so); v1 signed another one at this height: it must not sign again.
    await node(0).signLog.authorizeBtp({ height: h, decisionHash }, Date.now());
    await node(1).signLog.authorizeBtp({ height: h, decisionHash: '0x' + '11'.repeat(32) }, Date.now());
    for (const n of nodes.values()) await n.acc.onBlockAccepted(BigInt(h));

    for (const n of nodes.values()) await n.acc.tick();
    await settle();
    const [signers] = (await d.bmv.getFunction('blockRecord')(h)) as [bigint];
    expect(signers & 1n).toBe(1n); // v0 recorded its signature
    expect((signers >> 1n) & 1n).toBe(0n); // v1 did not (it signed another decision)
    expect(node(1).sender.get('bmv:record-signature:501')).toBeUndefined();

    // Before the deadline nobody reports.
    for (const n of nodes.values()) expect(n.sender.get('slasher:missed-block:501')).toBeUndefined();

    // Past acceptedAt + max(T, window): the first of the rotation (over those who signed) reports.
    const deadline = BigInt(receipt.blockNumber) + BigInt(SLASH.dutyBlocks);
    await mine(env.provider, Number(deadline - (await head())) + 1);
    const did = set0.filter((_, i) => i !== 1); // v0 recorded
    const first = did[h % did.length]!;
    const stakeBefore = await stakeOf(set0[1]!);
    for (const n of nodes.values()) await n.acc.tick();
    await settle();
    const reporters = [...nodes.values()].filter((n) => n.sender.get('slasher:missed-block:501') !== undefined).map((n) => n.address);
    expect(reporters).toEqual([first]);
    expect(nodes.get(first)!.sender.get('slasher:missed-block:501')!.state).toBe('confirmed');
    const slashed = await slasherLogs('MissedDutySlashed', receipt.blockNumber);
    expect(slashed.map((e) => lc(e[2] as string))).toEqual([set0[1]]);
    expect(await stakeOf(set0[1]!)).toBe(stakeBefore - (STAKE * BigInt(SLASH.missedDutyBps)) / 10_000n);

    // After the takeover the others find it settled (eth_call) and send nothing.
    await mine(env.provider, TAKEOVER * 5);
    for (const n of nodes.values()) await n.acc.tick();
    await settle();
    expect((await slasherLogs('DutySettled', receipt.blockNumber)).length).toBe(1);
    for (const n of nodes.values()) expect(n.acc.openDuties()).toEqual([]);
  });

  it('a restarted keeper still holds its open duties; the next in rotation takes over when the first is silent', async () => {
    const h = 502;
    const { receipt } = await relayMissing(h, [set0[4]!]);
    for (const n of nodes.values()) await n.acc.onBlockAccepted(BigInt(h));
    // Restart every module from its database: the duty was persisted.
    for (const [a, n] of nodes) {
      await n.acc.stop();
      const fresh = makeAccountability(n, slasher.target as string, payout.target as string);
      await fresh.load();
      expect(fresh.openDuties()).toEqual([{ kind: 'block', id: BigInt(h) }]);
      nodes.set(a, { ...n, acc: fresh });
    }
    const did = set0.slice(0, 4);
    const rotation = [0, 1, 2, 3].map((j) => did[(h + j) % 4]!);
    await mine(env.provider, Number(BigInt(receipt.blockNumber) + BigInt(SLASH.dutyBlocks) - (await head())) + 1);
    // The first of the rotation is down: nobody else acts before their slot.
    const others = [...nodes.values()].filter((n) => n.address !== rotation[0]);
    for (const n of others) await n.acc.tick();
    await settle();
    for (const n of others) expect(n.sender.get('slasher:missed-block:502')).toBeUndefined();
    await mine(env.provider, TAKEOVER);
    for (const n of others) await n.acc.tick();
    await settle();
    const reporters = others.filter((n) => n.sender.get('slasher:missed-block:502') !== undefined).map((n) => n.address);
    expect(reporters).toEqual([rotation[1]]);
    expect(lc((await slasherLogs('DutySettled', receipt.blockNumber))[0]![2] as string)).toBe(lc(nodes.get(rotation[1]!)!.sender.address));
  });

  it('reports a missed payout batch after approvedAt + T', async () => {
    const approvedAt = await head();
    await waitReceipt(env.provider, await payout.getFunction('setBatchDuty')(7, approvedAt, 0, 0b11111 & ~(1 << 2)));
    for (const n of nodes.values()) await n.acc.onBatchApproved(7n);
    for (const n of nodes.values()) await n.acc.tick();
    await settle();
    const batchSettled = async (): Promise<unknown[][]> => (await slasherLogs('DutySettled', Number(approvedAt))).filter((e) => Number(e[0]) === 1 && Number(e[1]) === 7);
    expect(await batchSettled()).toHaveLength(0);
    await mine(env.provider, Number(approvedAt + BigInt(SLASH.dutyBlocks) - (await head())) + 1);
    for (const n of nodes.values()) await n.acc.tick();
    await settle();
    const ev = (await slasherLogs('MissedDutySlashed', Number(approvedAt))).filter((e) => Number(e[0]) === 1);
    expect(ev.map((e) => [Number(e[0]), Number(e[1]), lc(e[2] as string)])).toEqual([[1, 7, set0[2]]]);
    expect([...nodes.values()].filter((n) => n.sender.get('slasher:missed-batch:7') !== undefined)).toHaveLength(1);
    expect(await batchSettled()).toHaveLength(1);
  });

  it('submits BTP and Bitcoin equivocation evidence once, and refuses foreign or invalid evidence locally', async () => {
    const byz = set0[3]!;
    const acc = node(0).acc;
    const from = Number(await head());
    expect(await acc.submitBtpEvidence(btpEvidence(keyOf(byz), decision(600, 1, { src: '0x2.btc' }), decision(600, 2, { src: '0x2.btc' }), 600))).toBe('foreign-network');
    expect(await acc.submitBtpEvidence(btpEvidence(keyOf(byz), decision(600, 1), decision(600, 2), 600, keyOf(set0[0]!)))).toBe('invalid');
    const ev = btpEvidence(keyOf(byz), decision(600, 1), decision(600, 2), 600);
    expect(await acc.submitBtpEvidence(ev)).toBe('submitted');
    await settle();
    expect(node(0).sender.get(`slasher:btp-equivocation:${byz}:600`)?.state).toBe('confirmed');
    expect(await node(1).acc.submitBtpEvidence(ev)).toBe('already-used');
    const eq = await slasherLogs('EquivocationSlashed', from);
    expect(eq.map((e) => [Number(e[0]), lc(e[1] as string), lc(e[3] as string)])).toEqual([[0, byz, lc(node(0).sender.address)]]);
    expect(((await registry.getFunction('stakeOf')(byz)) as [bigint, boolean])[1]).toBe(true); // ejected

    // Bitcoin: an unapproved sighash over a federation outpoint.
    const txid = getBytes('0x' + '07'.repeat(32));
    const pre = bip143Preimage(txid, 1);
    const bev = bitcoinEvidence(keyOf(set0[4]!), pre);
    expect(await acc.submitBitcoinEvidence(bev)).toBe('invalid'); // not a federation outpoint yet
    await waitReceipt(env.provider, await payout.getFunction('setFederationOutpoint')(txid, 1, true));
    await waitReceipt(env.provider, await payout.getFunction('setDerivedSighash')(sha256d(pre), true));
    expect(await acc.submitBitcoinEvidence(bev)).toBe('invalid'); // derived: honest signing
    await waitReceipt(env.provider, await payout.getFunction('setDerivedSighash')(sha256d(pre), false));
    expect(await acc.submitBitcoinEvidence(bev)).toBe('submitted');
    await settle();
    expect(await node(2).acc.submitBitcoinEvidence(bev)).toBe('already-used');
    expect((await slasherLogs('EquivocationSlashed', from)).map((e) => Number(e[0]))).toEqual([0, 1]);
  });
});

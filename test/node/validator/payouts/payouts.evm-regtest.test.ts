import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, Wallet, getBytes, hexlify, type JsonRpcProvider } from 'ethers';
import { payments, Transaction } from 'bitcoinjs-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, reverseBytes } from '../../../../src/chains/bitcoin/bytes.js';
import { encodeDepositOpReturn } from '../../../../src/chains/bitcoin/deposits.js';
import { encodeRecord } from '../../../../src/chains/bitcoin/records.js';
import { buildBlock, encodeBTPMessage, signDecision, sortValidators, type BtpChainState } from '../../../../src/chains/btp/index.js';
import { createEthRpc, type EthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { createTxSender, type TxSender } from '../../../../src/chains/ethereum/sender/index.js';
import { waitReceipt } from '../../../../src/chains/ethereum/provider.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { deployFederation, type DeployedFederation } from '../../../../src/node/devnet/deploy.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { SignLog } from '../../../../src/node/signlog/index.js';
import { PayoutStore, createValidatorPayouts, openPayoutSublevel, type PayoutPipeline } from '../../../../src/node/validator/payouts/index.js';
import type { ValidatorServices } from '../../../../src/node/validator/validator.js';
import type { BtpStore } from '../../../../src/node/rpc/store.js';
import { createMetrics } from '../../../../src/node/metrics.js';
import { createConsensusMetrics } from '../../../../src/consensus/metrics.js';
import type { GossipVerdict, GossipWitness, WitnessGossip } from '../../../../src/node/validator/payouts/types.js';
import { relayOf, startEnv, stopEnv, testKeys, type Env } from '../../../contracts/helpers.js';
import { startRegtest, type Regtest } from '../../../fixtures/bitcoin/regtest.js';

/**
 * The payout pipeline end to end on the real chains: a hardhat EVM with the registry, bridge and
 * PayoutCoordinator (deployFederation), and a bcoin regtest node. Four validators run in one
 * process, each with its own level database, sign-log and TxSender, built by
 * `createValidatorPayouts` from (a stub of) the validator runtime's services; their
 * `payout-witness` gossip goes through an in-memory bus instead of libp2p. A real deposit is minted through a
 * signed BTP block, a user burns BTCT for a withdrawal, and the modules import the deposit,
 * close the batch, sign, submit, get it approved and broadcast it; it is mined on regtest and
 * pays the user, and the confirmation's BTP block settles the batch.
 */

class Bus {
  readonly handlers = new Map<string, (w: GossipWitness, meta: { signer: string }) => GossipVerdict | Promise<GossipVerdict>>();
  readonly verdicts: GossipVerdict[] = [];
  endpoint(signer: string): WitnessGossip {
    return {
      publish: (w) => {
        for (const [who, h] of this.handlers) if (who !== signer) this.verdicts.push(h(w, { signer }) as GossipVerdict);
        return true;
      },
      subscribe: (h) => {
        this.handlers.set(signer, h);
        return () => this.handlers.delete(signer);
      },
    };
  }
}

interface Validator {
  signingKey: string;
  operator: Wallet;
  address: string;
  dir: string;
  db: NodeDb;
  sender: TxSender;
  pipeline: PayoutPipeline;
  payoutStatus: { signatures: number; pendingWithdrawals: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('payout pipeline on the real EVM and bcoin regtest (4 validators in one process, gossip over an in-memory bus, no libp2p)', () => {
  let env: Env;
  let rt: Regtest;
  let fed: DeployedFederation;
  let rpc: EthRpc;
  let provider: JsonRpcProvider;
  const vals: Validator[] = [];
  const bus = new Bus();
  /** The nodes' BTP blocks by height (messages only): what the import duty reads. */
  const btpBlocks = new Map<number, Uint8Array[]>();
  const btpStore = {
    latestHeight: async () => Math.max(0, ...btpBlocks.keys()),
    block: async (_networkId: number, h: number) => {
      const messages = btpBlocks.get(h);
      return messages === undefined ? null : { height: h, networkId: 1, header: new Uint8Array(0), proof: null, messages };
    },
  } as unknown as BtpStore;
  let recipientScript: Uint8Array;
  let recipientAddress: string;

  beforeAll(async () => {
    env = await startEnv(12);
    provider = env.provider;
    rt = await startRegtest();
    const signingKeys = testKeys(4, 'payout-e2e');
    fed = await deployFederation({
      deployer: env.wallets[0]!,
      provider,
      bitcoin: { rpc: rt.node.rpc, faucet: rt.faucet },
      validators: signingKeys.map((k, i) => ({ signingKey: k, operatorKey: env.chain.accounts[1 + i]!, peerId: hexlify(concatBytes(Uint8Array.of(0, 0x24, 8, 1, 0x12, 0x20), new Uint8Array(32).fill(i + 1))) })),
    });
    rpc = createEthRpc({ options: { urls: [env.chain.rpcUrl], chainId: env.chain.chainId }, log: silentLogger() });
    await rpc.start();
    for (const [i, k] of signingKeys.entries()) {
      const dir = await mkdtemp(join(tmpdir(), 'fednode-payout-e2e-'));
      const db = await openDatabase(dir, { log: silentLogger() });
      const operator = new Wallet(env.chain.accounts[1 + i]!);
      const sender = createTxSender({ rpc, db, signer: operator, log: silentLogger(), options: { pollIntervalMs: 50, confirmations: 1 } });
      await sender.start();
      const address = new Wallet(k).address.toLowerCase();
      // The validator runtime's services, as far as the payout module uses them (the p2p host's
      // payout-witness topic is the in-memory bus; the home view is always fresh).
      const ep = bus.endpoint(address);
      const metrics = createMetrics({ defaultMetrics: false });
      const payoutStatus = { signatures: 0, pendingWithdrawals: 0 };
      const services = {
        genesis: fed.genesis, signingKey: getBytes(k), address, signLog: new SignLog(db), bitcoinRpc: rt.node.rpc, ethRpc: rpc, sender, db,
        p2p: { publish: (_kind: string, w: GossipWitness) => ep.publish(w), handle: (_kind: string, h: Parameters<WitnessGossip['subscribe']>[0]) => ep.subscribe(h) },
        log: silentLogger(), metrics, consensusMetrics: createConsensusMetrics(metrics), now: Date.now, payoutStatus,
        homeView: { get snapshot() { return { viewTime: Math.floor(Date.now() / 1000), schedulingMarginSeconds: 3_600, epochs: [] }; } },
      } as unknown as ValidatorServices;
      const pipeline = createValidatorPayouts(services, {
        btpStore,
        options: { timing: { collectAfterQuorumMs: 200, takeoverTimeoutMs: 10_000 }, keeperTakeoverMs: 10_000, recordsRefreshMs: 0 },
      });
      await pipeline.init();
      vals.push({ signingKey: k, operator, address, dir, db, sender, pipeline, payoutStatus });
    }
  }, 240_000);

  afterAll(async () => {
    for (const v of vals) {
      await v.pipeline.stop();
      await v.sender.stop();
      await v.db.close();
      await rm(v.dir, { recursive: true, force: true });
    }
    await rpc?.stop();
    await rt?.node.stop();
    await stopEnv(env);
  });

  it('deposit imported and withdrawal queued → batch closed by one keeper → signed, submitted by one, approved → broadcast and mined, paying the user → settled', async () => {
    const g = fed.genesis;
    const user = env.wallets[8]!;
    const bsh = fed.bridge.bsh.connect(user) as Contract;

    // 1. A real deposit to epoch 0's P2SH-P2WSH address, relayed in a BTP block signed by the federation.
    const depositSats = 600_000n;
    const dep = await rt.faucet.send([{ script: encodeDepositOpReturn({ recipient: getBytes(user.address) }), valueSats: 0n }, { script: fed.epoch0Script.p2shP2wshOutput, valueSats: depositSats }]);
    await rt.faucet.mine(1);
    const height = await rt.node.rpc.getBlockCount();
    const validators = sortValidators(fed.epoch0.map((a) => getBytes(a)));
    const first = buildBlock({ networkId: g.networkId, lastNetworkSectionHash: null, nextMessageSn: 0, validators }, { srcNetworkUid: g.srcNetworkUid, networkTypeId: g.networkTypeId, height: g.bitcoin.startHeight - 1, messages: [] })!;
    const state: BtpChainState = first.nextState;
    const txidInternal = reverseBytes(getBytes('0x' + dep.txid));
    const record = encodeRecord({ type: 'deposit-mint', txid: txidInternal, vout: 1, amountSats: depositSats, epoch: 0, outputKind: 'p2sh-p2wsh', recipient: getBytes(user.address) });
    const msg = encodeBTPMessage({ src: g.srcBtpAddress, dst: g.dstBtpAddress, svc: 'btc', sn: 0n, payload: record, nsn: 0n, feeInfo: null });
    const built = buildBlock(state, { srcNetworkUid: g.srcNetworkUid, networkTypeId: g.networkTypeId, height, messages: [msg] })!;
    const keyOf = new Map(vals.map((v) => [v.address, v.signingKey]));
    const sigs = validators.map((a) => signDecision(built.decisionHash, getBytes(keyOf.get(hexlify(a).toLowerCase())!)));
    await waitReceipt(provider, await (fed.bridge.bmc.connect(env.wallets[0]!) as Contract).getFunction('handleRelayMessage')(g.srcBtpAddress, relayOf(built, sigs, [msg]), { gasLimit: 10_000_000n }));
    const minted = (await fed.bridge.btct.getFunction('balanceOf')(user.address)) as bigint;
    expect(minted).toBeGreaterThan(0n);

    expect(fed.addresses.payout).toBeDefined();
    const coordinator = new Contract(fed.addresses.payout!, ['event BatchClosed(uint256 indexed batchId, uint256 version, bytes32 txid, bytes unsignedTx)', 'event BatchApproved(uint256 indexed batchId, uint256 version, bytes32 txid)', 'function initReserve(bytes32 txid, uint32 vout, uint64 amount, uint8 kind)', 'function hasReserve() view returns (bool)', 'event WitnessRecorded(uint256 indexed batchId, uint256 version, address indexed validator, (uint16 input, uint8 keyIndex, uint8 recid, bytes32 r, bytes32 s)[] sigs)'], env.wallets[0]!);
    // The bootstrap reserve deployFederation paid on regtest becomes the first input (admin, once).
    if (!((await coordinator.getFunction('hasReserve')()) as boolean)) {
      const r = g.bitcoin.reserve;
      if (r === null || r === undefined) throw new Error('deployFederation paid no reserve');
      await waitReceipt(provider, await coordinator.getFunction('initReserve')(hexlify(reverseBytes(getBytes('0x' + r.txid))), r.vout, r.amount, 0));
    }

    // 2. The nodes hold that BTP block (the keepers import its deposit), the user burns BTCT for BTC.
    btpBlocks.set(height, [msg]);
    const recipientKey = getBytes(testKeys(1, 'payout-e2e-user')[0]!);
    const recipient = payments.p2wpkh({ pubkey: getBytes(new Wallet(hexlify(recipientKey)).signingKey.compressedPublicKey), network: rt.node.network });
    recipientScript = recipient.output!;
    recipientAddress = recipient.address!;
    const amount = 300_000n;
    await waitReceipt(provider, await bsh.getFunction('transferToForeign')(recipient.address!, amount));

    // 3. The four modules run until the payout is in the regtest mempool (bounded rounds; no timing in the assertions).
    let payoutTxid: string | undefined;
    for (let round = 0; round < 80 && payoutTxid === undefined; round++) {
      for (const v of vals) await v.pipeline.tick();
      await sleep(100);
      const mempool = await rt.node.rpc.getRawMempool();
      payoutTxid = mempool[0];
    }
    expect(payoutTxid).toBeDefined();
    const closed = await coordinator.queryFilter(coordinator.filters['BatchClosed']!());
    const approved = await coordinator.queryFilter(coordinator.filters['BatchApproved']!());
    expect(closed).toHaveLength(1);
    expect(approved).toHaveLength(1);
    // each keeper duty and the witness submission were sent by exactly one validator (rotation)
    for (const key of ['payout-import:0', 'payout-close:1', 'payout-witnesses:1:0']) expect(vals.filter((v) => v.sender.get(key) !== undefined).map((v) => v.address), key).toHaveLength(1);
    const closedTxid = hexlify(reverseBytes(getBytes((closed[0] as unknown as { args: [bigint, bigint, string] }).args[2]))).slice(2);
    expect(payoutTxid).toBe(closedTxid);
    for (const v of vals) expect((await new SignLog(v.db).contents()).payouts.length).toBe(2); // reserve + deposit, each holds every key
    expect(bus.verdicts.filter((x) => x === 'reject')).toHaveLength(0);
    for (const v of vals) expect(v.payoutStatus.signatures).toBe(2);

    // 4. Mined on regtest: the user's output pays the withdrawal minus its fee share.
    await rt.faucet.mine(1);
    const tx = Transaction.fromHex(await rt.node.rpc.getRawTransaction(payoutTxid!));
    const paid = tx.outs.find((o) => Buffer.from(o.script).equals(Buffer.from(recipient.output!)));
    expect(paid).toBeDefined();
    expect(paid!.value).toBeLessThan(amount);
    expect(paid!.value).toBeGreaterThan(amount - 20_000n);
    const out = await rt.node.rpc.getTxOut(payoutTxid!, tx.outs.indexOf(paid!), false);
    expect(out?.confirmations).toBe(1);
    // every validator's signatures are on chain (the rotation submitter carried them all)
    const recorded = await coordinator.queryFilter(coordinator.filters['WitnessRecorded']!());
    expect(new Set(recorded.map((e) => String((e as unknown as { args: unknown[] }).args[2]).toLowerCase()))).toEqual(new Set(fed.epoch0));

    // 5. The next BTP block carries the payout's confirmation: the batch settles and the modules stop following it.
    const payoutHeight = await rt.node.rpc.getBlockCount();
    const conf = encodeRecord({ type: 'payout-confirmed', txid: reverseBytes(getBytes('0x' + payoutTxid!)), batchId: 1n, btcHeight: payoutHeight });
    const confMsg = encodeBTPMessage({ src: g.srcBtpAddress, dst: g.dstBtpAddress, svc: 'btc', sn: 1n, payload: conf, nsn: 0n, feeInfo: null });
    const built2 = buildBlock(built.nextState, { srcNetworkUid: g.srcNetworkUid, networkTypeId: g.networkTypeId, height: payoutHeight, messages: [confMsg] })!;
    const sigs2 = validators.map((a) => signDecision(built2.decisionHash, getBytes(keyOf.get(hexlify(a).toLowerCase())!)));
    await waitReceipt(provider, await (fed.bridge.bmc.connect(env.wallets[0]!) as Contract).getFunction('handleRelayMessage')(g.srcBtpAddress, relayOf(built2, sigs2, [confMsg]), { gasLimit: 10_000_000n }));
    for (const v of vals) await v.pipeline.tick();
    for (const v of vals) {
      expect((await new PayoutStore(openPayoutSublevel(v.db)).get(1n))?.confirmed).toBe(true);
      expect(v.pipeline.status()).toEqual([]);
    }
  }, 240_000);

  it('a fee bump on the real coordinator: one keeper bumps, every module re-derives the bumped version by rule and signs it, the contract approves it', async () => {
    const user = env.wallets[8]!;
    const admin = env.wallets[0]!;
    const coordinator = new Contract(fed.addresses.payout!, [
      'function setParams(uint32 maxInputs, uint32 maxWithdrawals, uint32 maxWeight, uint32 bumpAfterBlocks, uint64 approvalGasBudget)',
      'event BatchClosed(uint256 indexed batchId, uint256 version, bytes32 txid, bytes unsignedTx)',
      'event BatchApproved(uint256 indexed batchId, uint256 version, bytes32 txid)',
    ], admin);
    await waitReceipt(provider, await coordinator.getFunction('setParams')(10, 100, 100_000, 3, 15_000_000n));
    await waitReceipt(provider, await (fed.bridge.bsh.connect(user) as Contract).getFunction('transferToForeign')(recipientAddress, 100_000n));
    const approvedVersions = async (): Promise<bigint[]> =>
      (await coordinator.queryFilter(coordinator.filters['BatchApproved']!(2n))).map((e) => BigInt((e as unknown as { args: [bigint, bigint] }).args[1]));
    // batch 2, version 0: closed, signed, approved, broadcast
    for (let round = 0; round < 80 && (await rt.node.rpc.getRawMempool()).length === 0; round++) {
      for (const v of vals) await v.pipeline.tick();
      await sleep(100);
    }
    expect(await approvedVersions()).toEqual([0n]);
    const v0 = (await rt.node.rpc.getRawMempool())[0]!;
    // the contract's bump delay passes: the keepers bump once, version 1 is signed and approved
    await provider.send('hardhat_mine', ['0x3']);
    for (let round = 0; round < 80 && !(await approvedVersions()).includes(1n); round++) {
      for (const v of vals) await v.pipeline.tick();
      await sleep(100);
    }
    expect(await approvedVersions()).toEqual([0n, 1n]);
    const closed = (await coordinator.queryFilter(coordinator.filters['BatchClosed']!(2n))).map((e) => (e as unknown as { args: [bigint, bigint, string, string] }).args);
    expect(closed.map((a) => a[1])).toEqual([0n, 1n]);
    const [t0, t1] = closed.map((a) => Transaction.fromHex(a[3].slice(2)));
    expect(t1!.outs[0]!.value).toBeLessThan(t0!.outs[0]!.value); // only the change pays the bump
    expect(t1!.outs.slice(1).map((o) => o.value)).toEqual(t0!.outs.slice(1).map((o) => o.value));
    expect(vals.filter((v) => v.sender.get('payout-bump:2:1') !== undefined)).toHaveLength(1);
    for (const v of vals) expect((await new SignLog(v.db).contents()).batches.filter((b) => b.batchId === 2n)).toHaveLength(2);
    // bcoin performs no BIP-125 replacement: version 0 stays in the mempool and is mined
    await rt.faucet.mine(1);
    const mined = Transaction.fromHex(await rt.node.rpc.getRawTransaction(v0));
    expect(mined.outs.some((o) => Buffer.from(o.script).equals(Buffer.from(recipientScript)))).toBe(true);
  }, 240_000);
});

/**
 * Helpers for the rotation e2e: a validator outside the harness's deployed set (staked later),
 * and moving both chains' clocks so that a frozen epoch activates.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, getBytes, keccak256, toUtf8Bytes, type Contract } from 'ethers';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { stakeValidator } from '../../src/chains/ethereum/contracts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { configSchema } from '../../src/node/config/schema.js';
import { openDatabase, type NodeDb } from '../../src/node/db/database.js';
import { peerIdBytes } from '../../src/node/devnet/deploy.js';
import { Health } from '../../src/node/health.js';
import { silentLogger } from '../../src/node/logger.js';
import { createMetrics } from '../../src/node/metrics.js';
import { loadOrCreateNetworkKey } from '../../src/node/p2p/network-key.js';
import { createValidator, type Validator } from '../../src/node/validator/validator.js';
import { FAST_P2P, freePort, type Harness } from './harness.js';

export interface ExtraNode {
  signingKey: string;
  address: string;
  operator: Wallet;
  peerId: string;
  validator: Validator;
  db: NodeDb;
  stop(): Promise<void>;
}

/** Stakes a new validator (operator = dev account `accountIndex`) and starts it in process like `h.startNode`. */
export async function joinExtraValidator(h: Harness, accountIndex: number, name: string): Promise<ExtraNode> {
  const signingKey = keccak256(toUtf8Bytes(name));
  const dir = await mkdtemp(join(tmpdir(), 'fednode-e2e-extra-'));
  const networkKey = await loadOrCreateNetworkKey(dir);
  const peerId = peerIdFromPrivateKey(networkKey).toString();
  const operator = new Wallet(h.chain.accounts[accountIndex]!, h.provider);
  await stakeValidator(h.deployed.registry, h.provider, { operator, signingKey, peerId: peerIdBytes(peerId), amountWei: 10n ** 18n });
  const port = await freePort();
  const base = h.nodes[0]!.config;
  const config = configSchema.parse({
    ...JSON.parse(JSON.stringify(base)),
    dataDir: dir,
    p2p: {
      ...JSON.parse(JSON.stringify(base.p2p)),
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      bootstrap: h.nodes.map((y) => `/ip4/127.0.0.1/tcp/${y.port}/p2p/${y.peerId}`),
    },
  });
  const db = await openDatabase(dir, { log: silentLogger() });
  const validator = createValidator({
    config,
    genesis: h.deployed.genesis,
    signingKey: getBytes(signingKey),
    networkKey,
    operator: new Wallet(h.chain.accounts[accountIndex]!),
    db,
    log: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
    health: new Health(),
    bitcoinRpc: h.btc.rpc,
    p2p: FAST_P2P,
  });
  await validator.start();
  let stopped = false;
  return {
    signingKey,
    address: new Wallet(signingKey).address.toLowerCase(),
    operator,
    peerId,
    validator,
    db,
    async stop() {
      if (stopped) return;
      stopped = true;
      await validator.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function increaseHomeTime(h: Harness, seconds: number): Promise<void> {
  await h.provider.send('evm_increaseTime', [seconds]);
  await h.provider.send('evm_mine', []);
}

export interface EpochInfo { frozenAt: bigint; activationMtp: bigint; activationBtcHeight: bigint; frozen: boolean; active: boolean }

export async function epochInfo(registry: Contract, epoch: number): Promise<EpochInfo> {
  const [frozenAt, activationMtp, activationBtcHeight, frozen, active] = (await registry.getFunction('epochInfo')(BigInt(epoch))) as [bigint, bigint, bigint, boolean, boolean];
  return { frozenAt, activationMtp, activationBtcHeight, frozen, active };
}

/**
 * Freezes the next epoch (after moving home time past the epoch duration), then moves home time
 * on by `homeLeadSec` (so the home view is not "behind" a Bitcoin chain whose MTP reached T) and
 * bcoin's clock to T + 60 s. Returns the frozen epoch and its activation MTP T.
 */
export async function freezeAndJumpClocks(h: Harness, epochDurationSec: number, homeLeadSec = 600): Promise<{ epoch: number; activationMtp: number }> {
  await increaseHomeTime(h, epochDurationSec + 1);
  await waitReceipt(h.provider, await h.deployed.registry.getFunction('freezeNextEpoch')());
  const epoch = Number(await h.deployed.registry.getFunction('currentEpoch')()) + 1;
  const info = await epochInfo(h.deployed.registry, epoch);
  if (!info.frozen) throw new Error(`epoch ${epoch} not frozen`);
  await increaseHomeTime(h, homeLeadSec);
  await h.btc.rpc.call('setmocktime', [Number(info.activationMtp) + 60]);
  return { epoch, activationMtp: Number(info.activationMtp) };
}

/** Core-style median time past of the tip (median of the last 11 block times). */
export async function tipMedianTime(h: Harness): Promise<number> {
  const tip = await h.btc.rpc.getBlockCount();
  const times: number[] = [];
  for (let i = 0; i < 11 && tip - i >= 0; i++) {
    const hash = await h.btc.rpc.getBlockHash(tip - i);
    const hdr = await h.btc.rpc.call<{ time: number }>('getblockheader', [hash, true]);
    times.push(hdr.time);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

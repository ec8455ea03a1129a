/**
 * In-process federation for end-to-end tests and the federation benchmark: a real EVM node
 * (hardhat), a real bcoin regtest node, the federation deployed by `deployFederation`, and N
 * validators (`createValidator`) in this process, each with its own level database in a temp
 * directory and a real libp2p host on 127.0.0.1.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { stringify as toToml } from 'smol-toml';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Contract, Wallet, getBytes, keccak256, toUtf8Bytes, type JsonRpcProvider } from 'ethers';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { startBcoinRegtest, type BcoinRegtestNode } from '../../src/chains/bitcoin/regtest/bcoin-node.js';
import { spawnBcoinRegtest } from '../../src/chains/bitcoin/regtest/child.js';
import type { BitcoinRpcClient } from '../../src/chains/bitcoin/rpc.js';
import { RegtestFaucet } from '../../src/chains/bitcoin/regtest/faucet.js';
import { loadArtifact } from '../../src/chains/ethereum/artifacts.js';
import { startDevChain, type DevChain } from '../../src/chains/ethereum/devchain.js';
import { createProvider } from '../../src/chains/ethereum/provider.js';
import { configSchema, type FednodeConfig } from '../../src/node/config/schema.js';
import { openDatabase, type NodeDb } from '../../src/node/db/database.js';
import { deployFederation, type DeployedFederation } from '../../src/node/devnet/deploy.js';
import { Health } from '../../src/node/health.js';
import { silentLogger, type Logger } from '../../src/node/logger.js';
import { KeystoreDir } from '../../src/node/keystore/keystore.js';
import { createMetrics, type MetricsFactory } from '../../src/node/metrics.js';
import { loadOrCreateNetworkKey } from '../../src/node/p2p/network-key.js';
import type { P2pHostOptions } from '../../src/node/p2p/host.js';
import { createValidator, type Validator, type ValidatorDeps } from '../../src/node/validator/validator.js';

export const FAST_P2P: Partial<P2pHostOptions> = {
  gossipHeartbeatMs: 100,
  scoreCheckIntervalMs: 100,
  persistentPeersTickMs: 50,
  persistentPeersYieldMs: 400,
  backoff: { initialMs: 100, maxMs: 800, factor: 2, jitter: 0.1 },
};

export interface HarnessOptions {
  /** Duties beside the BTP pipeline (default: all on, as in `fednode start`). */
  duties?: ValidatorDeps['duties'];
  validators: number;
  /** Bitcoin confirmations k (default 2). */
  confirmations?: number;
  /** Watcher poll (default 50 ms). */
  bitcoinPollMs?: number;
  /** Collection after quorum (default 100 ms). */
  collectAfterQuorumMs?: number;
  /** Rotation takeover (default 3 s). */
  takeoverTimeoutMs?: number;
  logger?: Logger;
  /** p2p timers (default FAST_P2P: quick mesh formation for tests; benchmarks use production defaults). */
  p2p?: Partial<P2pHostOptions>;
  /** Aggregator tick (default 20 ms). */
  tickIntervalMs?: number;
  /** Run bcoin as a child process (the validators then own this process's event loop: benchmarks). */
  bitcoinChild?: boolean;
  /** Extra config (deep-merged per section). */
  config?: (i: number) => Record<string, unknown>;
}

/** The regtest node, in process or as a child. */
export type BitcoinNode = Pick<BcoinRegtestNode, 'rpcUrl' | 'apiKey' | 'rpc' | 'network'> & { stop(): Promise<void> };

export interface HarnessNode {
  readonly index: number;
  readonly signingKey: string;
  readonly address: string;
  readonly operator: Wallet;
  readonly networkKey: Ed25519PrivateKey;
  readonly peerId: string;
  readonly port: number;
  readonly dir: string;
  config: FednodeConfig;
  db: NodeDb | undefined;
  validator: Validator | undefined;
  metrics: MetricsFactory;
  health: Health;
}

export interface Harness {
  readonly chain: DevChain;
  readonly provider: JsonRpcProvider;
  readonly btc: BitcoinNode;
  readonly faucet: RegtestFaucet;
  readonly deployed: DeployedFederation;
  readonly nodes: HarnessNode[];
  readonly btct: Contract;
  readonly bmv: Contract;
  /** Starts validator i in process; `bitcoinRpc` replaces the regtest node's client (fault injection). */
  startNode(i: number, over?: { bitcoinRpc?: BitcoinRpcClient; onEvidence?: ValidatorDeps['onEvidence']; duties?: ValidatorDeps['duties'] }): Promise<void>;
  stopNode(i: number): Promise<void>;
  /** Pays `sats` to epoch 0's P2WSH script with a deposit OP_RETURN for `recipient`; returns the txid (not mined). */
  deposit(recipient: string, sats: bigint): Promise<string>;
  mine(n: number): Promise<void>;
  balance(addr: string): Promise<bigint>;
  /**
   * Makes node i's directory a data directory `fednode start` can run from (child-process
   * tests): config.toml (HTTP on `httpPort`), genesis.json, light keystores `validator` and
   * `operator` with a password file. Returns the config path.
   */
  writeDataDir(i: number, httpPort: number): Promise<string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `fn` every `intervalMs` until it returns a truthy value or the time is up (bounded). */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs: number, what: string, intervalMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const n = opts.validators;
  const log = opts.logger ?? silentLogger();
  const btcDir = opts.bitcoinChild === true ? await mkdtemp(join(tmpdir(), 'fednode-e2e-bcoin-')) : undefined;
  const [chain, btc] = await Promise.all([startDevChain({ accounts: n + 2 }), btcDir !== undefined ? spawnBcoinRegtest({ dataDir: btcDir }) : startBcoinRegtest()] as const);
  const cleanups: Array<() => Promise<void>> = [
    async () => btc.stop(),
    async () => chain.stop(),
    async () => (btcDir !== undefined ? rm(btcDir, { recursive: true, force: true }) : undefined),
  ];
  try {
    const provider = createProvider(chain.rpcUrl, chain.chainId);
    cleanups.unshift(async () => provider.destroy());
    // Home time moves on without traffic (the home view's freshness is judged by block time).
    await provider.send('evm_setIntervalMining', [1000]);
    const faucet = new RegtestFaucet(btc.rpc, btc.network, getBytes(keccak256(toUtf8Bytes('e2e-faucet'))));
    await faucet.bootstrap();

    const nodes: HarnessNode[] = [];
    for (let i = 0; i < n; i++) {
      const signingKey = keccak256(toUtf8Bytes(`e2e-validator-${i}`));
      const dir = await mkdtemp(join(tmpdir(), `fednode-e2e-${i}-`));
      // In the data directory, so a child-process node has the identity the registry knows.
      const networkKey = await loadOrCreateNetworkKey(dir);
      nodes.push({
        index: i,
        signingKey,
        address: new Wallet(signingKey).address.toLowerCase(),
        operator: new Wallet(chain.accounts[i + 1]!),
        networkKey,
        peerId: peerIdFromPrivateKey(networkKey).toString(),
        port: await freePort(),
        dir,
        config: undefined as unknown as FednodeConfig,
        db: undefined,
        validator: undefined,
        metrics: createMetrics({ defaultMetrics: false }),
        health: new Health(),
      });
    }
    cleanups.unshift(async () => {
      for (const x of nodes) await rm(x.dir, { recursive: true, force: true });
    });
    const deployed = await deployFederation({
      deployer: new Wallet(chain.accounts[0]!, provider),
      provider,
      bitcoin: { rpc: btc.rpc, faucet },
      validators: nodes.map((x) => ({ signingKey: x.signingKey, operatorKey: x.operator.privateKey, peerId: x.peerId })),
      // bcoin's regtest bootstrap mines hundreds of blocks at once, so block times (and the MTP)
      // run ahead of the wall clock by minutes; a wide margin keeps the home view "not behind".
      registryParams: { activationMarginSec: 3_600 },
    });
    const k = opts.confirmations ?? 2;
    for (const x of nodes) {
      const extra = opts.config?.(x.index) ?? {};
      x.config = configSchema.parse({
        network: deployed.genesis.network,
        dataDir: x.dir,
        bitcoin: { network: 'regtest', rpcUrl: btc.rpcUrl, rpcUser: 'x', rpcPassword: btc.apiKey, confirmations: k, pollIntervalMs: opts.bitcoinPollMs ?? 50, bech32Prefix: 'rb', ...(extra.bitcoin as object) },
        ethereum: { rpcUrls: [chain.rpcUrl], chainId: chain.chainId, confirmations: 1, pollIntervalMs: 250, contracts: deployed.genesis.contracts, ...(extra.ethereum as object) },
        p2p: {
          listen: [`/ip4/127.0.0.1/tcp/${x.port}`],
          bootstrap: nodes.filter((y) => y !== x).map((y) => `/ip4/127.0.0.1/tcp/${y.port}/p2p/${y.peerId}`),
          ...(extra.p2p as object),
        },
        validator: {
          homePollIntervalMs: 1_000,
          tickIntervalMs: opts.tickIntervalMs ?? 20,
          collectAfterQuorumMs: opts.collectAfterQuorumMs ?? 100,
          takeoverTimeoutMs: opts.takeoverTimeoutMs ?? 3_000,
          regossipIntervalMs: 500,
          relayRetryMs: 300,
          heartbeatIntervalMs: 500,
          ...(extra.validator as object),
        },
      });
    }

    const h: Harness = {
      chain,
      provider,
      btc,
      faucet,
      deployed,
      nodes,
      btct: new Contract(deployed.addresses.btct, loadArtifact('BTCT').abi, provider),
      bmv: new Contract(deployed.addresses.bmv, loadArtifact('BtpMessageVerifier').abi, provider),
      async startNode(i, over = {}) {
        const x = nodes[i]!;
        if (x.validator !== undefined) return;
        x.db = await openDatabase(x.dir, { log });
        x.health = new Health();
        x.validator = createValidator({
          config: x.config,
          genesis: deployed.genesis,
          signingKey: getBytes(x.signingKey),
          networkKey: x.networkKey,
          operator: x.operator,
          db: x.db,
          log: log.child({ validator: i }),
          metrics: x.metrics,
          health: x.health,
          bitcoinRpc: over.bitcoinRpc ?? btc.rpc,
          p2p: opts.p2p ?? FAST_P2P,
          ...(over.onEvidence !== undefined ? { onEvidence: over.onEvidence } : {}),
          ...((over.duties ?? opts.duties) !== undefined ? { duties: over.duties ?? opts.duties } : {}),
        });
        await x.validator.start();
      },
      async stopNode(i) {
        const x = nodes[i]!;
        await x.validator?.stop();
        await x.db?.close();
        x.validator = undefined;
        x.db = undefined;
        // Metric names are registered once per factory: a restarted node gets a fresh one.
        x.metrics = createMetrics({ defaultMetrics: false });
      },
      async deposit(recipient, sats) {
        const sent = await faucet.send([
          { script: encodeDepositOpReturn({ recipient: getBytes(recipient) }), valueSats: 0n },
          { script: deployed.epoch0Script.p2wshOutput, valueSats: sats },
        ]);
        return sent.txid;
      },
      async mine(blocks) {
        await faucet.mine(blocks);
      },
      async balance(addr) {
        return (await h.btct.getFunction('balanceOf')(addr)) as bigint;
      },
      async writeDataDir(i, httpPort) {
        const x = nodes[i]!;
        const password = 'e2e-password';
        await writeFile(join(x.dir, 'password'), `${password}\n`, { mode: 0o600 });
        const keys = KeystoreDir.forDataDir(x.dir);
        await keys.create('validator', getBytes(x.signingKey), password, { light: true });
        await keys.create('operator', getBytes(x.operator.privateKey), password, { light: true });
        await writeFile(join(x.dir, 'genesis.json'), deployed.genesisJson);
        const cfg = JSON.parse(JSON.stringify({
          ...x.config,
          dataDir: '.',
          genesisFile: 'genesis.json',
          log: { level: 'info', format: 'json' },
          http: { host: '127.0.0.1', port: httpPort },
          keys: { signingKey: 'validator', passwordFile: join(x.dir, 'password') },
          ethereum: { ...x.config.ethereum, operatorKey: 'operator' },
        })) as Record<string, unknown>;
        const path = join(x.dir, 'config.toml');
        await writeFile(path, toToml(cfg));
        return path;
      },
      async stop() {
        await Promise.allSettled(nodes.map((_, i) => h.stopNode(i)));
        for (const c of cleanups) await c().catch(() => undefined);
      },
    };
    cleanups.unshift(async () => {
      await Promise.allSettled(nodes.map((_, i) => h.stopNode(i)));
    });
    return h;
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
}

/**
 * `fednode devnet`: a whole federation on this machine. Starts a Hardhat EVM node and bcoin
 * regtest, deploys the contracts ({@link deployFederation}), writes N validator data directories
 * (encrypted keys, config.toml, genesis.json), starts the validators, mines a Bitcoin block every
 * interval and shows a live status table until stopped. Every process it starts is stopped by
 * {@link RunningDevnet.stop} (Ctrl-C in the CLI).
 *
 * Resume: Hardhat keeps its state in memory only, so a restart cannot continue the old EVM chain.
 * A second start therefore keeps every key and identity (keystores, passwords, network keys, so
 * the same addresses and peer ids) and re-creates both chains, redeploys and wipes the nodes'
 * chain-dependent state (database, sign-log). `--reset` also forgets the keys.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Wallet, getBytes, hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { address as btcAddress } from 'bitcoinjs-lib';
import { stringify as toToml } from 'smol-toml';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { RegtestFaucet } from '../../chains/bitcoin/regtest/faucet.js';
import { spawnBcoinRegtest, type BcoinChild } from '../../chains/bitcoin/regtest/child.js';
import { startDevChain, type DevChain } from '../../chains/ethereum/devchain.js';
import { createProvider } from '../../chains/ethereum/provider.js';
import { BridgeError } from '../../errors.js';
import { KeystoreDir, generatePrivateKey } from '../keystore/keystore.js';
import { loadOrCreateNetworkKey } from '../p2p/network-key.js';
import { deployFederation, type DeployedFederation } from './deploy.js';
import { DevnetLayout, NODE_KEEP, devnetPorts, devnetStateSchema, type DevnetPorts, type DevnetState } from './layout.js';
import { assertPortsFree, pollUntil, spawnFednode, type ManagedChild } from './processes.js';
import { Progress } from './progress.js';
import { LiveBlock, fetchStatus, renderStatus } from './status.js';
import { DemoWallet } from './wallet.js';

export interface DevnetOptions {
  dir: string;
  validators: number;
  reset: boolean;
  /** Seconds between mined Bitcoin blocks. */
  blockIntervalSec: number;
  /** Moves every port (see {@link devnetPorts}); default: the fixed well-known ports. */
  basePort: number | undefined;
  /** Human progress. */
  out: NodeJS.WritableStream;
  /** Seconds to wait for each validator's HTTP endpoint. */
  nodeStartTimeoutSec: number;
}

export const DEVNET_DEFAULTS = {
  dir: './.devnet',
  validators: 4,
  blockIntervalSec: 2,
  nodeStartTimeoutSec: 60,
  /** The most validators a devnet starts (each is a ~110 MiB node process). */
  maxValidators: 16,
  /** Coins the demo's Bitcoin user gets at start. */
  demoCoins: 10,
  demoCoinSats: 100_000_000n,
} as const;

export const DEVNET_CHAIN_ID = 31337;
const FAUCET_SEED = 'fednode-devnet-faucet';
const USER_A_SEED = 'fednode-devnet-user-a';

export interface RunningDevnet {
  readonly state: DevnetState;
  readonly layout: DevnetLayout;
  readonly deployed: DeployedFederation;
  readonly nodes: readonly ManagedChild[];
  /** Current heights and every node's /status, rendered. */
  statusLines(): Promise<string[]>;
  /** Draws the status table every `intervalMs` until stop(); in place on a terminal. */
  showStatus(out: NodeJS.WritableStream, tty: boolean, intervalMs?: number): void;
  /** Stops the miner, the validators, bcoin and the EVM node; idempotent. */
  stop(): Promise<void>;
  /** Resolves when stop() begins, or when a validator exits unexpectedly (with its name). */
  readonly failed: Promise<string>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Refuses to start over a running devnet (same directory). */
async function assertNotRunning(layout: DevnetLayout): Promise<void> {
  if (!existsSync(layout.stateFile)) return;
  try {
    const prev = JSON.parse(await readFile(layout.stateFile, 'utf8')) as { pid?: number };
    if (typeof prev.pid === 'number' && prev.pid !== process.pid && pidAlive(prev.pid)) {
      throw new BridgeError({ code: 'DEVNET_RUNNING', pid: prev.pid, message: `a devnet is already running from ${layout.dir} (pid ${prev.pid}); stop it first (Ctrl-C in its terminal, or kill ${prev.pid})` });
    }
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    // An unreadable state file is replaced below.
  }
}

/** Deletes a node directory's chain-dependent files, keeping keys and identity. */
async function wipeNodeState(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (!NODE_KEEP.has(name)) await rm(join(dir, name), { recursive: true, force: true });
}

interface NodeKeys {
  signingKey: string;
  address: string;
  operatorKey: string;
  operator: string;
  peerId: string;
}

/** Creates (first start) or reads (resume) validator i's keys: light scrypt keystores, password file, network key. */
async function ensureNodeKeys(layout: DevnetLayout, i: number, operatorKey: string): Promise<NodeKeys> {
  const dir = layout.nodeDir(i);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pwFile = layout.nodePasswordFile(i);
  if (!existsSync(pwFile)) await writeFile(pwFile, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  const password = (await readFile(pwFile, 'utf8')).split(/\r?\n/)[0]!;
  const keys = KeystoreDir.forDataDir(dir);
  let signingKey: Uint8Array | undefined;
  if (!existsSync(keys.pathOf('validator'))) {
    signingKey = generatePrivateKey();
    await keys.create('validator', signingKey, password, { light: true });
  }
  const operator = new Wallet(operatorKey).address;
  if (!existsSync(keys.pathOf('operator'))) await keys.create('operator', getBytes(operatorKey), password, { light: true });
  else if ((await keys.describe('operator')).address !== operator) {
    throw new BridgeError({ code: 'DEVNET_OPERATOR_MISMATCH', message: `${keys.pathOf('operator')} is not dev account ${operator}: run fednode devnet --reset` });
  }
  signingKey ??= (await keys.unlock('validator', password)).privateKey;
  const netKey = await loadOrCreateNetworkKey(dir);
  return { signingKey: hexlify(signingKey), address: new Wallet(hexlify(signingKey)).address, operatorKey, operator, peerId: peerIdFromPrivateKey(netKey).toString() };
}

function nodeConfig(i: number, n: number, layout: DevnetLayout, ports: DevnetPorts, peers: readonly string[], dep: DeployedFederation, evmUrl: string, btcUrl: string): string {
  const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i - 1);
  const contracts: Record<string, string> = { ...dep.addresses };
  return `# Written by fednode devnet for validator v${i}; rewritten at every devnet start.\n${toToml({
    network: dep.genesis.network,
    dataDir: '.',
    genesisFile: 'genesis.json',
    log: { level: 'info', format: 'json' },
    http: { host: '127.0.0.1', port: ports.http[i - 1]! },
    keys: { signingKey: 'validator', passwordFile: layout.nodePasswordFile(i) },
    bitcoin: { network: 'regtest', rpcUrl: btcUrl, confirmations: 1, pollIntervalMs: 250, bech32Prefix: 'rb' },
    ethereum: { rpcUrls: [evmUrl], chainId: DEVNET_CHAIN_ID, confirmations: 1, pollIntervalMs: 250, operatorKey: 'operator', contracts },
    // Faster than the defaults (2 s home poll, 15 s takeover): the devnet is about quick feedback.
    validator: { homePollIntervalMs: 500, collectAfterQuorumMs: 100, takeoverTimeoutMs: 5_000 },
    p2p: { listen: [`/ip4/127.0.0.1/tcp/${ports.p2p[i - 1]!}`], bootstrap: others.map((j) => `/ip4/127.0.0.1/tcp/${ports.p2p[j]!}/p2p/${peers[j]!}`), observers: [] },
    btp: { srcNetworkUid: dep.genesis.srcNetworkUid, networkTypeId: dep.genesis.networkTypeId, networkId: dep.genesis.networkId },
  })}\n`;
}

export async function startDevnet(opts: DevnetOptions): Promise<RunningDevnet> {
  const n = opts.validators;
  if (!Number.isInteger(n) || n < 1 || n > DEVNET_DEFAULTS.maxValidators) {
    throw new BridgeError({ code: 'DEVNET_BAD_VALIDATORS', message: `--validators must be between 1 and ${DEVNET_DEFAULTS.maxValidators}, got ${n}` });
  }
  if (!(opts.blockIntervalSec > 0)) throw new BridgeError({ code: 'DEVNET_BAD_INTERVAL', message: `--block-interval must be a positive number of seconds, got ${opts.blockIntervalSec}` });
  const p = new Progress(opts.out);
  const layout = new DevnetLayout(opts.dir);
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  await assertNotRunning(layout);
  const ports = devnetPorts(n, opts.basePort);
  await assertPortsFree([
    { port: ports.evm, what: 'EVM node' },
    { port: ports.bitcoin, what: 'bitcoin regtest RPC' },
    ...ports.http.map((port, i) => ({ port, what: `v${i + 1} HTTP` })),
    ...ports.p2p.map((port, i) => ({ port, what: `v${i + 1} p2p` })),
  ]);

  if (opts.reset) {
    await p.step(`resetting ${layout.dir}`, async () => {
      for (const name of await readdir(layout.dir)) await rm(join(layout.dir, name), { recursive: true, force: true });
    });
  } else if (existsSync(layout.nodesDir)) {
    p.line(`resuming from ${layout.dir}: keys and peer ids are kept; the EVM node cannot persist its state, so both chains start afresh and the contracts are redeployed (node databases and sign-logs are wiped)`);
  }
  // Both chains start from scratch (see the module comment): old chain data is meaningless.
  await rm(layout.bitcoinDir, { recursive: true, force: true });
  await mkdir(layout.logsDir, { recursive: true });
  await mkdir(layout.nodesDir, { recursive: true });

  const cleanups: Array<() => Promise<void>> = [];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const chain: DevChain = await p.step(`starting EVM node (hardhat, 127.0.0.1:${ports.evm})`, () => startDevChain({ port: ports.evm, accounts: n + 3, chainId: DEVNET_CHAIN_ID }));
    cleanups.push(() => chain.stop());
    const provider = createProvider(chain.rpcUrl, chain.chainId, { pollingIntervalMs: 100 });
    cleanups.push(async () => provider.destroy());
    // Automine for transactions plus an empty block every second, so home time moves on.
    await provider.send('evm_setIntervalMining', [1000]);

    const btc: BcoinChild = await p.step(`starting bitcoin regtest (bcoin, 127.0.0.1:${ports.bitcoin})`, () =>
      spawnBcoinRegtest({ dataDir: layout.bitcoinDir, rpcPort: ports.bitcoin, noAuth: true, logLevel: 'error' }),
    );
    cleanups.push(() => btc.stop());
    const faucet = new RegtestFaucet(btc.rpc, btc.network, getBytes(keccak256(toUtf8Bytes(FAUCET_SEED))));
    await p.step('mining to segwit activation (452 blocks)', () => faucet.bootstrap());

    const keys: NodeKeys[] = [];
    await p.step(`preparing ${n} validator key${n === 1 ? '' : 's'} (light scrypt keystores, password files, network keys)`, async () => {
      for (let i = 1; i <= n; i++) {
        keys.push(await ensureNodeKeys(layout, i, chain.accounts[i]!));
        await wipeNodeState(layout.nodeDir(i));
      }
    });

    // The demo's Bitcoin user, funded before the federation exists (its coins are not deposits).
    const userAKey = getBytes(keccak256(toUtf8Bytes(USER_A_SEED)));
    const userB = new Wallet(chain.accounts[n + 1]!);
    const userA = await p.step(`funding the demo's bitcoin user (${DEVNET_DEFAULTS.demoCoins} × ${Number(DEVNET_DEFAULTS.demoCoinSats) / 1e8} BTC)`, async () => {
      const w = new DemoWallet(btc.rpc, btc.network, userAKey);
      const sent = await faucet.send(Array.from({ length: DEVNET_DEFAULTS.demoCoins }, () => ({ script: w.outputScript, valueSats: DEVNET_DEFAULTS.demoCoinSats })));
      await faucet.mine(1);
      return { address: w.address, coins: sent.outputs.filter((o) => o.valueSats === DEVNET_DEFAULTS.demoCoinSats).map((o) => ({ txid: o.txid, vout: o.vout, valueSats: o.valueSats.toString() })) };
    });

    const deployed = await p.step('deploying the federation (registry, stakes, epoch 0, reserve, BMC/BMV/BSH/BTCT)', () =>
      deployFederation({
        deployer: new Wallet(chain.accounts[0]!, provider),
        provider,
        bitcoin: { rpc: btc.rpc, faucet },
        validators: keys.map((k) => ({ signingKey: k.signingKey, operatorKey: k.operatorKey, peerId: k.peerId })),
      }),
    (d) => `staking ${d.addresses.staking}, bsh ${d.addresses.bsh}, btct ${d.addresses.btct}`);

    const btcUrl = `http://127.0.0.1:${ports.bitcoin}`;
    await writeFile(layout.genesisFile, deployed.genesisJson);
    for (let i = 1; i <= n; i++) {
      await writeFile(join(layout.nodeDir(i), 'genesis.json'), deployed.genesisJson);
      await writeFile(layout.nodeConfig(i), nodeConfig(i, n, layout, ports, keys.map((k) => k.peerId), deployed, chain.rpcUrl, btcUrl), { mode: 0o600 });
    }
    const state: DevnetState = devnetStateSchema.parse({
      format: 'fednode-devnet',
      version: 1,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      validators: n,
      ports,
      evm: { rpcUrl: chain.rpcUrl, chainId: chain.chainId },
      bitcoin: { rpcUrl: btcUrl, network: 'regtest' },
      contracts: deployed.addresses,
      federation: { address: btcAddress.fromOutputScript(deployed.epoch0Script.p2wshOutput, btc.network), script: hexlify(deployed.epoch0Script.p2wshOutput) },
      nodes: keys.map((k, j) => ({ index: j + 1, address: k.address, operator: k.operator, peerId: k.peerId, httpUrl: `http://127.0.0.1:${ports.http[j]!}` })),
      demo: { userA: { privateKey: hexlify(userAKey), ...userA }, userB: { privateKey: userB.privateKey, address: userB.address } },
    });
    await writeFile(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });

    // Validators.
    const nodes: ManagedChild[] = [];
    cleanups.push(async () => { await Promise.all(nodes.map((c) => c.stop())); });
    for (let i = 1; i <= n; i++) nodes.push(spawnFednode(`v${i}`, ['start', '--config', layout.nodeConfig(i)], layout.nodeLog(i)));
    await p.step(`starting ${n} validators (logs in ${layout.logsDir})`, async () => {
      await Promise.all(nodes.map((c, j) => pollUntil(async () => {
        if (c.exitCode() !== 'running') {
          throw new BridgeError({ code: 'DEVNET_NODE_EXITED', message: `validator ${c.name} exited (code ${String(c.exitCode())}) while starting; see ${layout.nodeLog(j + 1)}` });
        }
        return (await fetchStatus(state.nodes[j]!.httpUrl)) !== undefined ? true : undefined;
      }, { timeoutMs: opts.nodeStartTimeoutSec * 1000, intervalMs: 250, what: `validator ${c.name}'s HTTP endpoint ${state.nodes[j]!.httpUrl} (see ${layout.nodeLog(j + 1)})` })));
    });

    // The miner: one Bitcoin block per interval, never two calls at once.
    let mining = false;
    const miner = setInterval(() => {
      if (mining) return;
      mining = true;
      faucet.mine(1).catch(() => undefined).finally(() => { mining = false; });
    }, opts.blockIntervalSec * 1000);
    cleanups.push(async () => clearInterval(miner));

    let stopped = false;
    let statusTimer: NodeJS.Timeout | undefined;
    let signalFailed: (why: string) => void = () => undefined;
    const failed = new Promise<string>((res) => { signalFailed = res; });
    for (const c of nodes) void c.exited.then(() => { if (!stopped) signalFailed(`validator ${c.name} exited (code ${String(c.exitCode())}); see ${layout.logsDir}/${c.name}.log`); });

    const statusLines = async (): Promise<string[]> => {
      const [bitcoin, evm, statuses] = await Promise.all([
        btc.rpc.getBlockCount().catch(() => undefined),
        provider.getBlockNumber().catch(() => undefined),
        Promise.all(state.nodes.map((nd) => fetchStatus(nd.httpUrl))),
      ]);
      return renderStatus({ bitcoin, evm }, nodes.map((c, j) => ({ name: c.name, process: c.exitCode() === 'running' ? 'running' : `exited (${String(c.exitCode())})`, status: statuses[j] })));
    };

    return {
      state,
      layout,
      deployed,
      nodes,
      failed,
      statusLines,
      showStatus(out, tty, intervalMs = tty ? 1_000 : 15_000): void {
        const block = new LiveBlock(out, tty);
        let busy = false;
        const tick = (): void => {
          if (busy || stopped) return;
          busy = true;
          statusLines().then((lines) => { if (!stopped) block.draw(lines); }, () => undefined).finally(() => { busy = false; });
        };
        tick();
        statusTimer = setInterval(tick, intervalMs);
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        signalFailed('stopped');
        if (statusTimer) clearInterval(statusTimer);
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

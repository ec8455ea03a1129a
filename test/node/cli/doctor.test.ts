import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, hexlify, type Contract } from 'ethers';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBcoinRegtest, type BcoinRegtestNode } from '../../../src/chains/bitcoin/regtest/bcoin-node.js';
import { deployRegistry, stakeValidator } from '../../../src/chains/ethereum/contracts.js';
import { startDevChain, type DevChain } from '../../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt } from '../../../src/chains/ethereum/provider.js';
import { loadOrCreateNetworkKey } from '../../../src/node/p2p/network-key.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const PW = { FEDNODE_PASSWORD: 'doctor test pw' };

let chain: DevChain;
let btc: BcoinRegtestNode;
let registry: Contract;
let registryAddr: string;
/** Epoch 0's only validator: its signing key and a data directory holding its registered network key. */
const member = { key: Wallet.createRandom().privateKey, dir: mkdtempSync(join(tmpdir(), 'fednode-doctor-member-')) };

beforeAll(async () => {
  [chain, btc] = await Promise.all([startDevChain(), startBcoinRegtest({ noAuth: true })]);
  const provider = createProvider(chain.rpcUrl, chain.chainId);
  const admin = new Wallet(chain.accounts[0]!, provider);
  registry = await deployRegistry(admin, provider, admin.address);
  registryAddr = await registry.getAddress();
  const peerId = peerIdFromPrivateKey(await loadOrCreateNetworkKey(member.dir));
  await stakeValidator(registry, provider, { operator: new Wallet(chain.accounts[2]!, provider), signingKey: member.key, peerId: hexlify(peerId.toMultihash().bytes), amountWei: 10n ** 18n });
  await waitReceipt(provider, await registry.getFunction('bootstrap')());
});

afterAll(async () => {
  rmSync(member.dir, { recursive: true, force: true });
  await Promise.all([chain?.stop(), btc?.stop?.()]);
});

/** A data directory with a keystore holding `signingKey` and a config pointing at the test chains. */
async function prepare(dir: string, signingKey: string, overrides: Record<string, string> = {}): Promise<void> {
  const keyFile = join(dir, 'k.hex');
  writeFileSync(keyFile, signingKey);
  expect((await runCli(['--datadir', dir, 'keys', 'import', '--hex-file', keyFile, '--light'], { env: PW })).code).toBe(0);
  const cfg = {
    'bitcoin.rpcUrl': btc.rpcUrl,
    'ethereum.rpcUrls': chain.rpcUrl,
    'ethereum.chainId': String(chain.chainId),
    // Only code presence is checked per address: the registry stands in for all five.
    'ethereum.contracts.staking': registryAddr,
    'ethereum.contracts.bmc': registryAddr,
    'ethereum.contracts.bmv': registryAddr,
    'ethereum.contracts.bsh': registryAddr,
    'ethereum.contracts.btct': registryAddr,
    'http.port': '1',
    ...overrides,
  };
  const toml = Object.entries(cfg)
    .map(([k, v]) => `${k} = ${k === 'ethereum.rpcUrls' ? `["${v}"]` : /^\d+$/.test(v) ? v : `"${v}"`}`)
    .join('\n');
  writeFileSync(join(dir, 'config.toml'), `dataDir = "."\n${toml}\n`);
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesis(chain.chainId)));
}

/** A genesis naming the test chain; every contract is the registry (as in the config). */
function genesis(chainId: number): unknown {
  const c = registryAddr.toLowerCase();
  return {
    format: 'fednode-genesis', version: 1, network: 'devnet', chainId,
    contracts: { staking: c, bmc: c, bmv: c, bsh: c, btct: c },
    srcNetworkUid: '0x10.btc', networkTypeId: 2, networkId: 1, srcBtpAddress: 'btp://0x10.btc/federation', dstBtpAddress: `btp://0x7a69.eth/${c}`,
    firstBlockHeader: '0x00', bitcoin: { network: 'regtest', startHeight: 1, reserve: null }, epoch0: { validators: [c], threshold: 1 },
  };
}

function line(stdout: string, name: string): string {
  return stdout.split('\n').find((l) => new RegExp(`^\\S+\\s+${name}\\s`).test(l)) ?? `(no "${name}" line in)\n${stdout}`;
}

describe('fednode doctor (child process, real EVM and bcoin regtest)', () => {
  it('passes for a registered, staked key on the right chains', async () => {
    await withTempDir(async (dir) => {
      const signing = Wallet.createRandom();
      const operator = new Wallet(chain.accounts[1]!, createProvider(chain.rpcUrl, chain.chainId));
      await stakeValidator(registry, createProvider(chain.rpcUrl, chain.chainId), { operator, signingKey: signing.privateKey, peerId: '0x0024080112', amountWei: 10n ** 18n });
      await prepare(dir, signing.privateKey);
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.stdout).toContain('all checks passed');
      expect(res.code).toBe(0);
      expect(line(res.stdout, 'bitcoin rpc')).toMatch(/^ok\s+bitcoin rpc\s+.*chain regtest/);
      expect(line(res.stdout, 'registration')).toContain(`${signing.address} registered and staked`);
      expect(line(res.stdout, 'clock')).toMatch(/^ok/);
      expect(line(res.stdout, 'genesis')).toMatch(/^ok\s+genesis\s+.*genesis\.json: chain 31337, epoch 0 of 1 validators/);
      expect(line(res.stdout, 'validator set')).toMatch(new RegExp(`^WARN\\s+validator set\\s+${signing.address} is not in the set of epoch 0`));
      expect(line(res.stdout, 'peer id')).toMatch(/^WARN\s+peer id\s+no network key at/);
    });
  });

  it('reports an active validator whose peer id matches, and a peer id that does not', async () => {
    await withTempDir(async (dir) => {
      await prepare(dir, member.key);
      const signer = new Wallet(member.key).address;
      // Same network key as registered: copy the member's.
      copyFileSync(join(member.dir, 'p2p-network-key'), join(dir, 'p2p-network-key'));
      chmodSync(join(dir, 'p2p-network-key'), 0o600);
      const ok = await runCli(['--datadir', dir, 'doctor']);
      expect(line(ok.stdout, 'validator set')).toMatch(new RegExp(`^ok\\s+validator set\\s+${signer} is in the active set of epoch 0`));
      expect(line(ok.stdout, 'peer id')).toMatch(/^ok\s+peer id\s+12D3Koo\w+ \(registered\)/);
      expect(ok.code, ok.stdout).toBe(0);

      rmSync(join(dir, 'p2p-network-key'));
      const other = peerIdFromPrivateKey(await loadOrCreateNetworkKey(dir)).toString();
      const bad = await runCli(['--datadir', dir, 'doctor']);
      expect(bad.code).toBe(1);
      expect(line(bad.stdout, 'peer id')).toContain(`this node's peer id ${other} (${join(dir, 'p2p-network-key')}) is not the one registered for ${signer}`);
    });
  });

  it('fails when the genesis file does not match the config', async () => {
    await withTempDir(async (dir) => {
      await prepare(dir, Wallet.createRandom().privateKey);
      writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesis(5)));
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.code).toBe(1);
      expect(line(res.stdout, 'genesis')).toContain('does not match the config: chain id 5 ≠ ethereum.chainId 31337');
      rmSync(join(dir, 'genesis.json'));
      const missing = await runCli(['--datadir', dir, 'doctor']);
      expect(line(missing.stdout, 'genesis')).toMatch(/^FAIL\s+genesis\s+cannot read genesis file .*genesis\.json/);
    });
  });

  it('fails with a specific message for an unregistered key', async () => {
    await withTempDir(async (dir) => {
      const signing = Wallet.createRandom();
      await prepare(dir, signing.privateKey);
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.code).toBe(1);
      expect(line(res.stdout, 'registration').replace(/\s+/g, ' ')).toBe(
        `FAIL registration signing key ${signing.address} is not registered on the staking contract ${registryAddr} (stake with "fednode join")`,
      );
    });
  });

  it('fails with a specific message for a wrong chain id', async () => {
    await withTempDir(async (dir) => {
      await prepare(dir, Wallet.createRandom().privateKey, { 'ethereum.chainId': '5' });
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.code).toBe(1);
      expect(line(res.stdout, 'ethereum rpc')).toContain(`wrong chain id at ${chain.rpcUrl}: expected 5 (ethereum.chainId), got ${chain.chainId}`);
    });
  });

  it('fails with a specific message for a wrong RPC URL', async () => {
    await withTempDir(async (dir) => {
      // Port 1 on loopback: nothing listens there.
      await prepare(dir, Wallet.createRandom().privateKey, { 'bitcoin.rpcUrl': 'http://127.0.0.1:1', 'ethereum.rpcUrls': 'http://127.0.0.1:1' });
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.code).toBe(1);
      expect(line(res.stdout, 'bitcoin rpc')).toMatch(/^FAIL\s+bitcoin rpc\s+cannot reach bitcoin\.rpcUrl http:\/\/127\.0\.0\.1:1/);
      expect(line(res.stdout, 'ethereum rpc')).toMatch(/^FAIL\s+ethereum rpc\s+cannot reach http:\/\/127\.0\.0\.1:1/);
      expect(line(res.stdout, 'contract bsh')).toMatch(/^skip/);
    });
  });

  it('fails when a configured address has no contract', async () => {
    await withTempDir(async (dir) => {
      const empty = Wallet.createRandom().address;
      await prepare(dir, Wallet.createRandom().privateKey, { 'ethereum.contracts.bsh': empty });
      const res = await runCli(['--datadir', dir, 'doctor']);
      expect(res.code).toBe(1);
      expect(line(res.stdout, 'contract bsh')).toContain(`no contract at ${empty} (ethereum.contracts.bsh): wrong address or wrong chain?`);
    });
  });
});

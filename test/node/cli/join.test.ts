import { Contract, Wallet, hexlify, parseEther } from 'ethers';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployRegistry, stakeValidator } from '../../../src/chains/ethereum/contracts.js';
import { startDevChain, type DevChain } from '../../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt } from '../../../src/chains/ethereum/provider.js';
import { loadOrCreateNetworkKey } from '../../../src/node/p2p/network-key.js';
import { runCli, withTempDir } from '../../helpers/cli.js';
import { writeOperatorNode } from './operator-node.js';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const PW = 'join test pw';
const PARAMS = { minStakeWei: parseEther('1'), unbondingPeriodSec: 600, maxActive: 10, maxChurn: 4, activationMarginSec: 30, epochDurationSec: 120 };

let chain: DevChain;
let provider: ReturnType<typeof createProvider>;
let admin: Wallet;
let registry: Contract;
let registryAddr: string;

beforeAll(async () => {
  chain = await startDevChain({ accounts: 6 });
  provider = createProvider(chain.rpcUrl, chain.chainId);
  admin = new Wallet(chain.accounts[0]!, provider);
  registry = await deployRegistry(admin, provider, admin.address, PARAMS);
  registryAddr = await registry.getAddress();
  // Epoch 0 = one other validator; the admin stands in for the BMV so the test can activate epochs.
  await stakeValidator(registry, provider, { operator: new Wallet(chain.accounts[1]!, provider), signingKey: Wallet.createRandom().privateKey, peerId: '0x00', amountWei: parseEther('1') });
  await waitReceipt(provider, await registry.getFunction('bootstrap')());
  await waitReceipt(provider, await registry.getFunction('setVerifier')(admin.address));
});

afterAll(async () => {
  provider?.destroy();
  await chain?.stop();
});

function node(dir: string, operatorKey: string): Promise<{ signer: string; cfg: string }> {
  return writeOperatorNode(dir, { operatorKey, password: PW, rpcUrl: chain.rpcUrl, chainId: chain.chainId, registry: registryAddr });
}

describe('fednode join / exit / withdraw-stake (child process, real dev chain)', () => {
  it('joins with proof of possession and the node\'s peer id, exits, and explains why the stake cannot be withdrawn yet', async () => {
    await withTempDir(async (dir) => {
      const { signer, cfg } = await node(dir, chain.accounts[3]!);
      const operator = new Wallet(chain.accounts[3]!).address;

      const confirmNeeded = await runCli(['--config', cfg, 'join', '--no-wait']);
      expect(confirmNeeded.code).toBe(1);
      expect(confirmNeeded.stderr).toContain('not confirmed: run on a terminal to answer, or pass --yes');

      const joined = await runCli(['--config', cfg, 'join', '--yes', '--no-wait']);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.stdout).toContain(`staked 1.0 ETH for validator ${signer}`);
      const [op, stake, , , peerIdBytes] = (await registry.getFunction('validatorInfo')(signer)) as [string, bigint, bigint, string, string];
      expect(op).toBe(operator);
      expect(stake).toBe(parseEther('1'));
      expect(peerIdBytes).toBe(hexlify(peerIdFromPrivateKey(await loadOrCreateNetworkKey(dir)).toMultihash().bytes));

      const exited = await runCli(['--config', cfg, 'exit', '--yes']);
      expect(exited.code, exited.stderr).toBe(0);
      expect(exited.stdout).toMatch(/unbonding started \(tx 0x[0-9a-f]{64}\): the stake can be withdrawn from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(unbonding period 600 s\)/);

      const early = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(new RegExp(`error: validator ${signer} is still unbonding: the stake can be withdrawn from \\S+ \\(in \\d+ s\\)`));
    });
  });

  it('refuses to join when the operator cannot pay stake + gas', async () => {
    await withTempDir(async (dir) => {
      const poor = Wallet.createRandom();
      await waitReceipt(provider, await admin.sendTransaction({ to: poor.address, value: parseEther('0.5') }));
      const { cfg } = await node(dir, poor.privateKey);
      const res = await runCli(['--config', cfg, 'join', '--yes', '--no-wait']);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(new RegExp(`error: operator ${poor.address} has 0\\.5 ETH; joining needs 1\\.0 ETH \\(stake\\) \\+ about [0-9.]+ ETH \\(gas\\): fund it first`));
    });
  });
});

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

async function increaseTime(seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds]);
  await provider.send('evm_mine', []);
}

function node(dir: string, operatorKey: string): Promise<{ signer: string; cfg: string }> {
  return writeOperatorNode(dir, { operatorKey, password: PW, rpcUrl: chain.rpcUrl, chainId: chain.chainId, registry: registryAddr });
}

describe('fednode join / exit / withdraw-stake: the whole lifecycle (child process, real dev chain)', () => {
  it('joins, waits through the freeze, exits, and withdraws only once unbonded and out of every set', async () => {
    await withTempDir(async (dir) => {
      const { signer, cfg } = await node(dir, chain.accounts[2]!);
      const operator = new Wallet(chain.accounts[2]!).address;

      const confirmNeeded = await runCli(['--config', cfg, 'join', '--no-wait']);
      expect(confirmNeeded.code).toBe(1);
      expect(confirmNeeded.stderr).toContain('not confirmed: run on a terminal to answer, or pass --yes');

      const joined = await runCli(['--config', cfg, 'join', '--yes', '--no-wait']);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.stdout).toContain(`staked 1.0 ETH for validator ${signer}`);
      const [op, stake, unbonding, , peerIdBytes] = (await registry.getFunction('validatorInfo')(signer)) as [string, bigint, bigint, string, string];
      expect(op).toBe(operator);
      expect(stake).toBe(parseEther('1'));
      expect(unbonding).toBe(0n);
      const peerId = peerIdFromPrivateKey(await loadOrCreateNetworkKey(dir));
      expect(peerIdBytes).toBe(hexlify(peerId.toMultihash().bytes));

      // Not due yet: reports when, and times out with a clear message.
      const early = await runCli(['--config', cfg, 'join', '--yes', '--freeze', '--timeout', '1']);
      expect(early.code).toBe(1);
      expect(early.stdout).toContain(`validator ${signer} is already registered and staked (1.0 ETH, operator ${operator})`);
      expect(early.stdout).toMatch(/waiting for epoch 1 to be frozen \(due .*, in \d+ s\); this command will freeze it/);
      expect(early.stderr).toContain(`error: validator ${signer} is not in the active set after 1 s`);

      await increaseTime(PARAMS.epochDurationSec);
      const frozen = await runCli(['--config', cfg, 'join', '--yes', '--freeze', '--timeout', '1']);
      expect(frozen.stdout).toMatch(/froze epoch 1 \(tx 0x[0-9a-f]{64}\)/);
      expect(frozen.stdout).toContain(`validator ${signer} is in the frozen set of epoch 1: it becomes active at the first Bitcoin block with median time ≥`);
      expect(frozen.code).toBe(1);
      expect(((await registry.getFunction('epochValidators')(1n)) as string[])).toContain(signer);

      // The federation activates epoch 1 (the admin plays the BMV here).
      await waitReceipt(provider, await registry.getFunction('activateEpoch')(1n, 500n));
      const active = await runCli(['--config', cfg, 'join', '--yes']);
      expect(active.code, active.stderr).toBe(0);
      expect(active.stdout).toContain(`validator ${signer} is in the active set of epoch 1`);

      const notUnbonding = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(notUnbonding.code).toBe(1);
      expect(notUnbonding.stderr).toContain(`error: validator ${signer} is still bonded: run "fednode exit" first`);

      const exited = await runCli(['--config', cfg, 'exit', '--yes']);
      expect(exited.code, exited.stderr).toBe(0);
      expect(exited.stdout).toMatch(/unbonding started \(tx 0x[0-9a-f]{64}\): the stake can be withdrawn from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(unbonding period 600 s\)/);

      const early2 = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(early2.code).toBe(1);
      expect(early2.stderr).toMatch(new RegExp(`error: validator ${signer} is still unbonding: the stake can be withdrawn from \\S+ \\(in \\d+ s\\)`));

      await increaseTime(PARAMS.unbondingPeriodSec + 1);
      const inSet = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(inSet.code).toBe(1);
      expect(inSet.stderr).toContain(`error: validator ${signer} is still in the validator set of epoch 1 (current)`);

      // Epoch 2 is frozen without the unbonding validator and activated: now it may withdraw.
      await waitReceipt(provider, await registry.getFunction('freezeNextEpoch')());
      expect(((await registry.getFunction('epochValidators')(2n)) as string[])).not.toContain(signer);
      await waitReceipt(provider, await registry.getFunction('activateEpoch')(2n, 600n));
      // Its duty for epoch 1's script lasts one more unbonding period from the switch.
      const duty = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(duty.code).toBe(1);
      expect(duty.stderr).toMatch(new RegExp(`error: validator ${signer} is still unbonding: its duty for the last epoch it belonged to ends, and the stake can be withdrawn, from \\S+ \\(in \\d+ s\\)`));
      await increaseTime(PARAMS.unbondingPeriodSec + 1);
      const before = await provider.getBalance(operator);
      const withdrawn = await runCli(['--config', cfg, 'withdraw-stake', '--yes']);
      expect(withdrawn.code, withdrawn.stderr).toBe(0);
      expect(withdrawn.stdout).toContain(`withdrew 1.0 ETH to ${operator}`);
      expect((await provider.getBalance(operator)) - before).toBeGreaterThan(parseEther('0.99'));

      const gone = await runCli(['--config', cfg, 'exit', '--yes']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain(`error: operator ${operator} has no validator on the staking contract ${registryAddr} (join with "fednode join")`);
    });
  });
});

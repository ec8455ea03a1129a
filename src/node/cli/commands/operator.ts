/**
 * Operator flows on the staking contract: `fednode join` (stake with proof of possession and this
 * node's peer id, then follow the epochs until the validator is active), `fednode exit` (start
 * unbonding) and `fednode withdraw-stake` (take the stake back once unbonded and out of every set).
 * Each checks what it can before sending anything and explains what to do next.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { Contract, Wallet, formatEther, hexlify, parseEther, type JsonRpcProvider } from 'ethers';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadArtifact } from '../../../chains/ethereum/artifacts.js';
import { popDigest, publicKey64, signRaw, withDecodedRevert } from '../../../chains/ethereum/contracts.js';
import { createProvider, waitReceipt } from '../../../chains/ethereum/provider.js';
import { BridgeError, isBridgeError } from '../../../errors.js';
import type { EffectiveConfig } from '../../config/load.js';
import { KeystoreDir } from '../../keystore/keystore.js';
import { resolvePassword } from '../../keystore/password.js';
import { loadOrCreateNetworkKey } from '../../p2p/network-key.js';
import { globalsOf, loadEffectiveConfig, writeLine, type CliIo } from '../context.js';

/** Gas budget checked before staking (the stake call uses ~200k; fees vary). */
const STAKE_GAS_BUDGET = 400_000n;
const ZERO = /^0x0{40}$/i;

interface OperatorContext {
  config: EffectiveConfig;
  dataDir: string;
  provider: JsonRpcProvider;
  registry: Contract;
  registryAddress: string;
  operator: Wallet;
}

interface CommonOpts {
  passwordFile?: string;
  operatorPasswordFile?: string;
  yes?: boolean;
}

async function openOperator(cmd: Command, io: CliIo, opts: CommonOpts): Promise<OperatorContext> {
  const loaded = loadEffectiveConfig(globalsOf(cmd), io.env);
  const { config, dataDir } = loaded;
  const registryAddress = config.ethereum.contracts.staking;
  if (registryAddress === undefined) {
    throw new BridgeError({ code: 'OPERATOR_NO_STAKING_CONTRACT', message: 'ethereum.contracts.staking is not configured: set it to the federation\'s staking contract address' });
  }
  const operatorKey = config.ethereum.operatorKey;
  if (operatorKey === undefined) {
    throw new BridgeError({ code: 'OPERATOR_NO_KEY', message: 'ethereum.operatorKey is not configured: import the operator account with "fednode keys import --name operator …" and set ethereum.operatorKey = "operator"' });
  }
  const provider = createProvider(config.ethereum.rpcUrls[0]!, config.ethereum.chainId, { pollingIntervalMs: 250 });
  try {
    let chainId: bigint;
    try {
      chainId = BigInt((await provider.send('eth_chainId', [])) as string);
    } catch (err) {
      throw new BridgeError({ code: 'OPERATOR_RPC_UNREACHABLE', message: `cannot reach the ethereum RPC ${config.ethereum.rpcUrls[0]}: ${(err as Error).message}` });
    }
    if (chainId !== BigInt(config.ethereum.chainId)) {
      throw new BridgeError({ code: 'OPERATOR_WRONG_CHAIN', message: `the ethereum RPC is on chain id ${chainId}, but ethereum.chainId is ${config.ethereum.chainId}` });
    }
    if ((await provider.getCode(registryAddress)) === '0x') {
      throw new BridgeError({ code: 'OPERATOR_NO_CONTRACT', message: `no contract at ethereum.contracts.staking ${registryAddress} on chain ${chainId}` });
    }
    const keys = KeystoreDir.forDataDir(dataDir);
    const password = await resolvePassword(
      { passwordFile: opts.operatorPasswordFile ?? opts.passwordFile ?? config.keys.passwordFile, env: io.env, stdin: io.stdin, stderr: io.stderr },
      { purpose: `operator key "${operatorKey}"` },
    );
    const unlocked = await keys.unlock(operatorKey, password);
    const operator = new Wallet(hexlify(unlocked.privateKey), provider);
    unlocked.privateKey.fill(0);
    const registry = new Contract(registryAddress, loadArtifact('ValidatorRegistry').abi, operator);
    return { config, dataDir, provider, registry, registryAddress, operator };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}

/** Asks y/N on a terminal; without one, --yes is required. */
async function confirm(io: CliIo, opts: CommonOpts, question: string): Promise<void> {
  if (opts.yes) return;
  if (!io.stdin.isTTY) {
    throw new BridgeError({ code: 'CONFIRMATION_REQUIRED', message: `${question} — not confirmed: run on a terminal to answer, or pass --yes` });
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  const answer = await new Promise<string>((res) => rl.question(`${question} [y/N] `, res));
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new BridgeError({ code: 'ABORTED', message: 'aborted: nothing was sent' });
}

const call = async <T>(c: Contract, fn: string, ...args: unknown[]): Promise<T> => (await c.getFunction(fn).staticCall(...args)) as T;

async function send(ctx: OperatorContext, fn: string, args: unknown[], overrides: { value?: bigint } = {}): Promise<string> {
  const receipt = await withDecodedRevert(async () => waitReceipt(ctx.provider, await ctx.registry.getFunction(fn)(...args, overrides)));
  return receipt.hash;
}

interface ValidatorRecord {
  operator: string;
  stake: bigint;
  unbondingSince: bigint;
}

async function validatorInfo(registry: Contract, signer: string): Promise<ValidatorRecord> {
  const [operator, stake, unbondingSince] = await call<[string, bigint, bigint]>(registry, 'validatorInfo', signer);
  return { operator, stake, unbondingSince };
}

async function inSet(registry: Contract, epoch: bigint, signer: string): Promise<boolean> {
  const set = await call<string[]>(registry, 'epochValidators', epoch);
  return set.some((a) => a.toLowerCase() === signer.toLowerCase());
}

const when = (unix: bigint): string => new Date(Number(unix) * 1000).toISOString().replace('.000Z', 'Z');

async function chainNow(provider: JsonRpcProvider): Promise<bigint> {
  return BigInt((await provider.getBlock('latest'))!.timestamp);
}

/** The signer (validator address) whose operator is this account, or a clear error. */
async function ownSigner(ctx: OperatorContext): Promise<string> {
  const signer = await call<string>(ctx.registry, 'signerOf', ctx.operator.address);
  if (ZERO.test(signer)) {
    throw new BridgeError({ code: 'OPERATOR_NOT_REGISTERED', message: `operator ${ctx.operator.address} has no validator on the staking contract ${ctx.registryAddress} (join with "fednode join")` });
  }
  return signer;
}

export function registerOperatorCommands(program: Command, io: CliIo): void {
  const common = (c: Command): Command =>
    c
      .option('--password-file <file>', 'password of the keystores (default keys.passwordFile, FEDNODE_PASSWORD or a prompt)')
      .option('--operator-password-file <file>', 'password of the operator keystore when it differs')
      .option('-y, --yes', 'do not ask for confirmation');

  common(
    program
      .command('join')
      .description('stake on the federation\'s staking contract and wait until this validator is in the active set')
      .option('--stake <eth>', 'amount to stake in ETH (default: the contract\'s minimum stake)')
      .option('--no-wait', 'stake and return without waiting for the next epoch')
      .option('--freeze', 'call freezeNextEpoch() when it is due (anyone may; it costs gas)')
      .option('--timeout <s>', 'how long to wait for the active set', (v) => Number(v), 3600)
      .addHelpText('after', `
Reads the operator account (ethereum.operatorKey) and the signing key (keys.signingKey) from their
keystores, and this node's peer id from <datadir>/p2p-network-key (created if missing). Checks the
operator's balance covers the stake and gas before sending. Staking changes take effect at the
next epoch: the set is frozen (freezeNextEpoch, at most once per epoch duration) and activated by
the federation at the first Bitcoin block whose median time passes the scheduled time.`),
  ).action(async (opts: CommonOpts & { stake?: string; wait: boolean; freeze?: boolean; timeout: number }, cmd: Command) => {
    const ctx = await openOperator(cmd, io, opts);
    try {
      const { config, registry, operator, provider } = ctx;
      const keys = KeystoreDir.forDataDir(ctx.dataDir);
      const password = await resolvePassword({ passwordFile: opts.passwordFile ?? config.keys.passwordFile, env: io.env, stdin: io.stdin, stderr: io.stderr }, { purpose: `signing key "${config.keys.signingKey}"` });
      const signing = await keys.unlock(config.keys.signingKey, password);
      const signingKey = hexlify(signing.privateKey);
      signing.privateKey.fill(0);
      const signer = signing.address;
      const peerId = peerIdFromPrivateKey(await loadOrCreateNetworkKey(ctx.dataDir));

      const info = await validatorInfo(registry, signer);
      if (!ZERO.test(info.operator)) {
        if (info.operator.toLowerCase() !== operator.address.toLowerCase()) {
          throw new BridgeError({ code: 'JOIN_OTHER_OPERATOR', message: `signing key ${signer} is already registered by another operator (${info.operator})` });
        }
        if (info.unbondingSince > 0n) {
          throw new BridgeError({ code: 'JOIN_UNBONDING', message: `validator ${signer} is unbonding since ${when(info.unbondingSince)}: withdraw the stake (fednode withdraw-stake) before joining again` });
        }
        writeLine(io.stdout, `validator ${signer} is already registered and staked (${formatEther(info.stake)} ETH, operator ${operator.address})`);
      } else {
        const other = await call<string>(registry, 'signerOf', operator.address);
        if (!ZERO.test(other)) throw new BridgeError({ code: 'JOIN_OPERATOR_HAS_VALIDATOR', message: `operator ${operator.address} already runs validator ${other}; one operator account per validator` });
        const minStake = await call<bigint>(registry, 'minStake');
        const stake = opts.stake !== undefined ? parseEther(opts.stake) : minStake;
        if (stake < minStake) throw new BridgeError({ code: 'JOIN_STAKE_TOO_LOW', message: `--stake ${formatEther(stake)} ETH is below the contract's minimum stake of ${formatEther(minStake)} ETH` });
        const fees = await provider.getFeeData();
        const gasCost = STAKE_GAS_BUDGET * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
        const balance = await provider.getBalance(operator.address);
        if (balance < stake + gasCost) {
          throw new BridgeError({
            code: 'JOIN_INSUFFICIENT_BALANCE',
            message: `operator ${operator.address} has ${formatEther(balance)} ETH; joining needs ${formatEther(stake)} ETH (stake) + about ${formatEther(gasCost)} ETH (gas): fund it first`,
          });
        }
        await confirm(io, opts, `Stake ${formatEther(stake)} ETH from operator ${operator.address} for validator ${signer} (peer id ${peerId.toString()}) on ${ctx.registryAddress}?`);
        const { chainId } = await provider.getNetwork();
        const pop = signRaw(signingKey, popDigest(chainId, ctx.registryAddress, operator.address));
        const hash = await send(ctx, 'stake', [publicKey64(signingKey), hexlify(peerId.toMultihash().bytes), pop], { value: stake });
        writeLine(io.stdout, `staked ${formatEther(stake)} ETH for validator ${signer} (tx ${hash})`);
      }
      if (!opts.wait) {
        writeLine(io.stdout, 'not waiting (--no-wait): the validator joins the set at the next epoch; check with "fednode doctor"');
        return;
      }
      await waitForActive(ctx, signer, opts, io);
    } finally {
      ctx.provider.destroy();
    }
  });

  common(
    program
      .command('exit')
      .description('start unbonding: leave the validator set at the next epoch and free the stake after the unbonding period'),
  ).action(async (opts: CommonOpts, cmd: Command) => {
    const ctx = await openOperator(cmd, io, opts);
    try {
      const signer = await ownSigner(ctx);
      const info = await validatorInfo(ctx.registry, signer);
      const period = await call<bigint>(ctx.registry, 'unbondingPeriod');
      if (info.unbondingSince > 0n) {
        writeLine(io.stdout, `validator ${signer} is already unbonding (since ${when(info.unbondingSince)}); the stake can be withdrawn from ${when(info.unbondingSince + period)}`);
        return;
      }
      await confirm(io, opts, `Unstake validator ${signer} (${formatEther(info.stake)} ETH, operator ${ctx.operator.address})? It leaves the set at the next epoch`);
      const hash = await send(ctx, 'unstake', []);
      const since = (await validatorInfo(ctx.registry, signer)).unbondingSince;
      writeLine(io.stdout, `unbonding started (tx ${hash}): the stake can be withdrawn from ${when(since + period)} (unbonding period ${period} s), once validator ${signer} is in neither the current nor the next frozen set`);
      writeLine(io.stdout, 'keep the node running until then: it still has signing duty for the epochs it belongs to, and missed duty is slashed');
    } finally {
      ctx.provider.destroy();
    }
  });

  common(
    program
      .command('withdraw-stake')
      .description('withdraw the stake once the unbonding period is over and the validator is in no current or frozen set'),
  ).action(async (opts: CommonOpts, cmd: Command) => {
    const ctx = await openOperator(cmd, io, opts);
    try {
      const { registry } = ctx;
      const signer = await ownSigner(ctx);
      const info = await validatorInfo(registry, signer);
      if (info.unbondingSince === 0n) {
        throw new BridgeError({ code: 'WITHDRAW_NOT_UNBONDING', message: `validator ${signer} is still bonded: run "fednode exit" first, then wait for the unbonding period` });
      }
      const availableAt = info.unbondingSince + (await call<bigint>(registry, 'unbondingPeriod'));
      const now = await chainNow(ctx.provider);
      if (now < availableAt) {
        throw new BridgeError({ code: 'WITHDRAW_UNBONDING', message: `validator ${signer} is still unbonding: the stake can be withdrawn from ${when(availableAt)} (in ${availableAt - now} s)` });
      }
      const current = await call<bigint>(registry, 'currentEpoch');
      for (const epoch of [current, current + 1n]) {
        if (epoch > current && !(await call<boolean>(registry, 'isFrozen', epoch))) continue;
        if (await inSet(registry, epoch, signer)) {
          throw new BridgeError({
            code: 'WITHDRAW_IN_SET',
            message: `validator ${signer} is still in the validator set of epoch ${epoch}${epoch > current ? ' (frozen, not yet active)' : ' (current)'}: its signing duty lasts until an epoch without it is active; try again after the next epoch switch`,
          });
        }
      }
      // The contract has the last word (e.g. the duty for an old epoch's script runs one more
      // unbonding period from the switch that removed the validator): simulate first.
      try {
        await withDecodedRevert(() => registry.getFunction('withdrawStake').staticCall());
      } catch (err) {
        if (isBridgeError(err, 'CONTRACT_REVERT') && err.context.error === 'UnbondingNotOver') {
          const at = BigInt((err.context.args as string[])[0]!);
          throw new BridgeError({ code: 'WITHDRAW_UNBONDING', message: `validator ${signer} is still unbonding: its duty for the last epoch it belonged to ends, and the stake can be withdrawn, from ${when(at)} (in ${at - now} s)` });
        }
        if (isBridgeError(err, 'CONTRACT_REVERT') && err.context.error === 'StillInValidatorSet') {
          throw new BridgeError({ code: 'WITHDRAW_IN_SET', message: `validator ${signer} is still in the validator set of epoch ${String((err.context.args as string[])[0])}: try again after the next epoch switch` });
        }
        throw err;
      }
      await confirm(io, opts, `Withdraw ${formatEther(info.stake)} ETH of validator ${signer} to operator ${ctx.operator.address}?`);
      const hash = await send(ctx, 'withdrawStake', []);
      writeLine(io.stdout, `withdrew ${formatEther(info.stake)} ETH to ${ctx.operator.address} (tx ${hash}); validator ${signer} is no longer registered`);
    } catch (err) {
      if (isBridgeError(err, 'CONTRACT_REVERT')) throw new BridgeError({ code: 'WITHDRAW_REVERTED', message: `withdrawStake reverted: ${String(err.context.error)}(${(err.context.args as string[]).join(', ')})` });
      throw err;
    } finally {
      ctx.provider.destroy();
    }
  });
}

/** Follows the epochs until `signer` is in the current set (bounded by --timeout). */
async function waitForActive(ctx: OperatorContext, signer: string, opts: { freeze?: boolean; timeout: number }, io: CliIo): Promise<void> {
  const { registry, provider } = ctx;
  const deadline = Date.now() + opts.timeout * 1000;
  let last = '';
  const say = (s: string): void => {
    if (s !== last) writeLine(io.stdout, s);
    last = s;
  };
  for (let i = 0; i < 1_000_000; i++) {
    const current = await call<bigint>(registry, 'currentEpoch');
    if (await inSet(registry, current, signer)) {
      say(`validator ${signer} is in the active set of epoch ${current}`);
      return;
    }
    const next = current + 1n;
    if (await call<boolean>(registry, 'isFrozen', next)) {
      const [, activationMtp] = await call<[bigint, bigint, bigint, boolean, boolean]>(registry, 'epochInfo', next);
      say(
        (await inSet(registry, next, signer))
          ? `validator ${signer} is in the frozen set of epoch ${next}: it becomes active at the first Bitcoin block with median time ≥ ${when(activationMtp)}, once the federation relays the BTP block carrying the new set`
          : `epoch ${next} was frozen without validator ${signer} (stake too low, or the churn cap); it will be considered again at the following epoch`,
      );
    } else {
      const [frozenAt] = await call<[bigint, bigint, bigint, boolean, boolean]>(registry, 'epochInfo', current);
      const due = frozenAt + (await call<bigint>(registry, 'epochDuration'));
      const now = await chainNow(provider);
      if (now >= due && opts.freeze) {
        const hash = await send(ctx, 'freezeNextEpoch', []);
        say(`froze epoch ${next} (tx ${hash})`);
        continue;
      }
      say(now >= due
        ? `epoch ${next} can be frozen now: anyone may call freezeNextEpoch() (rerun with --freeze to do it)`
        : `waiting for epoch ${next} to be frozen (due ${when(due)}, in ${due - now} s)${opts.freeze ? '; this command will freeze it' : ''}`);
    }
    if (Date.now() >= deadline) {
      throw new BridgeError({ code: 'JOIN_TIMEOUT', message: `validator ${signer} is not in the active set after ${opts.timeout} s (${last}); the stake stays in place: rerun "fednode join" to keep waiting` });
    }
    await new Promise((r) => setTimeout(r, Math.min(5_000, Math.max(250, deadline - Date.now()))));
  }
}


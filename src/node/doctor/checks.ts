import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { Contract, JsonRpcProvider, hexlify } from 'ethers';
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import { createProvider } from '../../chains/ethereum/provider.js';
import { isBridgeError } from '../../errors.js';
import type { EffectiveConfig } from '../config/load.js';
import { redactUrl } from '../config/redact.js';
import { readGenesis } from '../genesis/genesis.js';
import { KeystoreDir } from '../keystore/keystore.js';
import { NETWORK_KEY_FILE } from '../p2p/network-key.js';

/**
 * `fednode doctor`: independent checks, one clear line each, so an operator
 * sees at once what is wrong with a node's surroundings. Every check is
 * bounded in time and never changes anything.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  config: EffectiveConfig;
  dataDir: string;
  /** Per network call. */
  timeoutMs?: number;
  /** Largest tolerated clock offset against the RPC servers. */
  maxClockSkewMs?: number;
  now?: () => number;
}

export const DOCTOR_DEFAULTS = { timeoutMs: 5_000, maxClockSkewMs: 30_000 } as const;

/** Names `getblockchaininfo.chain` takes for each configured network (Bitcoin Core and bcoin). */
const CHAIN_NAMES: Record<EffectiveConfig['bitcoin']['network'], readonly string[]> = {
  mainnet: ['main'],
  testnet: ['test', 'testnet'],
  signet: ['signet'],
  regtest: ['regtest'],
};

const CONTRACTS = ['staking', 'bmc', 'bmv', 'bsh', 'btct'] as const;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
}

function message(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return (e.shortMessage ?? e.message ?? String(err)) + (cause && !(e.message ?? '').includes(cause) ? ` (${cause})` : '');
}

async function checkBitcoin(o: Required<Omit<DoctorOptions, 'now'>>, clock: Array<{ url: string; date: string | null; at: number }>, now: () => number): Promise<CheckResult> {
  const { bitcoin } = o.config;
  const url = redactUrl(bitcoin.rpcUrl);
  const rpc = new BitcoinRpcClient({
    url: bitcoin.rpcUrl,
    timeoutMs: o.timeoutMs,
    retries: 0,
    ...(bitcoin.rpcUser !== undefined ? { username: bitcoin.rpcUser } : {}),
    ...(bitcoin.rpcPassword !== undefined ? { password: bitcoin.rpcPassword } : {}),
  });
  try {
    const info = await rpc.call<{ chain: string; blocks: number }>('getblockchaininfo');
    const expected = CHAIN_NAMES[bitcoin.network];
    if (!expected.includes(info.chain)) {
      return { name: 'bitcoin rpc', status: 'fail', detail: `${url} is on chain "${info.chain}", but bitcoin.network is "${bitcoin.network}"` };
    }
    await recordDate(bitcoin.rpcUrl, clock, o.timeoutMs, now);
    return { name: 'bitcoin rpc', status: 'ok', detail: `${url} reachable, chain ${info.chain}, height ${info.blocks}` };
  } catch (err) {
    const hint = isBridgeError(err, 'BTC_RPC_ERROR') && /401|auth/i.test(message(err)) ? ' (check bitcoin.rpcUser/rpcPassword)' : '';
    return { name: 'bitcoin rpc', status: 'fail', detail: `cannot reach bitcoin.rpcUrl ${url}: ${message(err)}${hint}` };
  }
}

/** An HTTP server's own clock (its `Date` header), to compare with ours. */
async function recordDate(url: string, clock: Array<{ url: string; date: string | null; at: number }>, timeoutMs: number, now: () => number): Promise<void> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}', signal: AbortSignal.timeout(timeoutMs) });
    clock.push({ url, date: res.headers.get('date'), at: now() });
    await res.body?.cancel();
  } catch {
    /* the RPC check reports reachability */
  }
}

async function checkEthereum(o: Required<Omit<DoctorOptions, 'now'>>, clock: Array<{ url: string; date: string | null; at: number }>, now: () => number): Promise<{ results: CheckResult[]; provider: JsonRpcProvider | undefined }> {
  const { ethereum } = o.config;
  const results: CheckResult[] = [];
  let usable: JsonRpcProvider | undefined;
  for (const [i, rawUrl] of ethereum.rpcUrls.entries()) {
    const url = redactUrl(rawUrl);
    const name = ethereum.rpcUrls.length > 1 ? `ethereum rpc #${i + 1}` : 'ethereum rpc';
    const provider = createProvider(rawUrl, ethereum.chainId);
    try {
      const chainId = BigInt(await withTimeout(provider.send('eth_chainId', []) as Promise<string>, o.timeoutMs, url));
      if (chainId !== BigInt(ethereum.chainId)) {
        results.push({ name, status: 'fail', detail: `wrong chain id at ${url}: expected ${ethereum.chainId} (ethereum.chainId), got ${chainId}` });
        provider.destroy();
        continue;
      }
      const block = await withTimeout(provider.getBlockNumber(), o.timeoutMs, url);
      await recordDate(rawUrl, clock, o.timeoutMs, now);
      results.push({ name, status: 'ok', detail: `${url} reachable, chain id ${chainId}, block ${block}` });
      if (usable) provider.destroy();
      else usable = provider;
    } catch (err) {
      results.push({ name, status: 'fail', detail: `cannot reach ${url}: ${message(err)}` });
      provider.destroy();
    }
  }
  return { results, provider: usable };
}

async function checkContracts(o: Required<Omit<DoctorOptions, 'now'>>, provider: JsonRpcProvider | undefined): Promise<CheckResult[]> {
  const addrs = o.config.ethereum.contracts;
  const keys: Array<(typeof CONTRACTS)[number] | 'payout'> = [...CONTRACTS, ...(addrs.payout !== undefined ? (['payout'] as const) : [])];
  return Promise.all(
    keys.map(async (key): Promise<CheckResult> => {
      const name = `contract ${key}`;
      const addr = addrs[key];
      if (addr === undefined) return { name, status: 'fail', detail: `ethereum.contracts.${key} is not configured` };
      if (!provider) return { name, status: 'skip', detail: 'no usable ethereum RPC' };
      try {
        const code = await withTimeout(provider.getCode(addr), o.timeoutMs, 'eth_getCode');
        return code === '0x'
          ? { name, status: 'fail', detail: `no contract at ${addr} (ethereum.contracts.${key}): wrong address or wrong chain?` }
          : { name, status: 'ok', detail: `${addr} (${(code.length - 2) / 2} bytes of code)` };
      } catch (err) {
        return { name, status: 'fail', detail: `cannot read ${addr}: ${message(err)}` };
      }
    }),
  );
}

async function checkKey(o: Required<Omit<DoctorOptions, 'now'>>, provider: JsonRpcProvider | undefined): Promise<CheckResult[]> {
  const keys = KeystoreDir.forDataDir(o.dataDir);
  let address: string;
  try {
    address = (await keys.describe(o.config.keys.signingKey)).address;
  } catch (err) {
    return [{ name: 'signing key', status: 'fail', detail: message(err) }];
  }
  const out: CheckResult[] = [{ name: 'signing key', status: 'ok', detail: `${address} (${keys.pathOf(o.config.keys.signingKey)})` }];
  const registry = o.config.ethereum.contracts.staking;
  if (!provider || registry === undefined) {
    out.push({ name: 'registration', status: 'skip', detail: registry === undefined ? 'ethereum.contracts.staking is not configured' : 'no usable ethereum RPC' });
    return out;
  }
  try {
    const contract = new Contract(registry, loadArtifact('ValidatorRegistry').abi, provider);
    const fn = contract.getFunction('validatorInfo');
    const [operator, stake, unbondingSince] = (await withTimeout(fn.staticCall(address), o.timeoutMs, 'validatorInfo')) as [string, bigint, bigint];
    if (/^0x0{40}$/i.test(operator)) {
      out.push({ name: 'registration', status: 'fail', detail: `signing key ${address} is not registered on the staking contract ${registry} (stake with "fednode join")` });
    } else if (unbondingSince > 0n) {
      out.push({ name: 'registration', status: 'warn', detail: `${address} is unbonding (since ${unbondingSince}); stake ${stake} wei, operator ${operator}` });
    } else {
      out.push({ name: 'registration', status: 'ok', detail: `${address} registered and staked: ${stake} wei, operator ${operator}` });
    }
    if (!/^0x0{40}$/i.test(operator)) out.push(...(await checkSetAndPeer(o, contract, address)));
  } catch (err) {
    out.push({ name: 'registration', status: 'fail', detail: `cannot query the staking contract ${registry}: ${message(err)}` });
  }
  return out;
}

/** Membership of the current (or frozen next) epoch, and the registered peer id against this node's network key. */
async function checkSetAndPeer(o: Required<Omit<DoctorOptions, 'now'>>, registry: Contract, address: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const view = <T>(fn: string, ...args: unknown[]): Promise<T> => withTimeout(registry.getFunction(fn).staticCall(...args) as Promise<T>, o.timeoutMs, fn);
  const has = (set: string[]): boolean => set.some((a) => a.toLowerCase() === address.toLowerCase());
  try {
    const current = await view<bigint>('currentEpoch');
    if (!(await view<boolean>('bootstrapped'))) {
      out.push({ name: 'validator set', status: 'warn', detail: 'the staking contract has no epoch yet (epoch 0 is not bootstrapped)' });
    } else if (has(await view<string[]>('epochValidators', current))) {
      out.push({ name: 'validator set', status: 'ok', detail: `${address} is in the active set of epoch ${current}` });
    } else if ((await view<boolean>('isFrozen', current + 1n)) && has(await view<string[]>('epochValidators', current + 1n))) {
      out.push({ name: 'validator set', status: 'warn', detail: `${address} is in the frozen set of epoch ${current + 1n}, not yet active (epoch ${current} is current)` });
    } else {
      out.push({ name: 'validator set', status: 'warn', detail: `${address} is not in the set of epoch ${current}: it joins at the next freeze ("fednode join --freeze" follows it)` });
    }
  } catch (err) {
    out.push({ name: 'validator set', status: 'fail', detail: `cannot read the epochs from the staking contract: ${message(err)}` });
  }
  const keyFile = join(o.dataDir, NETWORK_KEY_FILE);
  if (!existsSync(keyFile)) {
    out.push({ name: 'peer id', status: 'warn', detail: `no network key at ${keyFile} yet (created at first start); the registered peer id must match it` });
    return out;
  }
  try {
    const [, , , , registered] = await view<[string, bigint, bigint, string, string]>('validatorInfo', address);
    const local = peerIdFromPrivateKey(privateKeyFromProtobuf(await readFile(keyFile)));
    out.push(hexlify(local.toMultihash().bytes) === registered.toLowerCase()
      ? { name: 'peer id', status: 'ok', detail: `${local.toString()} (registered)` }
      : { name: 'peer id', status: 'fail', detail: `this node's peer id ${local.toString()} (${keyFile}) is not the one registered for ${address} (${registered}): other validators will refuse its connections` });
  } catch (err) {
    out.push({ name: 'peer id', status: 'fail', detail: `cannot compare the peer id: ${message(err)}` });
  }
  return out;
}

/** The genesis file exists, parses, and names the configured chain and contracts. */
async function checkGenesis(o: Required<Omit<DoctorOptions, 'now'>>): Promise<CheckResult> {
  const file = isAbsolute(o.config.genesisFile) ? o.config.genesisFile : join(o.dataDir, o.config.genesisFile);
  try {
    const g = await readGenesis(file);
    const problems: string[] = [];
    if (g.chainId !== o.config.ethereum.chainId) problems.push(`chain id ${g.chainId} ≠ ethereum.chainId ${o.config.ethereum.chainId}`);
    if (g.network !== o.config.network) problems.push(`network "${g.network}" ≠ network "${o.config.network}"`);
    if (g.bitcoin.network !== o.config.bitcoin.network) problems.push(`bitcoin network "${g.bitcoin.network}" ≠ bitcoin.network "${o.config.bitcoin.network}"`);
    for (const [k, v] of Object.entries(g.contracts)) {
      const configured = (o.config.ethereum.contracts as Record<string, string | undefined>)[k];
      if (configured !== undefined && configured.toLowerCase() !== v.toLowerCase()) problems.push(`contracts.${k} ${v} ≠ ethereum.contracts.${k} ${configured}`);
    }
    return problems.length > 0
      ? { name: 'genesis', status: 'fail', detail: `${file} does not match the config: ${problems.join('; ')}` }
      : { name: 'genesis', status: 'ok', detail: `${file}: chain ${g.chainId}, epoch 0 of ${g.epoch0.validators.length} validators, bitcoin from height ${g.bitcoin.startHeight}` };
  } catch (err) {
    return { name: 'genesis', status: 'fail', detail: `${message(err)} (genesisFile; the federation publishes it)` };
  }
}

function checkClock(o: Required<Omit<DoctorOptions, 'now'>>, samples: Array<{ url: string; date: string | null; at: number }>): CheckResult {
  const dated = samples.filter((s) => s.date !== null);
  if (dated.length === 0) return { name: 'clock', status: 'skip', detail: 'no RPC server reported its time' };
  // HTTP dates have 1 s resolution: allow it on top of the configured skew.
  const worst = dated
    .map((s) => ({ url: s.url, offset: s.at - Date.parse(s.date!) }))
    .reduce((a, b) => (Math.abs(b.offset) > Math.abs(a.offset) ? b : a));
  const detail = `local clock ${worst.offset >= 0 ? '+' : ''}${(worst.offset / 1000).toFixed(1)} s vs ${redactUrl(worst.url)}`;
  return Math.abs(worst.offset) > o.maxClockSkewMs + 1000
    ? { name: 'clock', status: 'fail', detail: `${detail}: more than ${o.maxClockSkewMs / 1000} s off; fix the system clock (NTP)` }
    : { name: 'clock', status: 'ok', detail };
}

async function checkPeers(o: Required<Omit<DoctorOptions, 'now'>>): Promise<CheckResult> {
  const host = o.config.http.host === '0.0.0.0' ? '127.0.0.1' : o.config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${o.config.http.port}/status`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs) });
    const status = (await res.json()) as { peers?: number; p2p?: { peers?: number }; peerId?: string };
    const peers = status.p2p?.peers ?? status.peers;
    if (typeof peers !== 'number') return { name: 'peers', status: 'skip', detail: `node at ${url} does not report peers yet` };
    return peers > 0 ? { name: 'peers', status: 'ok', detail: `${peers} connected (node at ${url})` } : { name: 'peers', status: 'warn', detail: 'no peers connected (check p2p.bootstrap, p2p.listen and the firewall)' };
  } catch {
    return { name: 'peers', status: 'skip', detail: `node not running at ${url} (start it to check peers)` };
  }
}

/** Run every check; independent checks run concurrently. */
export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const o = { ...DOCTOR_DEFAULTS, ...opts } as Required<Omit<DoctorOptions, 'now'>>;
  const now = opts.now ?? Date.now;
  const clock: Array<{ url: string; date: string | null; at: number }> = [];
  const [btc, eth, peers, genesis] = await Promise.all([checkBitcoin(o, clock, now), checkEthereum(o, clock, now), checkPeers(o), checkGenesis(o)]);
  try {
    const [contracts, key] = await Promise.all([checkContracts(o, eth.provider), checkKey(o, eth.provider)]);
    return [btc, ...eth.results, ...contracts, genesis, ...key, peers, checkClock(o, clock)];
  } finally {
    eth.provider?.destroy();
  }
}

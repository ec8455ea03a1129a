import { Contract, JsonRpcProvider } from 'ethers';
import { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import { createProvider } from '../../chains/ethereum/provider.js';
import { isBridgeError } from '../../errors.js';
import type { EffectiveConfig } from '../config/load.js';
import { redactUrl } from '../config/redact.js';
import { KeystoreDir } from '../keystore/keystore.js';

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
  return Promise.all(
    CONTRACTS.map(async (key): Promise<CheckResult> => {
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
  } catch (err) {
    out.push({ name: 'registration', status: 'fail', detail: `cannot query the staking contract ${registry}: ${message(err)}` });
  }
  return out;
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
    const status = (await res.json()) as { peers?: number; peerId?: string };
    if (typeof status.peers !== 'number') return { name: 'peers', status: 'skip', detail: `node at ${url} does not report peers yet` };
    return status.peers > 0 ? { name: 'peers', status: 'ok', detail: `${status.peers} connected` } : { name: 'peers', status: 'warn', detail: 'no peers connected (check p2p.bootstrap and firewall)' };
  } catch {
    return { name: 'peers', status: 'skip', detail: `node not running at ${url} (start it to check peers)` };
  }
}

/** Run every check; independent checks run concurrently. */
export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const o = { ...DOCTOR_DEFAULTS, ...opts } as Required<Omit<DoctorOptions, 'now'>>;
  const now = opts.now ?? Date.now;
  const clock: Array<{ url: string; date: string | null; at: number }> = [];
  const [btc, eth, peers] = await Promise.all([checkBitcoin(o, clock, now), checkEthereum(o, clock, now), checkPeers(o)]);
  try {
    const [contracts, key] = await Promise.all([checkContracts(o, eth.provider), checkKey(o, eth.provider)]);
    return [btc, ...eth.results, ...contracts, ...key, peers, checkClock(o, clock)];
  } finally {
    eth.provider?.destroy();
  }
}

/**
 * Ethereum JSON-RPC with failover. Endpoints are tried in the configured order: a request goes to
 * the most preferred endpoint that is up; a transport failure (refused, reset, timeout, 5xx) marks
 * that endpoint down with its own exponential backoff and the request moves on at once to the next
 * one; when none is usable the request waits for the earliest retry time, until its deadline.
 * Every endpoint's chain id is checked before it serves anything (and again by every probe), so
 * a URL that points at another chain is never used. The background probe (`start()`) brings a
 * recovered preferred endpoint back, and keeps `health()` honest while the node is idle.
 *
 * JSON-RPC error replies (revert, nonce too low, ...) are the node's deterministic answer: they
 * are rethrown as ethers raised them, never retried elsewhere.
 */
import type { JsonRpcProvider } from 'ethers';
import { BridgeError } from '../../../errors.js';
import type { HealthStatus, Health } from '../../../node/health.js';
import type { Logger } from '../../../node/logger.js';
import type { MetricsFactory } from '../../../node/metrics.js';
import { Endpoint, type EndpointStatus } from './endpoint.js';
import { isTransportError, redactUrl } from './errors.js';
import {
  callRequestJson, hexBigint, hexNumber, logFilterJson, parseBlockHeader, parseLog, parseReceipt,
  type BlockHeader, type CallRequest, type LogFilter, type RpcLog, type RpcReceipt,
} from './types.js';

export interface EthRpcOptions {
  /** JSON-RPC URLs, most preferred first. */
  urls: string[];
  /** The chain id every endpoint must serve. */
  chainId: number;
  /** One HTTP request. */
  requestTimeoutMs: number;
  /** Budget of one logical request across endpoints and retries. */
  requestDeadlineMs: number;
  /** ethers' polling interval (only used by callers of `withProvider`). */
  pollingIntervalMs: number;
  /** Backoff of a failed endpoint: first retry after this... */
  retryMinMs: number;
  /** ...doubling up to this. */
  retryMaxMs: number;
  /** An endpoint on the wrong chain is checked again after this long (operators fix URLs). */
  wrongChainRecheckMs: number;
  /** Background probe period (`start()`). */
  probeIntervalMs: number;
}

export const DEFAULT_ETH_RPC_OPTIONS: Omit<EthRpcOptions, 'urls' | 'chainId'> = {
  requestTimeoutMs: 5_000,
  requestDeadlineMs: 20_000,
  pollingIntervalMs: 50,
  retryMinMs: 250,
  retryMaxMs: 15_000,
  wrongChainRecheckMs: 60_000,
  probeIntervalMs: 2_000,
};

export type BlockTag = number | 'latest' | 'pending' | 'safe' | 'finalized' | 'earliest';

export interface RequestOptions {
  /** Overrides `requestDeadlineMs` for this call. */
  deadlineMs?: number;
}

export interface EthRpc {
  readonly chainId: number;
  /** Raw JSON-RPC through the failover set. */
  request<T = unknown>(method: string, params: unknown[], opts?: RequestOptions): Promise<T>;
  /** Runs `fn` against the current endpoint's ethers provider, failing over like `request`. */
  withProvider<T>(fn: (provider: JsonRpcProvider) => Promise<T>, opts?: RequestOptions): Promise<T>;
  blockNumber(): Promise<number>;
  getBlock(tag: BlockTag): Promise<BlockHeader | undefined>;
  getLogs(filter: LogFilter): Promise<RpcLog[]>;
  getTransactionCount(address: string, tag: 'latest' | 'pending'): Promise<number>;
  getTransactionReceipt(hash: string): Promise<RpcReceipt | undefined>;
  /** Whether the node knows the transaction (mempool or chain). */
  hasTransaction(hash: string): Promise<boolean>;
  call(req: CallRequest, tag?: BlockTag): Promise<string>;
  estimateGas(req: CallRequest): Promise<bigint>;
  maxPriorityFeePerGas(): Promise<bigint>;
  sendRawTransaction(raw: string): Promise<string>;
  endpoints(): EndpointStatus[];
  /** Ready while at least one endpoint is up on the right chain. */
  health(): HealthStatus;
  /** Registers `health()` as a /readyz check. */
  registerHealth(health: Health, name?: string): void;
  /** Starts the background probe; checks every endpoint once before resolving. */
  start(): Promise<void>;
  /** Stops the probe and closes the providers. */
  stop(): Promise<void>;
}

export interface CreateEthRpcArgs {
  options: Partial<EthRpcOptions> & Pick<EthRpcOptions, 'urls' | 'chainId'>;
  log: Logger;
  metrics?: MetricsFactory;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tagJson(tag: BlockTag): string {
  return typeof tag === 'number' ? '0x' + tag.toString(16) : tag;
}

function errText(err: unknown): string {
  return String((err as { shortMessage?: unknown })?.shortMessage ?? (err as Error)?.message ?? err).slice(0, 300);
}

export function createEthRpc(args: CreateEthRpcArgs): EthRpc {
  const o: EthRpcOptions = { ...DEFAULT_ETH_RPC_OPTIONS, ...args.options };
  if (o.urls.length === 0) throw new BridgeError({ code: 'ETH_RPC_NO_URLS' });
  for (const u of o.urls) {
    // HTTP(S) JSON-RPC only: polling needs no subscriptions, and a websocket URL here is a config slip.
    let ok = false;
    try { ok = ['http:', 'https:'].includes(new URL(u).protocol); } catch { ok = false; }
    if (!ok) throw new BridgeError({ code: 'ETH_RPC_BAD_URL', message: `not an http(s) JSON-RPC URL: ${redactUrl(u)}`, url: redactUrl(u) });
  }
  const log = args.log.child({ module: 'eth-rpc' });
  const eps = o.urls.map((u, i) => new Endpoint(i, u, o.chainId, {
    requestTimeoutMs: o.requestTimeoutMs, pollingIntervalMs: o.pollingIntervalMs, retryMinMs: o.retryMinMs, retryMaxMs: o.retryMaxMs,
  }));
  const m = args.metrics;
  const requests = m?.counter('eth_rpc_requests_total', 'Ethereum JSON-RPC requests by endpoint, method and outcome', ['endpoint', 'method', 'outcome']);
  const seconds = m?.histogram('eth_rpc_request_seconds', 'Ethereum JSON-RPC request latency by endpoint and method', ['endpoint', 'method']);
  const failovers = m?.counter('eth_rpc_failovers_total', 'Switches of the active Ethereum RPC endpoint', ['from', 'to']);
  const upGauge = m?.gauge('eth_rpc_endpoint_up', '1 while the Ethereum RPC endpoint answers on the right chain', ['endpoint']);
  let active: Endpoint | undefined;
  let stopped = false;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  let probing: Promise<void> | undefined;

  const setGauge = (ep: Endpoint): void => { upGauge?.set({ endpoint: ep.label }, ep.up ? 1 : 0); };
  for (const ep of eps) setGauge(ep);

  function noteActive(ep: Endpoint): void {
    if (active === ep) return;
    if (active !== undefined) {
      failovers?.inc({ from: active.label, to: ep.label });
      log.warn({ from: active.url, to: ep.url }, 'ethereum RPC endpoint switched');
    }
    active = ep;
  }

  function markDown(ep: Endpoint, err: unknown): void {
    const wasUp = ep.up;
    ep.markDown(errText(err), Date.now());
    setGauge(ep);
    if (wasUp) log.warn({ endpoint: ep.url, err: ep.lastError, retryInMs: ep.retryAt - Date.now() }, 'ethereum RPC endpoint down');
  }

  /** eth_chainId on one endpoint; updates its state. Never throws. */
  function verify(ep: Endpoint): Promise<void> {
    ep.verifying ??= (async () => {
      const t0 = performance.now();
      try {
        const got = hexNumber(await ep.provider.send('eth_chainId', []), 'eth_chainId');
        seconds?.observe({ endpoint: ep.label, method: 'eth_chainId' }, (performance.now() - t0) / 1e3);
        requests?.inc({ endpoint: ep.label, method: 'eth_chainId', outcome: 'ok' });
        if (got !== o.chainId) {
          const e = new BridgeError({
            code: 'ETH_RPC_WRONG_CHAIN',
            message: `ethereum RPC endpoint ${ep.url} serves chain id ${got}, expected ${o.chainId}: endpoint not used`,
            url: ep.url, expected: o.chainId, actual: got,
          });
          if (ep.state !== 'wrong-chain') log.error({ endpoint: ep.url, expected: o.chainId, actual: got }, e.message);
          ep.markWrongChain(e.message, Date.now(), o.wrongChainRecheckMs);
        } else {
          if (!ep.up) log.info({ endpoint: ep.url }, 'ethereum RPC endpoint up');
          ep.markUp();
        }
      } catch (err) {
        requests?.inc({ endpoint: ep.label, method: 'eth_chainId', outcome: isTransportError(err) ? 'transport_error' : 'rpc_error' });
        markDown(ep, err);
      } finally {
        setGauge(ep);
        ep.verifying = undefined;
      }
    })();
    return ep.verifying;
  }

  /** The endpoint to try next: the first up one, else the first whose backoff has passed. */
  function pick(now: number): Endpoint | undefined {
    return eps.find((e) => e.up) ?? eps.find((e) => e.retryAt <= now);
  }

  async function withEndpoint<T>(method: string, fn: (p: JsonRpcProvider) => Promise<T>, opts: RequestOptions = {}): Promise<T> {
    if (stopped) throw new BridgeError({ code: 'ETH_RPC_STOPPED', method });
    const deadline = Date.now() + (opts.deadlineMs ?? o.requestDeadlineMs);
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const now = Date.now();
      const ep = pick(now);
      if (ep === undefined) {
        const earliest = Math.min(...eps.map((e) => e.retryAt));
        if (now >= deadline || stopped) break;
        await sleep(Math.max(10, Math.min(earliest - now, deadline - now)));
        continue;
      }
      if (!ep.up) {
        await verify(ep);
        if (!ep.up) continue;
      }
      const t0 = performance.now();
      try {
        const result = await fn(ep.provider);
        seconds?.observe({ endpoint: ep.label, method }, (performance.now() - t0) / 1e3);
        requests?.inc({ endpoint: ep.label, method, outcome: 'ok' });
        noteActive(ep);
        return result;
      } catch (err) {
        if (!isTransportError(err)) {
          requests?.inc({ endpoint: ep.label, method, outcome: 'rpc_error' });
          noteActive(ep);
          throw err;
        }
        requests?.inc({ endpoint: ep.label, method, outcome: 'transport_error' });
        markDown(ep, err);
        if (Date.now() >= deadline) break;
      }
    }
    throw new BridgeError({
      code: 'ETH_RPC_UNAVAILABLE',
      message: `no ethereum RPC endpoint answered ${method}: ${eps.map((e) => `${e.url} (${e.state}${e.lastError ? ': ' + e.lastError : ''})`).join('; ')}`,
      method,
      endpoints: eps.map((e) => e.status()),
    });
  }

  async function probeOnce(): Promise<void> {
    const now = Date.now();
    await Promise.all(eps.filter((e) => e.up || e.retryAt <= now || e.state === 'unknown').map((e) => verify(e)));
    const best = eps.find((e) => e.up);
    if (best !== undefined && active !== undefined && best !== active) noteActive(best);
  }

  function scheduleProbe(): void {
    if (stopped) return;
    probeTimer = setTimeout(() => {
      probing = probeOnce().finally(() => { probing = undefined; scheduleProbe(); });
    }, o.probeIntervalMs);
  }

  const request = <T>(method: string, params: unknown[], opts?: RequestOptions): Promise<T> =>
    withEndpoint(method, (p) => p.send(method, params) as Promise<T>, opts);

  const rpc: EthRpc = {
    chainId: o.chainId,
    request,
    withProvider: (fn, opts) => withEndpoint('provider', fn, opts),
    blockNumber: async () => hexNumber(await request('eth_blockNumber', []), 'eth_blockNumber'),
    getBlock: async (tag) => {
      const b = await request<unknown>('eth_getBlockByNumber', [tagJson(tag), false]);
      return b === null || b === undefined ? undefined : parseBlockHeader(b);
    },
    getLogs: async (filter) => {
      const logs = await request<unknown>('eth_getLogs', [logFilterJson(filter)]);
      if (!Array.isArray(logs)) throw new BridgeError({ code: 'ETH_RPC_BAD_RESULT', what: 'eth_getLogs' });
      return logs.map(parseLog);
    },
    getTransactionCount: async (address, tag) => hexNumber(await request('eth_getTransactionCount', [address, tag]), 'eth_getTransactionCount'),
    getTransactionReceipt: async (hash) => {
      const r = await request<unknown>('eth_getTransactionReceipt', [hash]);
      return r === null || r === undefined ? undefined : parseReceipt(r);
    },
    hasTransaction: async (hash) => {
      const t = await request<unknown>('eth_getTransactionByHash', [hash]);
      return t !== null && t !== undefined;
    },
    call: async (req, tag = 'latest') => {
      const r = await request<unknown>('eth_call', [callRequestJson(req), tagJson(tag)]);
      if (typeof r !== 'string') throw new BridgeError({ code: 'ETH_RPC_BAD_RESULT', what: 'eth_call' });
      return r;
    },
    estimateGas: async (req) => hexBigint(await request('eth_estimateGas', [callRequestJson(req)]), 'eth_estimateGas'),
    maxPriorityFeePerGas: async () => hexBigint(await request('eth_maxPriorityFeePerGas', []), 'eth_maxPriorityFeePerGas'),
    sendRawTransaction: async (raw) => {
      const h = await request<unknown>('eth_sendRawTransaction', [raw]);
      if (typeof h !== 'string') throw new BridgeError({ code: 'ETH_RPC_BAD_RESULT', what: 'eth_sendRawTransaction' });
      return h;
    },
    endpoints: () => eps.map((e) => e.status()),
    health: () => {
      const up = eps.filter((e) => e.up);
      return up.length > 0
        ? { ok: true, detail: `${up.length}/${eps.length} ethereum RPC endpoints up (using ${(active ?? up[0]!).url})` }
        : { ok: false, detail: `no ethereum RPC endpoint up: ${eps.map((e) => `${e.url} ${e.state}`).join(', ')}` };
    },
    registerHealth: (health, name = 'ethereum-rpc') => health.register(name, () => rpc.health()),
    start: async () => {
      if (stopped || probeTimer !== undefined) return;
      await probeOnce();
      scheduleProbe();
    },
    stop: async () => {
      stopped = true;
      if (probeTimer !== undefined) clearTimeout(probeTimer);
      await probing;
      for (const e of eps) e.provider.destroy();
    },
  };
  return rpc;
}

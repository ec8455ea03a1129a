import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BridgeError } from '../../errors.js';
import type { Logger } from '../../node/logger.js';
import type { MetricsFactory } from '../../node/metrics.js';

/**
 * A typed Bitcoin Core JSON-RPC 1.0 client. Only the calls fednode needs,
 * each with the argument forms both Bitcoin Core and bcoin accept (e.g.
 * `getblock <hash> false` for raw hex: Core still takes the boolean form).
 *
 * Transport failures (refused, reset, timeout, HTTP 5xx without a JSON-RPC
 * body) are retried; an RPC error reply is deterministic and never retried.
 */
export interface BitcoinRpcOptions {
  url: string;
  username?: string;
  password?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Extra attempts after a transport failure. */
  retries?: number;
  retryDelayMs?: number;
  logger?: Logger;
  metrics?: MetricsFactory;
}

export const DEFAULT_RPC_OPTIONS = { timeoutMs: 10_000, retries: 2, retryDelayMs: 250 } as const;

/** Core's RPC error codes that mean "the node refused the transaction". */
export const RPC_VERIFY_ERROR = -25;
export const RPC_VERIFY_REJECTED = -26;
export const RPC_VERIFY_ALREADY_IN_CHAIN = -27;

export interface MempoolEntry {
  vsize?: number;
  size?: number;
  fee?: number;
  fees?: { base: number };
  height: number;
  [k: string]: unknown;
}

export interface SmartFeeEstimate {
  feerate?: number;
  errors?: string[];
  blocks: number;
}

/**
 * Converts Core's `estimatesmartfee` rate (BTC per 1000 vB, a JSON number)
 * into the protocol's integer sat per 1000 vB, or undefined without an estimate.
 */
export function feeRateFromEstimate(estimate: SmartFeeEstimate): bigint | undefined {
  if (estimate.feerate === undefined || !(estimate.feerate > 0)) return undefined;
  return BigInt(Math.round(estimate.feerate * 1e8));
}

export class BitcoinRpcClient {
  readonly #opts: Required<Omit<BitcoinRpcOptions, 'username' | 'password' | 'logger' | 'metrics'>> & Pick<BitcoinRpcOptions, 'logger'>;
  readonly #auth: string | undefined;
  readonly #url: URL;
  readonly #agent: HttpAgent;
  readonly #seconds;
  readonly #failures;
  #id = 0;

  constructor(opts: BitcoinRpcOptions) {
    this.#opts = { ...DEFAULT_RPC_OPTIONS, ...opts };
    try {
      this.#url = new URL(opts.url);
    } catch (cause) {
      throw new BridgeError({ code: 'BTC_RPC_BAD_URL', url: opts.url, cause });
    }
    // Idle kept-alive sockets are unref'd by the agent: they never keep the process running.
    this.#agent = this.#url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 8 }) : new HttpAgent({ keepAlive: true, maxSockets: 8 });
    this.#seconds = opts.metrics?.histogram('fednode_btc_rpc_seconds', 'Bitcoin JSON-RPC call latency', ['method']);
    this.#failures = opts.metrics?.counter('fednode_btc_rpc_failures_total', 'Bitcoin JSON-RPC transport failures and error replies', ['method', 'code']);
    this.#auth =
      opts.username !== undefined || opts.password !== undefined
        ? 'Basic ' + Buffer.from(`${opts.username ?? ''}:${opts.password ?? ''}`).toString('base64')
        : undefined;
  }

  /** Raw call. Throws BridgeError `BTC_RPC_ERROR` (with rpcCode) or `BTC_RPC_UNAVAILABLE` / `BTC_RPC_TIMEOUT`. */
  async call<T>(method: string, params: readonly unknown[] = []): Promise<T> {
    const { retries, retryDelayMs } = this.#opts;
    let lastErr: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, retryDelayMs * attempt));
      const end = this.#seconds?.startTimer({ method });
      try {
        const result = await this.#attempt<T>(method, params);
        end?.();
        return result;
      } catch (e) {
        end?.();
        this.#failures?.inc({ method, code: e instanceof BridgeError ? e.code : 'unknown' });
        if (e instanceof BridgeError && e.code === 'BTC_RPC_ERROR') throw e;
        lastErr = e;
        this.#opts.logger?.debug({ method, attempt, err: e }, 'bitcoin rpc transport failure');
      }
    }
    throw lastErr;
  }

  async #attempt<T>(method: string, params: readonly unknown[]): Promise<T> {
    const id = ++this.#id;
    const { status, text } = await this.#post(method, JSON.stringify({ jsonrpc: '1.0', id, method, params }));
    let body: { result?: unknown; error?: { code: number; message: string } | null } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (body?.error) {
      throw new BridgeError({ code: 'BTC_RPC_ERROR', message: `${method}: ${body.error.message} (${body.error.code})`, method, rpcCode: body.error.code, rpcMessage: body.error.message });
    }
    if (status < 200 || status >= 300 || body === undefined || !('result' in body)) {
      throw new BridgeError({ code: 'BTC_RPC_UNAVAILABLE', method, status, body: text.slice(0, 200) });
    }
    return body.result as T;
  }

  /**
   * One HTTP POST over a kept-alive connection. node:http rather than fetch: a poll every
   * 50 ms costs a fraction of the CPU (no web streams, no AbortSignal per call), which
   * matters when the watcher polls for the next block continuously.
   */
  #post(method: string, body: string): Promise<{ status: number; text: string }> {
    const { url, timeoutMs } = this.#opts;
    return new Promise((resolve, reject) => {
      const fail = (cause: unknown, timeout: boolean): void =>
        reject(new BridgeError({ code: timeout ? 'BTC_RPC_TIMEOUT' : 'BTC_RPC_UNAVAILABLE', method, url, timeoutMs, cause }));
      const u = this.#url;
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
        {
          protocol: u.protocol, hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'POST', agent: this.#agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(this.#auth ? { authorization: this.#auth } : {}) },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => fail(e, false));
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        fail(new Error(`no answer within ${timeoutMs} ms`), true);
      });
      req.on('error', (e) => fail(e, false));
      req.end(body);
    });
  }

  /**
   * Several calls in one JSON-RPC batch (one round trip; Bitcoin Core and bcoin both accept an
   * array). Results in call order; an error reply for any call throws `BTC_RPC_ERROR` for it.
   */
  async batch<T extends unknown[]>(calls: { [I in keyof T]: { method: string; params?: readonly unknown[] } }): Promise<T> {
    if (calls.length === 0) return [] as unknown as T;
    const label = `batch:${calls[0]!.method}`;
    const { retries, retryDelayMs } = this.#opts;
    let lastErr: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, retryDelayMs * attempt));
      const end = this.#seconds?.startTimer({ method: label });
      try {
        const first = this.#id + 1;
        this.#id += calls.length;
        const { status, text } = await this.#post(label, JSON.stringify(calls.map((c, i) => ({ jsonrpc: '1.0', id: first + i, method: c.method, params: c.params ?? [] }))));
        let replies: Array<{ id: number; result?: unknown; error?: { code: number; message: string } | null }> | undefined;
        try {
          const parsed = JSON.parse(text) as unknown;
          replies = Array.isArray(parsed) ? (parsed as typeof replies) : undefined;
        } catch {
          replies = undefined;
        }
        if (replies === undefined || replies.length !== calls.length) {
          throw new BridgeError({ code: 'BTC_RPC_UNAVAILABLE', method: label, status, body: text.slice(0, 200) });
        }
        end?.();
        const byId = new Map(replies.map((r) => [r.id, r]));
        return calls.map((c, i) => {
          const r = byId.get(first + i);
          if (r === undefined) throw new BridgeError({ code: 'BTC_RPC_UNAVAILABLE', method: c.method, status, body: 'batch reply without this id' });
          if (r.error) throw new BridgeError({ code: 'BTC_RPC_ERROR', message: `${c.method}: ${r.error.message} (${r.error.code})`, method: c.method, rpcCode: r.error.code, rpcMessage: r.error.message });
          return r.result;
        }) as T;
      } catch (e) {
        end?.();
        this.#failures?.inc({ method: label, code: e instanceof BridgeError ? e.code : 'unknown' });
        if (e instanceof BridgeError && e.code === 'BTC_RPC_ERROR') throw e;
        lastErr = e;
        this.#opts.logger?.debug({ method: label, attempt, err: e }, 'bitcoin rpc transport failure');
      }
    }
    throw lastErr;
  }

  /** Best block hash and height in one round trip (the watcher's idle poll). */
  async getTip(): Promise<{ hash: string; height: number }> {
    const [hash, height] = await this.batch<[string, number]>([{ method: 'getbestblockhash' }, { method: 'getblockcount' }]);
    return { hash, height };
  }

  /** Block hashes at `heights`, in one round trip. */
  getBlockHashes(heights: readonly number[]): Promise<string[]> {
    return this.batch<string[]>(heights.map((h) => ({ method: 'getblockhash', params: [h] })));
  }

  /** Releases kept-alive connections (they never hold the process open). */
  close(): void {
    this.#agent.destroy();
  }

  getBlockCount(): Promise<number> {
    return this.call('getblockcount');
  }

  getBestBlockHash(): Promise<string> {
    return this.call('getbestblockhash');
  }

  getBlockHash(height: number): Promise<string> {
    return this.call('getblockhash', [height]);
  }

  /** The serialized block (with witnesses) as hex. */
  getBlockHex(hash: string): Promise<string> {
    return this.call('getblock', [hash, false]);
  }

  getRawTransaction(txid: string): Promise<string> {
    return this.call('getrawtransaction', [txid, false]);
  }

  /**
   * Broadcasts; a mempool rejection is a BridgeError `BTC_TX_REJECTED` carrying the
   * node's reason (e.g. `mandatory-script-verify-flag-failed (...)`) and RPC code.
   */
  async sendRawTransaction(hex: string): Promise<string> {
    try {
      return await this.call<string>('sendrawtransaction', [hex]);
    } catch (e) {
      if (e instanceof BridgeError && e.code === 'BTC_RPC_ERROR') {
        const rpcCode = e.context['rpcCode'] as number;
        if (rpcCode === RPC_VERIFY_ERROR || rpcCode === RPC_VERIFY_REJECTED || rpcCode === RPC_VERIFY_ALREADY_IN_CHAIN) {
          throw new BridgeError({ code: 'BTC_TX_REJECTED', message: `transaction rejected: ${String(e.context['rpcMessage'])}`, rpcCode, reason: e.context['rpcMessage'], cause: e });
        }
      }
      throw e;
    }
  }

  /** The mempool entry, or undefined when the transaction is not in the mempool. */
  async getMempoolEntry(txid: string): Promise<MempoolEntry | undefined> {
    try {
      const entry = await this.call<MempoolEntry | null>('getmempoolentry', [txid]);
      return entry ?? undefined;
    } catch (e) {
      if (e instanceof BridgeError && e.code === 'BTC_RPC_ERROR' && e.context['rpcCode'] === -5) return undefined;
      throw e;
    }
  }

  /** An unspent output (confirmed only unless `includeMempool`), or undefined when spent or unknown. */
  async getTxOut(txid: string, vout: number, includeMempool = false): Promise<{ valueSats: bigint; confirmations: number } | undefined> {
    const r = await this.call<{ value: number; confirmations: number } | null>('gettxout', [txid, vout, includeMempool]);
    return r === null ? undefined : { valueSats: BigInt(Math.round(r.value * 1e8)), confirmations: r.confirmations };
  }

  getRawMempool(): Promise<string[]> {
    return this.call('getrawmempool', [false]);
  }

  estimateSmartFee(confTarget: number): Promise<SmartFeeEstimate> {
    return this.call('estimatesmartfee', [confTarget]);
  }

  generateToAddress(blocks: number, address: string): Promise<string[]> {
    return this.call('generatetoaddress', [blocks, address]);
  }

  invalidateBlock(hash: string): Promise<null> {
    return this.call('invalidateblock', [hash]);
  }

  reconsiderBlock(hash: string): Promise<null> {
    return this.call('reconsiderblock', [hash]);
  }
}

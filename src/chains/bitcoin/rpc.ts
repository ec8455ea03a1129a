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
  readonly #seconds;
  readonly #failures;
  #id = 0;

  constructor(opts: BitcoinRpcOptions) {
    this.#opts = { ...DEFAULT_RPC_OPTIONS, ...opts };
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
    let res: Response;
    try {
      res = await fetch(this.#opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.#auth ? { authorization: this.#auth } : {}) },
        body: JSON.stringify({ jsonrpc: '1.0', id, method, params }),
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
    } catch (cause) {
      const timeout = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      throw new BridgeError({ code: timeout ? 'BTC_RPC_TIMEOUT' : 'BTC_RPC_UNAVAILABLE', method, url: this.#opts.url, timeoutMs: this.#opts.timeoutMs, cause });
    }
    const text = await res.text();
    let body: { result?: unknown; error?: { code: number; message: string } | null } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (body?.error) {
      throw new BridgeError({ code: 'BTC_RPC_ERROR', message: `${method}: ${body.error.message} (${body.error.code})`, method, rpcCode: body.error.code, rpcMessage: body.error.message });
    }
    if (!res.ok || body === undefined || !('result' in body)) {
      throw new BridgeError({ code: 'BTC_RPC_UNAVAILABLE', method, status: res.status, body: text.slice(0, 200) });
    }
    return body.result as T;
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

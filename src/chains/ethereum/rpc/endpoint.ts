/**
 * One JSON-RPC endpoint of the failover set: its ethers provider (DESIGN.md §6 settings, a short
 * per-request timeout and no silent 429 retries) and its health state machine.
 */
import { FetchRequest, JsonRpcProvider, Network } from 'ethers';
import { redactUrl } from './errors.js';

/**
 * `unknown`: never checked; `up`: chain id verified and the last request answered; `down`: the last
 * attempt failed in transport; `wrong-chain`: answers with another chain id (unusable).
 */
export type EndpointState = 'unknown' | 'up' | 'down' | 'wrong-chain';

export interface EndpointStatus {
  /** Position in the configured order (0 = preferred). */
  index: number;
  /** Redacted URL (scheme, host, port). */
  url: string;
  state: EndpointState;
  /** Consecutive failures since the last success. */
  failures: number;
  lastError: string | undefined;
  /** ms epoch before which this endpoint is not retried (0 = now). */
  retryAt: number;
}

export interface EndpointTimings {
  requestTimeoutMs: number;
  pollingIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export class Endpoint {
  readonly index: number;
  readonly url: string;
  readonly label: string;
  readonly provider: JsonRpcProvider;
  state: EndpointState = 'unknown';
  failures = 0;
  lastError: string | undefined;
  retryAt = 0;
  /** Shared chain-id check, so concurrent requests do not probe the same endpoint twice. */
  verifying: Promise<void> | undefined;
  readonly #timings: EndpointTimings;

  constructor(index: number, rawUrl: string, chainId: number, timings: EndpointTimings) {
    this.index = index;
    this.url = redactUrl(rawUrl);
    this.label = `${index}:${this.url.replace(/^[a-z]+:\/\//, '')}`;
    this.#timings = timings;
    const req = new FetchRequest(rawUrl);
    req.timeout = timings.requestTimeoutMs;
    // A 429 is a reason to fail over, not to sleep inside ethers for a minute.
    req.setThrottleParams({ maxAttempts: 1 });
    const network = Network.from(chainId);
    this.provider = new JsonRpcProvider(req, network, {
      staticNetwork: network,
      batchMaxCount: 1,
      cacheTimeout: -1,
      pollingInterval: timings.pollingIntervalMs,
    });
    this.provider.pollingInterval = timings.pollingIntervalMs;
  }

  /** Usable for an ordinary request right now without a chain-id check first. */
  get up(): boolean {
    return this.state === 'up';
  }

  markUp(): void {
    this.state = 'up';
    this.failures = 0;
    this.lastError = undefined;
    this.retryAt = 0;
  }

  /** Exponential backoff per endpoint, with jitter so several nodes do not retry in lockstep. */
  markDown(error: string, now: number): void {
    this.state = 'down';
    this.failures++;
    this.lastError = error;
    const base = Math.min(this.#timings.retryMaxMs, this.#timings.retryMinMs * 2 ** Math.min(this.failures - 1, 20));
    this.retryAt = now + Math.round(base * (0.75 + Math.random() * 0.5));
  }

  markWrongChain(error: string, now: number, recheckMs: number): void {
    this.state = 'wrong-chain';
    this.failures++;
    this.lastError = error;
    this.retryAt = now + recheckMs;
  }

  status(): EndpointStatus {
    return { index: this.index, url: this.url, state: this.state, failures: this.failures, lastError: this.lastError, retryAt: this.retryAt };
  }
}

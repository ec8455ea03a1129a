import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevChain, type DevChain } from '../../../../src/chains/ethereum/devchain.js';
import { createEthRpc, type EthRpc } from '../../../../src/chains/ethereum/rpc/index.js';
import { isBridgeError } from '../../../../src/errors.js';
import { Health } from '../../../../src/node/health.js';
import { silentLogger } from '../../../../src/node/logger.js';
import { createMetrics } from '../../../../src/node/metrics.js';
import { deadUrl, eventually, startRpcProxy, type RpcProxy } from './proxy.js';

const log = silentLogger();
const FAST = { requestTimeoutMs: 1_000, requestDeadlineMs: 10_000, retryMinMs: 100, retryMaxMs: 400, probeIntervalMs: 100, wrongChainRecheckMs: 60_000 };

describe('ethereum RPC failover (real EVM node)', () => {
  let chain: DevChain;
  let other: DevChain;
  const open: EthRpc[] = [];
  const proxies: RpcProxy[] = [];
  beforeAll(async () => {
    [chain, other] = await Promise.all([startDevChain({ chainId: 4242, accounts: 1 }), startDevChain({ chainId: 999, accounts: 1 })]);
  });
  afterAll(async () => {
    for (const r of open) await r.stop();
    for (const p of proxies) await p.close();
    await Promise.all([chain?.stop(), other?.stop()]);
  });
  const make = (urls: string[], extra: Record<string, number> = {}) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const rpc = createEthRpc({ options: { urls, chainId: 4242, ...FAST, ...extra }, log, metrics });
    open.push(rpc);
    return { rpc, metrics };
  };
  const proxy = async (): Promise<RpcProxy> => { const p = await startRpcProxy(chain.rpcUrl); proxies.push(p); return p; };

  it('skips a dead first URL and serves from the next one', async () => {
    const dead = await deadUrl();
    const { rpc, metrics } = make([dead, chain.rpcUrl]);
    expect(await rpc.blockNumber()).toBeGreaterThanOrEqual(0);
    const st = rpc.endpoints();
    expect(st[0]!.state).toBe('down');
    expect(st[1]!.state).toBe('up');
    expect(rpc.health().ok).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/fednode_eth_rpc_endpoint_up\{endpoint="0:127\.0\.0\.1:\d+"\} 0/);
    expect(text).toMatch(/fednode_eth_rpc_requests_total\{endpoint="1:127\.0\.0\.1:\d+",method="eth_blockNumber",outcome="ok"\} 1/);
  });

  it('refuses an endpoint on the wrong chain id, naming the URL and both ids', async () => {
    const { rpc } = make([other.rpcUrl, chain.rpcUrl]);
    expect(await rpc.request<string>('eth_chainId', [])).toBe('0x1092');
    const bad = rpc.endpoints()[0]!;
    expect(bad.state).toBe('wrong-chain');
    expect(bad.lastError).toContain(other.rpcUrl);
    expect(bad.lastError).toContain('999');
    expect(bad.lastError).toContain('4242');

    const { rpc: only } = make([other.rpcUrl], { requestDeadlineMs: 300 });
    const err = await only.blockNumber().then(() => undefined, (e: unknown) => e);
    expect(isBridgeError(err, 'ETH_RPC_UNAVAILABLE')).toBe(true);
    expect(String((err as Error).message)).toMatch(/serves chain id 999, expected 4242/);
    expect(only.health().ok).toBe(false);
  });

  it('fails over on reset, timeout and HTTP 503, and returns to the preferred endpoint when it recovers', async () => {
    const p = await proxy();
    const { rpc, metrics } = make([p.url, chain.rpcUrl]);
    await rpc.start();
    await rpc.blockNumber();
    const before = p.forwarded;
    await rpc.blockNumber();
    expect(p.forwarded).toBeGreaterThan(before);

    for (const mode of ['reset', 'hang', 'http503'] as const) {
      p.mode = mode;
      const seen = p.forwarded;
      expect(await rpc.blockNumber()).toBeGreaterThanOrEqual(0);
      expect(p.forwarded).toBe(seen);
      expect(rpc.endpoints()[0]!.state).toBe('down');
      expect(rpc.health().ok).toBe(true);
      p.mode = 'pass';
      // The probe brings the preferred endpoint back; then requests go through it again.
      expect(await eventually(() => rpc.endpoints()[0]!.state === 'up')).toBe(true);
      const again = p.forwarded;
      await rpc.blockNumber();
      expect(p.forwarded).toBeGreaterThan(again);
    }
    expect(await metrics.registry.metrics()).toMatch(/fednode_eth_rpc_failovers_total\{from="0:[^"]+",to="1:[^"]+"\} [1-9]/);
  });

  it('reports not ready on /readyz while no endpoint answers, and ready again after', async () => {
    const p = await proxy();
    const dead = await deadUrl();
    const { rpc } = make([p.url, dead], { requestDeadlineMs: 500 });
    const health = new Health();
    rpc.registerHealth(health);
    await rpc.start();
    expect((await health.report()).ready).toBe(true);
    p.mode = 'reset';
    expect(await eventually(async () => !(await health.report()).ready)).toBe(true);
    const err = await rpc.blockNumber().then(() => undefined, (e: unknown) => e);
    expect(isBridgeError(err, 'ETH_RPC_UNAVAILABLE')).toBe(true);
    p.mode = 'pass';
    expect(await eventually(async () => (await health.report()).ready)).toBe(true);
    expect(await rpc.blockNumber()).toBeGreaterThanOrEqual(0);
  });

  it('returns JSON-RPC error replies to the caller without failing over', async () => {
    const p = await proxy();
    const direct = await startRpcProxy(chain.rpcUrl);
    proxies.push(direct);
    const { rpc } = make([p.url, direct.url]);
    await rpc.blockNumber();
    const seen = direct.forwarded;
    // PUSH1 0 PUSH1 0 REVERT: a call that reverts.
    const err = await rpc.call({ data: '0x60006000fd' }).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toBe('CALL_EXCEPTION');
    expect(rpc.endpoints()[0]!.state).toBe('up');
    expect(direct.forwarded).toBe(seen);
  });
});

import { createServer } from 'node:net';
import type { Registry } from 'prom-client';
import { createMetrics, type MetricsFactory } from '../../../src/node/metrics.js';
import { createP2pHost, type P2pHost, type P2pHostOptions } from '../../../src/node/p2p/host.js';
import type { PeerAllowlist } from '../../../src/node/p2p/peer-set.js';
import { makeIdentity, validatorEntry, waitFor, type TestIdentity } from './helpers.js';

export const NETWORK = 'testnet';

/** Short timers so the suite stays fast; production defaults are in P2P_DEFAULTS. */
export const FAST: Partial<P2pHostOptions> = {
  gossipHeartbeatMs: 100,
  scoreCheckIntervalMs: 100,
  persistentPeersTickMs: 50,
  persistentPeersYieldMs: 400,
  backoff: { initialMs: 100, maxMs: 800, factor: 2, jitter: 0.1 },
};

export interface TestNode {
  id: TestIdentity;
  host: P2pHost;
  metrics: MetricsFactory;
  port: number;
}

/** A free TCP port on 127.0.0.1 (for nodes that must come back on the same address). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function addrOf(n: { id: TestIdentity; port: number }): string {
  return `/ip4/127.0.0.1/tcp/${n.port}/p2p/${n.id.peerId}`;
}

export function allowlistOf(ids: TestIdentity[], observers: TestIdentity[] = []): PeerAllowlist {
  return { validators: ids.map(validatorEntry), observers: observers.map((o) => o.peerId) };
}

export async function startNode(
  id: TestIdentity,
  port: number,
  allowlist: PeerAllowlist,
  extra: Partial<P2pHostOptions> = {},
): Promise<TestNode> {
  const metrics = createMetrics({ defaultMetrics: false });
  const host = await createP2pHost({
    network: NETWORK,
    privateKey: id.networkKey,
    signer: id.signer,
    listen: [`/ip4/127.0.0.1/tcp/${port}`],
    allowlist,
    metrics,
    ...FAST,
    ...extra,
  });
  await host.start();
  const bound = Number(host.multiaddrs()[0]?.split('/')[4]);
  return { id, host, metrics, port: bound };
}

/**
 * n validators that all know each other, fully meshed through the
 * persistent-peers loop (ports chosen up front so the config can name them).
 */
export async function startCluster(n: number, extra: Partial<P2pHostOptions> = {}): Promise<TestNode[]> {
  const ids = await Promise.all(Array.from({ length: n }, () => makeIdentity()));
  const ports = await Promise.all(ids.map(() => freePort()));
  const addrs = ids.map((id, i) => addrOf({ id, port: ports[i] as number }));
  const allow = allowlistOf(ids);
  const nodes = await Promise.all(
    ids.map((id, i) => startNode(id, ports[i] as number, allow, { persistentPeers: addrs.filter((_, j) => j !== i), ...extra })),
  );
  const meshed = await waitFor(() => nodes.every((x) => x.host.connectedPeers().length === n - 1
    && (['attestation', 'payout-witness', 'heartbeat', 'reobserve'] as const).every((k) => x.host.meshPeers(k).length === n - 1)), 20_000);
  if (!meshed) throw new Error('cluster did not form a full mesh');
  return nodes;
}

export async function stopAll(nodes: Array<{ host: P2pHost }>): Promise<void> {
  await Promise.all(nodes.map((n) => n.host.stop()));
}

/** Sum of a metric's values whose labels include `labels`. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const data = await m.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((s, v) => s + v.value, 0);
}

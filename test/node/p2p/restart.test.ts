import { afterAll, describe, expect, it } from 'vitest';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreateNetworkKey } from '../../../src/node/p2p/network-key.js';
import { addrOf, allowlistOf, freePort, metricValue, startNode, stopAll, type TestNode } from './cluster.js';
import { attestation, makeIdentity, tempDir, waitFor, type TestIdentity } from './helpers.js';

const running = new Set<TestNode>();
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  await stopAll([...running]);
  await Promise.all(cleanups.map((c) => c()));
});

/** A validator whose network key lives in a data directory, like the real node. */
async function identityFromDataDir(dir: string): Promise<TestIdentity> {
  const base = await makeIdentity();
  const networkKey: Ed25519PrivateKey = await loadOrCreateNetworkKey(dir);
  const pid = peerIdFromPrivateKey(networkKey);
  return { ...base, networkKey, peerId: pid.toString(), peerIdBytes: pid.toMultihash().bytes };
}

describe('restart', () => {
  it('a restarted node keeps its peer id and the persistent-peers loop reconnects it', async () => {
    const dirs = await Promise.all(Array.from({ length: 4 }, () => tempDir()));
    cleanups.push(...dirs.map((d) => d.cleanup));
    const ids = await Promise.all(dirs.map((d) => identityFromDataDir(d.path)));
    const ports = await Promise.all(ids.map(() => freePort()));
    const addrs = ids.map((id, i) => addrOf({ id, port: ports[i] as number }));
    const allow = allowlistOf(ids);
    const boot = (i: number, id: TestIdentity) =>
      startNode(id, ports[i] as number, allow, { persistentPeers: addrs.filter((_, j) => j !== i) });
    const nodes = await Promise.all(ids.map((id, i) => boot(i, id)));
    nodes.forEach((n) => running.add(n));
    const fullyConnected = () => [...running].every((n) => n.host.connectedPeers().length === 3);
    expect(await waitFor(fullyConnected, 20_000)).toBe(true);

    // Stop the last node; the others notice.
    const victim = nodes[3] as TestNode;
    await victim.host.stop();
    running.delete(victim);
    expect(await waitFor(() => nodes.slice(0, 3).every((n) => !n.host.connectedPeers().includes(victim.id.peerId)), 20_000)).toBe(true);

    const dialsOk = async () => (await Promise.all([...running].map((n) => metricValue(n.metrics.registry, 'fednode_p2p_dials_total', { result: 'ok' }))))
      .reduce((a, b) => a + b, 0);
    const dialsBefore = await dialsOk();

    // Restart from the same data directory: same key file, same peer id, same port.
    const reloaded = await identityFromDataDir((dirs[3] as { path: string }).path);
    expect(reloaded.peerId).toBe(victim.id.peerId);
    const again = await boot(3, { ...victim.id, networkKey: reloaded.networkKey });
    running.add(again);
    expect(again.host.peerId).toBe(victim.id.peerId);
    expect(await waitFor(fullyConnected, 20_000)).toBe(true);
    expect(await waitFor(() => again.host.meshPeers('attestation').length === 3, 20_000)).toBe(true);
    const status = again.host.status();
    expect(status.persistentPeers.map((p) => p.connected)).toEqual([true, true, true]);
    expect(status.connectedPeers).toBe(3);
    // Nothing but the persistent-peers loops dials in this setup.
    expect(await dialsOk()).toBeGreaterThan(dialsBefore);

    // Gossip flows again, both ways.
    const got: string[] = [];
    again.host.handle('attestation', (_a, meta) => {
      got.push(meta.signer);
    });
    const back: string[] = [];
    (nodes[0] as TestNode).host.handle('attestation', (_a, meta) => {
      back.push(meta.signer);
    });
    (nodes[0] as TestNode).host.publish('attestation', attestation((nodes[0] as TestNode).id, 9n));
    again.host.publish('attestation', attestation(again.id, 9n));
    expect(await waitFor(() => got.includes((nodes[0] as TestNode).id.address) && back.includes(again.id.address), 20_000)).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBody } from '../../../src/node/p2p/messages.js';
import { MESSAGE_KINDS, type MessageKind } from '../../../src/node/p2p/topics.js';
import { addrOf, allowlistOf, freePort, metricValue, startCluster, startNode, stopAll, type TestNode } from './cluster.js';
import { attestation, heartbeat, makeIdentity, payoutWitness, rand, reobserveRange, waitFor, waitForAsync } from './helpers.js';

let nodes: TestNode[] = [];
const extras: TestNode[] = [];
/** Everything each node's handlers received: kind -> list of [signer, body]. */
const inbox = new Map<string, Map<MessageKind, Array<{ signer: string; peerId: string; body: MessageBody }>>>();

beforeAll(async () => {
  nodes = await startCluster(4, { outboundQueueSize: 256, limits: { maxEnvelopeBytes: 64 * 1024 } });
  for (const n of nodes) {
    const box = new Map<MessageKind, Array<{ signer: string; peerId: string; body: MessageBody }>>();
    inbox.set(n.id.peerId, box);
    for (const kind of MESSAGE_KINDS) {
      box.set(kind, []);
      n.host.handle(kind, (body, meta) => {
        box.get(kind)?.push({ signer: meta.signer, peerId: meta.peerId, body });
      });
    }
  }
});

afterAll(async () => {
  await stopAll([...nodes, ...extras]);
});

const received = (n: TestNode, kind: MessageKind) => inbox.get(n.id.peerId)?.get(kind) ?? [];

describe('4-node mesh', () => {
  it('delivers every topic from every node to every other node, exactly once', async () => {
    const sent = new Map<string, Map<MessageKind, MessageBody>>();
    for (const n of nodes) {
      const bodies: Record<MessageKind, MessageBody> = {
        attestation: attestation(n.id, 1000n),
        'payout-witness': payoutWitness(n.id, 3n),
        heartbeat: heartbeat(50n),
        reobserve: reobserveRange(5n, 9n),
      };
      sent.set(n.id.address, new Map(Object.entries(bodies) as Array<[MessageKind, MessageBody]>));
      for (const kind of MESSAGE_KINDS) expect(n.host.publish(kind, bodies[kind] as never)).toBe(true);
    }
    const expected = nodes.length - 1;
    const done = await waitFor(() => nodes.every((n) => MESSAGE_KINDS.every((k) => received(n, k).length >= expected)), 15_000);
    expect(done).toBe(true);
    for (const n of nodes) {
      for (const kind of MESSAGE_KINDS) {
        const got = received(n, kind);
        // One per other validator, none from itself, each exactly as sent and from the right peer.
        expect(got.length).toBe(expected);
        expect(new Set(got.map((g) => g.signer)).size).toBe(expected);
        expect(got.some((g) => g.signer === n.id.address)).toBe(false);
        for (const g of got) {
          expect(g.body).toEqual(sent.get(g.signer)?.get(kind));
          expect(nodes.find((x) => x.id.address === g.signer)?.id.peerId).toBe(g.peerId);
        }
      }
    }
  });

  it('batches pending items into few envelopes and counts outbound drops', async () => {
    const [sender, ...others] = nodes as [TestNode, ...TestNode[]];
    const before = others.map((o) => received(o, 'attestation').length);
    const results = Array.from({ length: 300 }, (_, i) => sender.host.publish('attestation', attestation(sender.id, 5000n + BigInt(i))));
    const accepted = results.filter(Boolean).length;
    expect(accepted).toBe(256); // the outbound queue's capacity
    expect(await metricValue(sender.metrics.registry, 'fednode_p2p_queue_dropped_total', { queue: 'outbound', topic: 'attestation' })).toBe(44);
    await sender.host.flush();
    const all = await waitFor(() => others.every((o, i) => received(o, 'attestation').length - (before[i] as number) >= accepted), 15_000);
    expect(all).toBe(true);
    others.forEach((o, i) => expect(received(o, 'attestation').length - (before[i] as number)).toBe(accepted));
    const envelopes = await metricValue(sender.metrics.registry, 'fednode_p2p_published_total', { topic: 'attestation' });
    const items = await metricValue(sender.metrics.registry, 'fednode_p2p_published_items_total', { topic: 'attestation' });
    expect(items).toBe(accepted + 1); // plus the one from the first test
    // All 256 were queued in one turn, so they leave 64 per envelope: 4 envelopes (+1 from the first test).
    expect(envelopes).toBe(1 + 256 / 64);
  });

  it('splits a batch that would exceed the envelope size limit', async () => {
    const [, sender, ...rest] = nodes as [TestNode, TestNode, ...TestNode[]];
    const receiver = rest[0] as TestNode;
    const before = received(receiver, 'reobserve').length;
    // 20 requests of 256 ids each: about 170 KiB, more than two 64 KiB envelopes.
    const reqs = Array.from({ length: 20 }, () => ({ chain: 'home' as const, fromHeight: 0n, toHeight: 0n, itemIds: Array.from({ length: 256 }, () => rand(32)) }));
    for (const r of reqs) expect(sender.host.publish('reobserve', r)).toBe(true);
    await sender.host.flush();
    expect(await waitFor(() => received(receiver, 'reobserve').length - before === reqs.length, 15_000)).toBe(true);
    const key = (r: MessageBody) => Buffer.from((r as { itemIds: Uint8Array[] }).itemIds[0] as Uint8Array).toString('hex');
    const got = received(receiver, 'reobserve').slice(before).map((g) => g.body);
    expect(new Map(got.map((g) => [key(g), g]))).toEqual(new Map(reqs.map((r) => [key(r), r])));
    const envelopes = await metricValue(sender.metrics.registry, 'fednode_p2p_published_total', { topic: 'reobserve' });
    expect(envelopes - 1).toBeGreaterThanOrEqual(3);
    expect(await metricValue(receiver.metrics.registry, 'fednode_p2p_verdict_reasons_total', { topic: 'reobserve', reason: 'malformed' })).toBe(0);
  });

  it('delivers a re-sent item once and counts the copy as an ignored duplicate', async () => {
    const [sender, ...others] = nodes as [TestNode, ...TestNode[]];
    const item = attestation(sender.id, 77_777n);
    const count = (o: TestNode) => received(o, 'attestation').filter((g) => (g.body as { height: bigint }).height === 77_777n).length;
    const ignored = (o: TestNode) => metricValue(o.metrics.registry, 'fednode_p2p_verdict_reasons_total', { topic: 'attestation', reason: 'duplicate' });
    const ignoredBefore = await Promise.all(others.map(ignored));
    sender.host.publish('attestation', item);
    await sender.host.flush();
    expect(await waitFor(() => others.every((o) => count(o) === 1), 20_000)).toBe(true);
    // Same item in a new envelope (new timestamp, new gossip id).
    sender.host.publish('attestation', item);
    await sender.host.flush();
    const seenCopy = async () => (await Promise.all(others.map(ignored))).every((v, j) => v > (ignoredBefore[j] as number));
    expect(await waitForAsync(seenCopy, 20_000)).toBe(true);
    for (const o of others) expect(count(o)).toBe(1);
  });

  it('refuses a peer that is not on the allowlist, and admits it after a refresh', async () => {
    const target = nodes[0] as TestNode;
    const outsiderId = await makeIdentity();
    const outsider = await startNode(outsiderId, await freePort(), allowlistOf(nodes.map((n) => n.id), [outsiderId]));
    extras.push(outsider);
    const deniedBefore = await metricValue(target.metrics.registry, 'fednode_p2p_gater_denied_total', { reason: 'not-allowlisted' });
    await outsider.host.dial(addrOf(target)).catch(() => undefined);
    // The target's gater counted the refusal and holds no connection to the outsider.
    const denied = () => metricValue(target.metrics.registry, 'fednode_p2p_gater_denied_total', { reason: 'not-allowlisted' });
    expect(await waitForAsync(async () => (await denied()) > deniedBefore, 20_000)).toBe(true);
    expect(await waitFor(() => !target.host.connectedPeers().includes(outsiderId.peerId), 20_000)).toBe(true);
    // And it will not dial the outsider either.
    await expect(target.host.dial(addrOf(outsider))).rejects.toThrow();

    // Registered as an observer: admitted (dial once the outsider saw the refused connection close,
    // or its dial would just return that dying connection).
    expect(await waitFor(() => !outsider.host.connectedPeers().includes(target.id.peerId), 20_000)).toBe(true);
    target.host.updateAllowlist(allowlistOf(nodes.map((n) => n.id), [outsiderId]));
    await outsider.host.dial(addrOf(target));
    expect(await waitFor(() => target.host.connectedPeers().includes(outsiderId.peerId), 20_000)).toBe(true);
    // Removed again: the connection is closed.
    target.host.updateAllowlist(allowlistOf(nodes.map((n) => n.id)));
    expect(await waitFor(() => !target.host.connectedPeers().includes(outsiderId.peerId), 20_000)).toBe(true);
  });
});

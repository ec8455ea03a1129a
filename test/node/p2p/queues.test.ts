import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addrOf, allowlistOf, freePort, metricValue, startNode, stopAll, type TestNode } from './cluster.js';
import { attestation, makeIdentity, reobserveRange, waitFor, waitForAsync } from './helpers.js';

/** Two directly connected validators; the receiver has a one-slot inbound queue. */
let sender: TestNode;
let receiver: TestNode;

beforeAll(async () => {
  const ids = await Promise.all([makeIdentity(), makeIdentity()]);
  const allow = allowlistOf(ids);
  sender = await startNode(ids[0]!, await freePort(), allow);
  receiver = await startNode(ids[1]!, await freePort(), allow, { inboundQueueSize: 1 });
  await sender.host.dial(addrOf(receiver));
  const meshed = await waitFor(() => sender.host.meshPeers('attestation').includes(receiver.id.peerId)
    && sender.host.meshPeers('reobserve').includes(receiver.id.peerId), 15_000);
  if (!meshed) throw new Error('mesh did not form');
});

afterAll(async () => {
  await stopAll([sender, receiver]);
});

describe('inbound queue and handler verdicts', () => {
  it('drops and counts messages beyond the inbound queue while the handler is busy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const heights: bigint[] = [];
    const off = receiver.host.handle('attestation', async (a) => {
      heights.push(a.height);
      await gate;
    });
    const dropped = () => metricValue(receiver.metrics.registry, 'fednode_p2p_queue_dropped_total', { queue: 'inbound', topic: 'attestation' });
    // Separate envelopes: the first blocks the worker in its handler, the second waits in the
    // one-slot queue, the rest are dropped.
    sender.host.publish('attestation', attestation(sender.id, 1n));
    await sender.host.flush();
    expect(await waitFor(() => heights.length === 1, 20_000)).toBe(true);
    for (const h of [2n, 3n, 4n]) {
      sender.host.publish('attestation', attestation(sender.id, h));
      await sender.host.flush();
    }
    expect(await waitForAsync(async () => (await dropped()) >= 2, 20_000)).toBe(true);
    release();
    expect(await waitFor(() => heights.length === 2, 20_000)).toBe(true);
    expect(heights).toEqual([1n, 2n]);
    expect(await dropped()).toBe(2);
    off();
  });

  it("a handler's reject verdict lowers the sender's score", async () => {
    receiver.host.handle('reobserve', () => 'reject');
    expect(receiver.host.peerScore(sender.id.peerId)).toBeGreaterThanOrEqual(0);
    sender.host.publish('reobserve', reobserveRange(1n, 2n));
    await sender.host.flush();
    const handlerRejects = () => metricValue(receiver.metrics.registry, 'fednode_p2p_messages_total', { topic: 'reobserve', result: 'reject' });
    expect(await waitForAsync(async () => (await handlerRejects()) === 1, 20_000)).toBe(true);
    expect(await waitFor(() => receiver.host.peerScore(sender.id.peerId) < 0, 20_000)).toBe(true);
  });
});

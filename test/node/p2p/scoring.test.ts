import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../../src/node/p2p/codec.js';
import { signEnvelope } from '../../../src/node/p2p/envelope.js';
import type { MessageBody } from '../../../src/node/p2p/messages.js';
import { addrOf, allowlistOf, freePort, metricValue, NETWORK, startNode, stopAll, type TestNode } from './cluster.js';
import { attestation, heartbeat, makeIdentity, rand, waitFor, waitForAsync, type TestIdentity } from './helpers.js';

/**
 * One honest receiver and three registered-but-malicious validators, each
 * connected to the receiver only, each sending one kind of bad message.
 */
let honest: TestNode;
let garbage: TestNode;
let badSig: TestNode;
let wrongPeer: TestNode;
let bystander: TestIdentity;
const delivered: Array<{ signer: string; body: MessageBody }> = [];

beforeAll(async () => {
  const ids = await Promise.all(Array.from({ length: 5 }, () => makeIdentity()));
  bystander = ids[4] as TestIdentity;
  const allow = allowlistOf(ids);
  const started = await Promise.all(ids.slice(0, 4).map(async (id) => startNode(id, await freePort(), allow)));
  [honest, garbage, badSig, wrongPeer] = started as [TestNode, TestNode, TestNode, TestNode];
  honest.host.handle('attestation', (body, meta) => {
    delivered.push({ signer: meta.signer, body });
  });
  honest.host.handle('heartbeat', (body, meta) => {
    delivered.push({ signer: meta.signer, body });
  });
  for (const m of [garbage, badSig, wrongPeer]) await m.host.dial(addrOf(honest));
  const meshed = await waitFor(() => [garbage, badSig, wrongPeer].every((m) => m.host.meshPeers('attestation').includes(honest.id.peerId)
    && honest.host.meshPeers('attestation').includes(m.id.peerId)), 15_000);
  if (!meshed) throw new Error('mesh did not form');
});

afterAll(async () => {
  await stopAll([honest, garbage, badSig, wrongPeer]);
});

const rejects = (reason: string) => metricValue(honest.metrics.registry, 'fednode_p2p_verdict_reasons_total', { reason });

async function expectRejectedAndPenalised(sender: TestNode, reason: string, before: number): Promise<void> {
  expect(await waitForAsync(async () => (await rejects(reason)) > before, 20_000)).toBe(true);
  expect(await waitFor(() => honest.host.peerScore(sender.id.peerId) < 0, 20_000)).toBe(true);
}

describe('gossip validation against misbehaving validators', () => {
  it('rejects garbage bytes and lowers the sender\'s score', async () => {
    const before = await rejects('malformed');
    expect(honest.host.peerScore(garbage.id.peerId)).toBeGreaterThanOrEqual(0);
    await garbage.host.publishRaw('attestation', rand(120));
    await expectRejectedAndPenalised(garbage, 'malformed', before);
  });

  it('rejects an envelope with a bad signature and lowers the sender\'s score', async () => {
    const before = await rejects('bad-signature');
    const env = signEnvelope(NETWORK, badSig.id.signer, {
      kind: 'heartbeat', peerId: badSig.id.peerIdBytes, timestampMs: BigInt(Date.now()), items: [heartbeat()],
    });
    env.signature = Uint8Array.from(env.signature);
    env.signature[64] = 27; // Ethereum-style V: not a recovery id
    await badSig.host.publishRaw('heartbeat', encodeEnvelope(env));
    await expectRejectedAndPenalised(badSig, 'bad-signature', before);
  });

  it('rejects an envelope bound to another peer id and lowers the sender\'s score', async () => {
    const before = await rejects('peer-binding');
    // Signed by the sender's own validator key, but claiming a different node's peer id.
    const env = signEnvelope(NETWORK, wrongPeer.id.signer, {
      kind: 'attestation', peerId: bystander.peerIdBytes, timestampMs: BigInt(Date.now()), items: [attestation(wrongPeer.id, 1n)],
    });
    await wrongPeer.host.publishRaw('attestation', encodeEnvelope(env));
    await expectRejectedAndPenalised(wrongPeer, 'peer-binding', before);
  });

  it('delivered none of the bad messages, while valid ones from the same peers still arrive', async () => {
    expect(delivered).toEqual([]);
    const a = attestation(badSig.id, 42n);
    badSig.host.publish('attestation', a);
    await badSig.host.flush();
    expect(await waitFor(() => delivered.length === 1, 20_000)).toBe(true);
    expect(delivered[0]).toEqual({ signer: badSig.id.address, body: a });
  });

  it('disconnects and bans a peer whose score falls below the threshold', async () => {
    await garbage.host.publishRaw('attestation', rand(121));
    expect(await waitFor(() => honest.host.isBanned(garbage.id.peerId), 20_000)).toBe(true);
    expect(await waitFor(() => !honest.host.connectedPeers().includes(garbage.id.peerId), 20_000)).toBe(true);
    const bannedBefore = await metricValue(honest.metrics.registry, 'fednode_p2p_gater_denied_total', { reason: 'banned' });
    expect(await metricValue(honest.metrics.registry, 'fednode_p2p_score_disconnects_total')).toBe(1);
    // Reconnecting is refused while the ban lasts (dial once both sides saw the old connection close).
    expect(await waitFor(() => !garbage.host.connectedPeers().includes(honest.id.peerId), 20_000)).toBe(true);
    await garbage.host.dial(addrOf(honest)).catch(() => undefined);
    expect(await waitForAsync(async () => (await metricValue(honest.metrics.registry, 'fednode_p2p_gater_denied_total', { reason: 'banned' })) > bannedBefore, 15_000)).toBe(true);
    expect(honest.host.connectedPeers()).not.toContain(garbage.id.peerId);
    // The others, penalised once, stay connected.
    expect(honest.host.connectedPeers()).toEqual(expect.arrayContaining([badSig.id.peerId, wrongPeer.id.peerId]));
  });
});

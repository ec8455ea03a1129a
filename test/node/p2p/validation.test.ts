import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../../src/node/p2p/codec.js';
import { signEnvelope } from '../../../src/node/p2p/envelope.js';
import { DEFAULT_CODEC_LIMITS, type MessageBody } from '../../../src/node/p2p/messages.js';
import { PeerSet } from '../../../src/node/p2p/peer-set.js';
import { SeenCache } from '../../../src/node/p2p/seen-cache.js';
import type { MessageKind } from '../../../src/node/p2p/topics.js';
import { commitAccepted, validateEnvelope, type ValidationState } from '../../../src/node/p2p/validation.js';
import { signDigest } from '../../../src/node/p2p/secp256k1-native.js';
import { attestation, heartbeat, makeIdentity, payoutWitness, rand, reobserveRange, validatorEntry, type TestIdentity } from './helpers.js';

const NOW = 1_800_000_000_000;
let alice: TestIdentity;
let bob: TestIdentity;
let outsider: TestIdentity;
let state: ValidationState;

beforeAll(async () => {
  [alice, bob, outsider] = await Promise.all([makeIdentity(), makeIdentity(), makeIdentity()]);
});

beforeEach(() => {
  state = {
    network: 'devnet',
    limits: DEFAULT_CODEC_LIMITS,
    peers: new PeerSet({ validators: [validatorEntry(alice), validatorEntry(bob)], observers: [outsider.peerId] }),
    seen: new SeenCache(150_000, 10_000),
    lastHeartbeatMs: new Map(),
    maxAgeMs: 120_000,
    maxFutureMs: 30_000,
  };
});

interface Build {
  signedBy?: TestIdentity;
  claimedPeer?: TestIdentity;
  timestampMs?: number;
  network?: string;
}

function wire<K extends MessageKind>(kind: K, items: MessageBody<K>[], b: Build = {}): Uint8Array {
  const signer = b.signedBy ?? alice;
  const env = signEnvelope(b.network ?? 'devnet', signer.signer, {
    kind,
    peerId: (b.claimedPeer ?? signer).peerIdBytes,
    timestampMs: BigInt(b.timestampMs ?? NOW),
    items,
  });
  return encodeEnvelope(env);
}

function run<K extends MessageKind>(kind: K, data: Uint8Array, now = NOW) {
  const v = validateEnvelope(kind, data, state, now);
  if (v.verdict === 'accept') commitAccepted(kind, v, state, now);
  return v;
}

describe('validateEnvelope', () => {
  it('accepts each message type from a registered validator on its own peer', () => {
    for (const [kind, item] of [
      ['attestation', attestation(alice, 10n)],
      ['payout-witness', payoutWitness(alice)],
      ['heartbeat', heartbeat()],
      ['reobserve', reobserveRange()],
    ] as const) {
      const v = run(kind, wire(kind, [item as never]));
      expect(v.verdict, kind).toBe('accept');
      if (v.verdict === 'accept') expect(v.signer).toBe(alice.address);
    }
  });

  it('rejects garbage and truncated bytes as malformed', () => {
    expect(run('attestation', rand(100))).toMatchObject({ verdict: 'reject', reason: 'malformed' });
    const good = wire('attestation', [attestation(alice, 1n)]);
    expect(run('attestation', good.subarray(0, good.length - 1))).toMatchObject({ verdict: 'reject', reason: 'malformed' });
  });

  it('rejects a bad envelope signature', () => {
    const bytes = wire('heartbeat', [heartbeat()]);
    // Flip a byte of R: recovers nothing or a different key.
    bytes[bytes.length - 40] = (bytes[bytes.length - 40] as number) ^ 0x01;
    expect(['bad-signature', 'unknown-signer']).toContain((run('heartbeat', bytes) as { reason: string }).reason);
    // A signature made for another network.
    expect(run('heartbeat', wire('heartbeat', [heartbeat()], { network: 'testnet' }))).toMatchObject({ verdict: 'reject' });
  });

  it("rejects an envelope naming a peer id other than the signer's registered one", () => {
    // Forwarding is anonymous (StrictNoSign): the envelope's own peer id is what binds it.
    const bytes = wire('attestation', [attestation(alice, 2n)], { claimedPeer: bob });
    expect(run('attestation', bytes)).toMatchObject({ verdict: 'reject', reason: 'peer-binding' });
  });

  it("rejects a validator's signature published from another validator's peer", () => {
    // Bob's node publishes an envelope signed with Alice's key and claiming Bob's peer id.
    const bytes = wire('attestation', [attestation(alice, 3n)], { signedBy: alice, claimedPeer: bob });
    expect(run('attestation', bytes)).toMatchObject({ verdict: 'reject', reason: 'peer-binding' });
  });

  it('accepts the same envelope however it is forwarded, and reports the publishing peer', () => {
    const v = run('attestation', wire('attestation', [attestation(bob, 12n)], { signedBy: bob }));
    expect(v).toMatchObject({ verdict: 'accept', signer: bob.address, peerId: bob.peerId });
  });

  it('rejects signers that are not registered validators (observers included)', () => {
    const bytes = wire('heartbeat', [heartbeat()], { signedBy: outsider });
    expect(run('heartbeat', bytes)).toMatchObject({ verdict: 'reject', reason: 'unknown-signer' });
  });

  it('rejects an attestation whose inner signature is by someone else', () => {
    const forged = attestation(bob, 4n);
    expect(run('attestation', wire('attestation', [forged]))).toMatchObject({ verdict: 'reject', reason: 'bad-item-signature' });
  });

  it('rejects a witness with a high-S signature', () => {
    const w = payoutWitness(alice);
    const sig = Uint8Array.from(w.inputs[0]!.signature);
    sig.set(new Uint8Array(32).fill(0xff), 32); // S above n/2
    w.inputs[0] = { index: w.inputs[0]!.index, signature: sig };
    expect(run('payout-witness', wire('payout-witness', [w]))).toMatchObject({ verdict: 'reject' });
  });

  it('ignores duplicates, also inside a batch, and still delivers the new items of a batch', () => {
    const a = attestation(alice, 5n);
    expect(run('attestation', wire('attestation', [a]))).toMatchObject({ verdict: 'accept' });
    // Same item again in a later envelope: duplicate.
    expect(run('attestation', wire('attestation', [a], { timestampMs: NOW + 1 }))).toMatchObject({ verdict: 'ignore', reason: 'duplicate' });
    const b = attestation(alice, 6n);
    const v = run('attestation', wire('attestation', [a, b, b], { timestampMs: NOW + 2 }));
    expect(v.verdict).toBe('accept');
    if (v.verdict === 'accept') expect(v.fresh).toEqual([b]);
  });

  it('delivers two different decisions for one height (equivocation is for consensus to judge)', () => {
    expect(run('attestation', wire('attestation', [attestation(alice, 9n)])).verdict).toBe('accept');
    expect(run('attestation', wire('attestation', [attestation(alice, 9n)], { timestampMs: NOW + 1 })).verdict).toBe('accept');
  });

  it('ignores stale and far-future messages, and heartbeats that do not move forward', () => {
    expect(run('heartbeat', wire('heartbeat', [heartbeat()], { timestampMs: NOW - 120_001 }))).toMatchObject({ verdict: 'ignore', reason: 'stale' });
    expect(run('heartbeat', wire('heartbeat', [heartbeat()], { timestampMs: NOW + 30_001 }))).toMatchObject({ verdict: 'ignore', reason: 'future' });
    expect(run('heartbeat', wire('heartbeat', [heartbeat(1n)], { timestampMs: NOW })).verdict).toBe('accept');
    expect(run('heartbeat', wire('heartbeat', [heartbeat(2n)], { timestampMs: NOW - 1 })).verdict).toBe('ignore');
    expect(run('heartbeat', wire('heartbeat', [heartbeat(3n)], { timestampMs: NOW + 1 })).verdict).toBe('accept');
  });

  it('follows allowlist refreshes', () => {
    const bytes = wire('attestation', [attestation(bob, 11n)], { signedBy: bob });
    state.peers.update({ validators: [validatorEntry(alice)], observers: [] });
    expect(run('attestation', bytes)).toMatchObject({ verdict: 'reject', reason: 'unknown-signer' });
    state.peers.update({ validators: [validatorEntry(alice), validatorEntry(bob)], observers: [] });
    expect(run('attestation', bytes).verdict).toBe('accept');
  });

  it('accepts a payout witness over arbitrary sighashes (checked later by consensus)', () => {
    const w = { batchId: 1n, version: 0n, txid: rand(32), inputs: [{ index: 0, signature: signDigest(rand(32), bob.signingKey) }] };
    expect(run('payout-witness', wire('payout-witness', [w])).verdict).toBe('accept');
  });
});

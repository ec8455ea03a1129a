import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkBody, decodeEnvelope, decodeRlpItem, encodeEnvelope, encodeRlpItem } from '../../../src/node/p2p/codec.js';
import { envelopeDigest, recoverEnvelopeSigner, signEnvelope } from '../../../src/node/p2p/envelope.js';
import { DEFAULT_CODEC_LIMITS, type Envelope, type MessageBody } from '../../../src/node/p2p/messages.js';
import { MESSAGE_KINDS, type MessageKind } from '../../../src/node/p2p/topics.js';
import { attestation, heartbeat, makeIdentity, payoutWitness, rand, reobserveRange, type TestIdentity } from './helpers.js';

const L = DEFAULT_CODEC_LIMITS;
let id: TestIdentity;
beforeAll(async () => {
  id = await makeIdentity();
});

function sample(kind: MessageKind): MessageBody[] {
  switch (kind) {
    case 'attestation': return [attestation(id, 0n), attestation(id, 840_000n)];
    case 'payout-witness': return [payoutWitness(id)];
    case 'heartbeat': return [heartbeat()];
    case 'reobserve': return [reobserveRange(), { chain: 'home', fromHeight: 0n, toHeight: 0n, itemIds: [rand(32), rand(32)] }];
  }
}

function envelopeOf(kind: MessageKind, items: MessageBody[], network = 'devnet'): Envelope {
  return signEnvelope(network, id.signer, { kind, peerId: id.peerIdBytes, timestampMs: 1_700_000_000_000n, items });
}

describe('envelope codec', () => {
  it.each(MESSAGE_KINDS)('round-trips %s envelopes and recovers the signer', (kind) => {
    const env = envelopeOf(kind, sample(kind));
    const bytes = encodeEnvelope(env);
    const back = decodeEnvelope(kind, bytes, L);
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(encodeEnvelope(back.envelope)).toEqual(bytes);
    expect(back.envelope.items).toEqual(env.items);
    expect(recoverEnvelopeSigner('devnet', back.envelope)).toEqual(id.signer.address);
  });

  it('binds the signature to network, kind, peer id, timestamp and items', () => {
    const env = envelopeOf('attestation', sample('attestation'));
    const base = envelopeDigest('devnet', env);
    expect(envelopeDigest('testnet', env)).not.toEqual(base);
    expect(envelopeDigest('devnet', { ...env, peerId: rand(38) })).not.toEqual(base);
    expect(envelopeDigest('devnet', { ...env, timestampMs: env.timestampMs + 1n })).not.toEqual(base);
    expect(envelopeDigest('devnet', { ...env, items: env.items.slice(1) })).not.toEqual(base);
    // Signed for devnet, verified as testnet: recovers some other address.
    expect(recoverEnvelopeSigner('testnet', env)).not.toEqual(id.signer.address);
  });

  it('refuses an envelope decoded on the wrong topic', () => {
    const bytes = encodeEnvelope(envelopeOf('heartbeat', sample('heartbeat')));
    expect(decodeEnvelope('attestation', bytes, L)).toEqual({ ok: false, reason: 'kind' });
  });

  it('refuses non-canonical integers and RLP framing', () => {
    const env = envelopeOf('attestation', sample('attestation'));
    const root = decodeRlpItem(encodeEnvelope(env)) as Uint8Array[];
    // Timestamp with a leading zero byte.
    const padded = [...root];
    padded[3] = Uint8Array.from([0, ...(root[3] as Uint8Array)]);
    expect(decodeEnvelope('attestation', encodeRlpItem(padded), L).ok).toBe(false);
    // Single byte 0x05 written as a one-byte string (0x81 0x05) instead of itself.
    const hb = envelopeOf('heartbeat', [{ ...heartbeat(5n) }]);
    const hbBytes = encodeEnvelope(hb);
    const at = hbBytes.indexOf(0x05);
    expect(at).toBeGreaterThan(0);
    const bad = Uint8Array.from([...hbBytes.subarray(0, at), 0x81, ...hbBytes.subarray(at)]);
    expect(decodeEnvelope('heartbeat', bad, L).ok).toBe(false);
  });

  it('enforces item bounds', () => {
    const many = Array.from({ length: L.maxItemsPerEnvelope + 1 }, (_, i) => attestation(id, BigInt(i)));
    expect(decodeEnvelope('attestation', encodeEnvelope(envelopeOf('attestation', many)), L)).toEqual({ ok: false, reason: 'items' });
    expect(decodeEnvelope('heartbeat', encodeEnvelope(envelopeOf('heartbeat', [heartbeat(), heartbeat()])), L).ok).toBe(false);
    const unordered = payoutWitness(id);
    unordered.inputs = [unordered.inputs[1]!, unordered.inputs[0]!];
    expect(checkBody('payout-witness', unordered, L)).toBe(false);
    expect(checkBody('reobserve', reobserveRange(20n, 10n), L)).toBe(false);
    expect(checkBody('reobserve', reobserveRange(0n, BigInt(L.maxReobserveSpan)), L)).toBe(false);
    expect(checkBody('reobserve', { chain: 'home', fromHeight: 1n, toHeight: 1n, itemIds: [rand(32)] }, L)).toBe(false);
    expect(checkBody('heartbeat', { ...heartbeat(), softwareVersion: 'bad\nversion' }, L)).toBe(false);
    expect(checkBody('attestation', { ...attestation(id, 1n), decisionHash: rand(31) }, L)).toBe(false);
    expect(checkBody('attestation', { ...attestation(id, 1n), networkTypeSectionHash: rand(33) }, L)).toBe(false);
    expect(checkBody('attestation', { ...attestation(id, 1n), height: 1n << 64n }, L)).toBe(false);
    expect(checkBody('attestation', attestation(id, (1n << 64n) - 1n), L)).toBe(true);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(...MESSAGE_KINDS), (bytes, kind) => {
        const r = decodeEnvelope(kind, bytes, L);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2_000 },
    );
  });

  it('never accepts a mutated envelope as the original', () => {
    const bytes = encodeEnvelope(envelopeOf('attestation', sample('attestation')));
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        const m = Uint8Array.from(bytes);
        m[pos] = (m[pos] as number) ^ xor;
        const r = decodeEnvelope('attestation', m, L);
        // Either malformed, or it decodes but no longer verifies as the same signer.
        if (r.ok) expect(recoverEnvelopeSigner('devnet', r.envelope)).not.toEqual(id.signer.address);
      }),
      { numRuns: 1_000 },
    );
  });
});

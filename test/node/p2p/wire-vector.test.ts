import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { computeAddress, concat, encodeRlp, hexlify, keccak256, recoverAddress, Signature, toUtf8Bytes } from 'ethers';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../../../src/node/p2p/codec.js';
import { createLocalEnvelopeSigner, ENVELOPE_DOMAIN, signEnvelope } from '../../../src/node/p2p/envelope.js';
import { DEFAULT_CODEC_LIMITS } from '../../../src/node/p2p/messages.js';

/**
 * The worked example of docs/P2P.md §4, checked against ethers as an
 * independent RLP / keccak / ecrecover implementation.
 */
const HEARTBEAT_WIRE =
  '0xf88b0103a60024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c86018bcfe56800'
  + 'd7d68d6665646e6f64652f302e312e308204d2830cd14080'
  + 'b841c0d58e2312afa5341d4c358d955c86f4b3cf93a9c6fb21f31947676f9ea18daa3ef0a9517cd06171cbaad3809ec13db0b67a337020a41c2a3da1d0692d0a7b8901';

describe('wire vector (docs/P2P.md)', () => {
  it('reproduces the documented heartbeat envelope byte for byte', async () => {
    const networkKey = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1));
    const peerId = peerIdFromPrivateKey(networkKey).toMultihash().bytes;
    const signingKey = new Uint8Array(32).fill(2);
    const env = signEnvelope('devnet', createLocalEnvelopeSigner(signingKey), {
      kind: 'heartbeat',
      peerId,
      timestampMs: 1_700_000_000_000n,
      items: [{ softwareVersion: 'fednode/0.1.0', homeHeight: 1234n, foreignHeight: 840_000n, lastSignedHeight: 0n }],
    });
    const wire = encodeEnvelope(env);
    expect(hexlify(wire)).toBe(HEARTBEAT_WIRE);
    expect(decodeEnvelope('heartbeat', wire, DEFAULT_CODEC_LIMITS).ok).toBe(true);

    // Independent check of the signing rule with ethers.
    expect(new TextDecoder().decode(ENVELOPE_DOMAIN)).toBe('\x19fednode p2p envelope:\n');
    const signed = encodeRlp([
      hexlify(toUtf8Bytes('devnet')), '0x01', '0x03', hexlify(peerId), '0x018bcfe56800',
      [[hexlify(toUtf8Bytes('fednode/0.1.0')), '0x04d2', '0x0cd140', '0x']],
    ]);
    const digest = keccak256(concat([ENVELOPE_DOMAIN, signed]));
    const sig = env.signature;
    const recovered = recoverAddress(digest, Signature.from({
      r: hexlify(sig.subarray(0, 32)), s: hexlify(sig.subarray(32, 64)), v: 27 + (sig[64] as number),
    }));
    expect(recovered).toBe(computeAddress(hexlify(signingKey)));
  });
});

import { keccak_256 } from '@noble/hashes/sha3.js';
import { encodeRlpItem, envelopeSignedFields } from './codec.js';
import type { Envelope, MessageBody } from './messages.js';
import { addressOfPrivateKey, isValidPrivateKey, recoverAddress, signDigest } from './secp256k1-native.js';
import type { MessageKind } from './topics.js';
import { BridgeError } from '../../errors.js';

/**
 * Domain separation for envelope signatures. The leading 0x19 can never start
 * an RLP list (>= 0xc0), an Ethereum transaction or a BTP decision, and the
 * digest is keccak256 while Bitcoin sighashes are double SHA-256, so an
 * envelope signature can never be presented as a signature over a BTP decision
 * or a federation spend (DESIGN.md §2, slashing).
 */
export const ENVELOPE_DOMAIN: Uint8Array = new TextEncoder().encode('\x19fednode p2p envelope:\n');

/** The validator's signing key as the p2p layer sees it: an address and a digest signer. */
export interface EnvelopeSigner {
  /** 20-byte Ethereum address of the signing key. */
  readonly address: Uint8Array;
  /** 65-byte R‖S‖V (V in {0,1}, low S) over a 32-byte digest, no pre-hashing. */
  signDigest(digest: Uint8Array): Uint8Array;
}

/** An EnvelopeSigner holding a raw 32-byte key in memory (tests, simple setups). */
export function createLocalEnvelopeSigner(privateKey: Uint8Array): EnvelopeSigner {
  if (!isValidPrivateKey(privateKey)) throw new BridgeError({ code: 'P2P_BAD_SIGNING_KEY' });
  const key = Uint8Array.from(privateKey);
  return { address: addressOfPrivateKey(key), signDigest: (digest) => signDigest(digest, key) };
}

/** keccak256(ENVELOPE_DOMAIN ‖ RLP([network, version, kind, peerId, timestampMs, items])). */
export function envelopeDigest(network: string, env: Omit<Envelope, 'signature'>): Uint8Array {
  const body = encodeRlpItem([new TextEncoder().encode(network), ...envelopeSignedFields(env)]);
  const pre = new Uint8Array(ENVELOPE_DOMAIN.length + body.length);
  pre.set(ENVELOPE_DOMAIN, 0);
  pre.set(body, ENVELOPE_DOMAIN.length);
  return keccak_256(pre);
}

export function signEnvelope<K extends MessageKind>(
  network: string,
  signer: EnvelopeSigner,
  fields: { kind: K; peerId: Uint8Array; timestampMs: bigint; items: MessageBody<K>[] },
): Envelope<K> {
  return { ...fields, signature: signer.signDigest(envelopeDigest(network, fields)) };
}

/** Address that signed the envelope, or undefined when the signature is bad. */
export function recoverEnvelopeSigner(network: string, env: Envelope): Uint8Array | undefined {
  return recoverAddress(envelopeDigest(network, env), env.signature);
}

import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bodyToRlp, decodeEnvelope, encodeRlpItem } from './codec.js';
import { recoverEnvelopeSigner } from './envelope.js';
import type {
  Attestation,
  CodecLimits,
  Envelope,
  Heartbeat,
  MessageBody,
  PayoutWitness,
  ReobservationRequest,
} from './messages.js';
import type { PeerSet } from './peer-set.js';
import { isCanonicalSignature, recoverAddress } from './secp256k1-native.js';
import type { SeenCache } from './seen-cache.js';
import type { MessageKind } from './topics.js';

/**
 * All gossip validation lives here. Gossipsub semantics: `reject` means the
 * sender misbehaved (score penalty), `ignore` means drop without blame
 * (duplicates, stale, not for us), `accept` means deliver and forward.
 */
export type Verdict = 'accept' | 'ignore' | 'reject';

export type RejectReason =
  | 'malformed'
  | 'bad-signature'
  | 'unknown-signer'
  | 'peer-binding'
  | 'bad-item-signature';
export type IgnoreReason = 'stale' | 'future' | 'duplicate';

export interface ValidationState {
  network: string;
  limits: CodecLimits;
  peers: PeerSet;
  seen: SeenCache;
  /** Last accepted heartbeat timestamp per signer (lowercase 0x address). */
  lastHeartbeatMs: Map<string, bigint>;
  /** Messages older than this are stale. */
  maxAgeMs: number;
  /** Messages further than this in the future are ignored (clock skew allowance). */
  maxFutureMs: number;
}

export type EnvelopeVerdict<K extends MessageKind> =
  | { verdict: 'reject'; reason: RejectReason; detail?: string }
  | { verdict: 'ignore'; reason: IgnoreReason }
    /** `peerId`: the signer's registered peer id, which the envelope names (the publishing node). */
  | { verdict: 'accept'; signer: string; peerId: string; envelope: Envelope<K>; fresh: MessageBody<K>[]; keys: string[] };

/** Per-item result: the dedup key of an acceptable item, or a verdict against it. */
export type ItemCheck = { verdict: 'accept'; key: string } | { verdict: 'ignore'; reason: IgnoreReason } | { verdict: 'reject' };

/** What an item validator knows: the envelope it came in and who signed it. */
export interface ItemContext {
  /** Lowercase 0x address. */
  signer: string;
  signerBytes: Uint8Array;
  envelope: Envelope;
  state: ValidationState;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------- one function per message type

/** The inner signature must be the envelope signer's over the decision hash. */
export function validateAttestation(a: Attestation, ctx: ItemContext): ItemCheck {
  const inner = recoverAddress(a.decisionHash, a.signature);
  if (inner === undefined || !sameBytes(inner, ctx.signerBytes)) return { verdict: 'reject' };
  return { verdict: 'accept', key: `a:${ctx.signer}:${a.height}:${bytesToHex(a.decisionHash)}` };
}

/** Signatures must be canonical; whether they match the sighash is the consensus layer's check. */
export function validatePayoutWitness(w: PayoutWitness, ctx: ItemContext): ItemCheck {
  if (!w.inputs.every((i) => isCanonicalSignature(i.signature))) return { verdict: 'reject' };
  return { verdict: 'accept', key: `w:${ctx.signer}:${w.batchId}:${w.version}:${bytesToHex(w.txid)}` };
}

/** Heartbeats only move forward in time per validator. */
export function validateHeartbeat(_h: Heartbeat, ctx: ItemContext): ItemCheck {
  const last = ctx.state.lastHeartbeatMs.get(ctx.signer);
  if (last !== undefined && ctx.envelope.timestampMs <= last) return { verdict: 'ignore', reason: 'duplicate' };
  return { verdict: 'accept', key: `h:${ctx.signer}:${ctx.envelope.timestampMs}` };
}

/** Shape and bounds are enforced by the codec; dedup by content. */
export function validateReobservationRequest(r: ReobservationRequest, ctx: ItemContext): ItemCheck {
  const digest = keccak_256(encodeRlpItem(bodyToRlp('reobserve', r)));
  return { verdict: 'accept', key: `r:${ctx.signer}:${bytesToHex(digest)}` };
}

const ITEM_VALIDATORS: { [K in MessageKind]: (body: MessageBody<K>, ctx: ItemContext) => ItemCheck } = {
  attestation: validateAttestation,
  'payout-witness': validatePayoutWitness,
  heartbeat: validateHeartbeat,
  reobserve: validateReobservationRequest,
};

// ---------------------------------------------------------------- envelope

/**
 * Validate one gossip message received on the topic of `kind`. Gossipsub runs
 * StrictNoSign (no `from`, no libp2p signature; the eth2 choice, consensus-specs
 * p2p-interface "StrictNoSign"): the origin is authenticated here, by the
 * envelope's signature over its peer id, checked against the peer id the
 * signer registered on the home contract. Pure except for reading `state`;
 * call {@link commitAccepted} after an accept to record what was delivered.
 */
export function validateEnvelope<K extends MessageKind>(
  kind: K,
  data: Uint8Array,
  state: ValidationState,
  nowMs: number,
): EnvelopeVerdict<K> {
  const decoded = decodeEnvelope(kind, data, state.limits);
  if (!decoded.ok) return { verdict: 'reject', reason: 'malformed', detail: decoded.reason };
  const env = decoded.envelope;
  // Cheap freshness checks before any signature work.
  if (env.timestampMs + BigInt(state.maxAgeMs) < BigInt(nowMs)) return { verdict: 'ignore', reason: 'stale' };
  if (env.timestampMs > BigInt(nowMs + state.maxFutureMs)) return { verdict: 'ignore', reason: 'future' };

  const signerBytes = recoverEnvelopeSigner(state.network, env);
  if (signerBytes === undefined) return { verdict: 'reject', reason: 'bad-signature' };
  const signer = `0x${bytesToHex(signerBytes)}`;
  const registered = state.peers.peerOfValidator(signer);
  if (registered === undefined) return { verdict: 'reject', reason: 'unknown-signer' };
  // The signed peer id must be the one the signer registered: a key lent to another node is refused.
  if (state.peers.peerBytesOfValidator(signer) !== bytesToHex(env.peerId)) return { verdict: 'reject', reason: 'peer-binding', detail: 'registered-vs-envelope' };

  const ctx: ItemContext = { signer, signerBytes, envelope: env, state };
  const check = ITEM_VALIDATORS[kind] as (body: MessageBody<K>, ctx: ItemContext) => ItemCheck;
  const fresh: MessageBody<K>[] = [];
  const keys = new Set<string>();
  for (const item of env.items) {
    const r = check(item, ctx);
    if (r.verdict === 'reject') return { verdict: 'reject', reason: 'bad-item-signature' };
    if (r.verdict === 'accept' && !keys.has(r.key) && !state.seen.has(r.key, nowMs)) {
      keys.add(r.key);
      fresh.push(item);
    }
  }
  if (fresh.length === 0) return { verdict: 'ignore', reason: 'duplicate' };
  return { verdict: 'accept', signer, peerId: registered, envelope: env, fresh, keys: [...keys] };
}

/** Record an accepted envelope's items so later copies are ignored. */
export function commitAccepted(
  kind: MessageKind,
  accepted: { signer: string; envelope: Envelope; keys: string[] },
  state: ValidationState,
  nowMs: number,
): void {
  if (kind === 'heartbeat') state.lastHeartbeatMs.set(accepted.signer, accepted.envelope.timestampMs);
  for (const key of accepted.keys) state.seen.add(key, nowMs);
}

import type {
  Attestation,
  CodecLimits,
  Envelope,
  Heartbeat,
  InputSignature,
  MessageBodies,
  MessageBody,
  ObservedChain,
  PayoutWitness,
  ReobservationRequest,
} from './messages.js';
import { decodeRlp, encodeRlp, type RlpItem } from './rlp.js';
import { KIND_CODE, type MessageKind } from './topics.js';

/**
 * Wire codec: Ethereum RLP (rlp.ts), integers as minimal big-endian unsigned
 * bytes (zero = empty string). Decoding is strict: anything that does not
 * re-encode to the identical bytes is malformed, so every message has exactly
 * one encoding and its hash identifies it.
 */
export type { RlpItem } from './rlp.js';

export const ENVELOPE_VERSION = 1;
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_SOFTWARE_VERSION_BYTES = 64;
const CHAIN_CODE: Readonly<Record<ObservedChain, number>> = { foreign: 1, home: 2 };

// ---------------------------------------------------------------- primitives

export function uintBytes(v: bigint | number): Uint8Array {
  let n = BigInt(v);
  if (n < 0n) throw new RangeError('negative integer');
  const out: number[] = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Uint8Array.from(out);
}

/** Minimal unsigned integer of at most 8 bytes, or undefined. */
function readUint(item: RlpItem | undefined): bigint | undefined {
  if (!(item instanceof Uint8Array) || item.length > 8) return undefined;
  if (item.length > 0 && item[0] === 0) return undefined;
  let v = 0n;
  for (const b of item) v = (v << 8n) | BigInt(b);
  return v;
}

function readSmallUint(item: RlpItem | undefined, max: number): number | undefined {
  const v = readUint(item);
  return v === undefined || v > BigInt(max) ? undefined : Number(v);
}

function readFixed(item: RlpItem | undefined, len: number): Uint8Array | undefined {
  return item instanceof Uint8Array && item.length === len ? item : undefined;
}

function readList(item: RlpItem | undefined, len?: number): RlpItem[] | undefined {
  if (!Array.isArray(item)) return undefined;
  return len === undefined || item.length === len ? item : undefined;
}

export function encodeRlpItem(item: RlpItem): Uint8Array {
  return encodeRlp(item);
}

/** Decode canonical RLP bytes; undefined on any framing error. */
export function decodeRlpItem(bytes: Uint8Array): RlpItem | undefined {
  return decodeRlp(bytes);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- bodies

function attestationToRlp(a: Attestation): RlpItem {
  return [uintBytes(a.height), a.decisionHash, a.networkTypeSectionHash, a.signature];
}

function attestationFromRlp(item: RlpItem): Attestation | undefined {
  const l = readList(item, 4);
  if (l === undefined) return undefined;
  const height = readUint(l[0]);
  const decisionHash = readFixed(l[1], 32);
  const networkTypeSectionHash = readFixed(l[2], 32);
  const signature = readFixed(l[3], 65);
  if (height === undefined || decisionHash === undefined || networkTypeSectionHash === undefined || signature === undefined) return undefined;
  return { height, decisionHash, networkTypeSectionHash, signature };
}

function witnessToRlp(w: PayoutWitness): RlpItem {
  return [
    uintBytes(w.batchId),
    uintBytes(w.version),
    w.txid,
    w.inputs.map((i) => [uintBytes(i.index), i.signature]),
  ];
}

function witnessFromRlp(item: RlpItem, limits: CodecLimits): PayoutWitness | undefined {
  const l = readList(item, 4);
  if (l === undefined) return undefined;
  const batchId = readUint(l[0]);
  const version = readUint(l[1]);
  const txid = readFixed(l[2], 32);
  const rawInputs = readList(l[3]);
  if (batchId === undefined || version === undefined || txid === undefined || rawInputs === undefined) return undefined;
  if (rawInputs.length === 0 || rawInputs.length > limits.maxInputsPerWitness) return undefined;
  const inputs: InputSignature[] = [];
  for (const raw of rawInputs) {
    const pair = readList(raw, 2);
    const index = readSmallUint(pair?.[0], 0xffff_ffff);
    const signature = readFixed(pair?.[1], 65);
    if (index === undefined || signature === undefined) return undefined;
    const prev = inputs[inputs.length - 1];
    if (prev !== undefined && index <= prev.index) return undefined;
    inputs.push({ index, signature });
  }
  return { batchId, version, txid, inputs };
}

function heartbeatToRlp(h: Heartbeat): RlpItem {
  return [
    new TextEncoder().encode(h.softwareVersion),
    uintBytes(h.homeHeight),
    uintBytes(h.foreignHeight),
    uintBytes(h.lastSignedHeight),
  ];
}

function isPrintableAscii(b: Uint8Array): boolean {
  for (const c of b) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

function heartbeatFromRlp(item: RlpItem): Heartbeat | undefined {
  const l = readList(item, 4);
  if (l === undefined) return undefined;
  const sv = l[0];
  if (!(sv instanceof Uint8Array) || sv.length === 0 || sv.length > MAX_SOFTWARE_VERSION_BYTES || !isPrintableAscii(sv)) {
    return undefined;
  }
  const homeHeight = readUint(l[1]);
  const foreignHeight = readUint(l[2]);
  const lastSignedHeight = readUint(l[3]);
  if (homeHeight === undefined || foreignHeight === undefined || lastSignedHeight === undefined) return undefined;
  return { softwareVersion: new TextDecoder().decode(sv), homeHeight, foreignHeight, lastSignedHeight };
}

function reobserveToRlp(r: ReobservationRequest): RlpItem {
  return [uintBytes(CHAIN_CODE[r.chain]), uintBytes(r.fromHeight), uintBytes(r.toHeight), r.itemIds];
}

function reobserveFromRlp(item: RlpItem, limits: CodecLimits): ReobservationRequest | undefined {
  const l = readList(item, 4);
  if (l === undefined) return undefined;
  const code = readSmallUint(l[0], 255);
  const chain: ObservedChain | undefined = code === 1 ? 'foreign' : code === 2 ? 'home' : undefined;
  const fromHeight = readUint(l[1]);
  const toHeight = readUint(l[2]);
  const rawIds = readList(l[3]);
  if (chain === undefined || fromHeight === undefined || toHeight === undefined || rawIds === undefined) return undefined;
  const itemIds: Uint8Array[] = [];
  for (const raw of rawIds) {
    const id = readFixed(raw, 32);
    if (id === undefined) return undefined;
    itemIds.push(id);
  }
  if (itemIds.length === 0) {
    // Range mode: a bounded, non-empty span.
    if (fromHeight > toHeight || toHeight - fromHeight >= BigInt(limits.maxReobserveSpan)) return undefined;
  } else if (itemIds.length > limits.maxReobserveIds || fromHeight !== 0n || toHeight !== 0n) {
    return undefined;
  }
  return { chain, fromHeight, toHeight, itemIds };
}

type BodyCodec<K extends MessageKind> = {
  toRlp(body: MessageBodies[K]): RlpItem;
  fromRlp(item: RlpItem, limits: CodecLimits): MessageBodies[K] | undefined;
  /** Items per envelope for this kind (heartbeats are never batched). */
  maxItems(limits: CodecLimits): number;
};

const BODY_CODECS: { [K in MessageKind]: BodyCodec<K> } = {
  attestation: { toRlp: attestationToRlp, fromRlp: attestationFromRlp, maxItems: (l) => l.maxItemsPerEnvelope },
  // One batch is in flight at a time and a witness can be large: never batched.
  'payout-witness': { toRlp: witnessToRlp, fromRlp: witnessFromRlp, maxItems: () => 1 },
  heartbeat: { toRlp: heartbeatToRlp, fromRlp: heartbeatFromRlp, maxItems: () => 1 },
  reobserve: { toRlp: reobserveToRlp, fromRlp: reobserveFromRlp, maxItems: (l) => l.maxItemsPerEnvelope },
};

export function maxItemsFor(kind: MessageKind, limits: CodecLimits): number {
  return BODY_CODECS[kind].maxItems(limits);
}

export function bodyToRlp<K extends MessageKind>(kind: K, body: MessageBody<K>): RlpItem {
  return (BODY_CODECS[kind] as BodyCodec<K>).toRlp(body);
}

// ---------------------------------------------------------------- envelope

/** The envelope fields covered by the signature, in wire order. */
export function envelopeSignedFields(env: Omit<Envelope, 'signature'>): RlpItem[] {
  return [
    uintBytes(ENVELOPE_VERSION),
    uintBytes(KIND_CODE[env.kind]),
    env.peerId,
    uintBytes(env.timestampMs),
    env.items.map((item) => bodyToRlp(env.kind, item)),
  ];
}

export function encodeEnvelope(env: Envelope): Uint8Array {
  return encodeRlpItem([...envelopeSignedFields(env), env.signature]);
}

/** Why a message could not be decoded (for logs and metrics; every reason is a reject). */
export type DecodeFailure = 'too-large' | 'rlp' | 'shape' | 'version' | 'kind' | 'items' | 'non-canonical';

export type DecodeResult<K extends MessageKind> =
  | { ok: true; envelope: Envelope<K> }
  | { ok: false; reason: DecodeFailure };

/**
 * Decode an envelope received on the topic of `kind`. Total: returns a reason
 * instead of throwing on any input.
 */
export function decodeEnvelope<K extends MessageKind>(kind: K, bytes: Uint8Array, limits: CodecLimits): DecodeResult<K> {
  if (bytes.length > limits.maxEnvelopeBytes) return { ok: false, reason: 'too-large' };
  const root = decodeRlpItem(bytes);
  if (root === undefined) return { ok: false, reason: 'rlp' };
  const l = readList(root, 6);
  if (l === undefined) return { ok: false, reason: 'shape' };
  if (readUint(l[0]) !== BigInt(ENVELOPE_VERSION)) return { ok: false, reason: 'version' };
  if (readUint(l[1]) !== BigInt(KIND_CODE[kind])) return { ok: false, reason: 'kind' };
  const peerId = l[2];
  const timestampMs = readUint(l[3]);
  const rawItems = readList(l[4]);
  const signature = readFixed(l[5], 65);
  if (!(peerId instanceof Uint8Array) || peerId.length === 0 || peerId.length > 64 || timestampMs === undefined
    || timestampMs > MAX_UINT64 || rawItems === undefined || signature === undefined) {
    return { ok: false, reason: 'shape' };
  }
  const codec = BODY_CODECS[kind] as BodyCodec<K>;
  if (rawItems.length === 0 || rawItems.length > codec.maxItems(limits)) return { ok: false, reason: 'items' };
  const items: MessageBody<K>[] = [];
  for (const raw of rawItems) {
    const body = codec.fromRlp(raw, limits);
    if (body === undefined) return { ok: false, reason: 'items' };
    items.push(body);
  }
  const envelope: Envelope<K> = { kind, peerId, timestampMs, items, signature };
  if (!equalBytes(encodeEnvelope(envelope), bytes)) return { ok: false, reason: 'non-canonical' };
  return { ok: true, envelope };
}

/**
 * True when `body` encodes to an item peers would decode back identically
 * (right lengths, bounds, ordering). Used before publishing so a caller bug
 * never costs this node gossip score.
 */
export function checkBody<K extends MessageKind>(kind: K, body: MessageBody<K>, limits: CodecLimits): boolean {
  try {
    const codec = BODY_CODECS[kind] as BodyCodec<K>;
    const bytes = encodeRlpItem(codec.toRlp(body));
    const item = decodeRlpItem(bytes);
    const back = item === undefined ? undefined : codec.fromRlp(item, limits);
    return back !== undefined && equalBytes(encodeRlpItem(codec.toRlp(back)), bytes);
  } catch {
    return false;
  }
}

import { BridgeError } from '../../errors.js';

/**
 * ICON's RLP variant (goloop `codec`, btp2-solidity RLPEncode/RLPDecode):
 * Ethereum RLP framing, plus
 *  - nil, for a byte string or a list, is `0xf8 0x00`;
 *  - integers are signed two's-complement, minimal big-endian, zero is the
 *    one byte `0x00` (so 0x80 encodes as `0x820080`).
 * An item is a byte string, a list of items, or null (nil).
 */
export type RlpItem = Uint8Array | RlpList | null;
export type RlpList = RlpItem[];

export type RlpErrorCode =
  | 'RLP_TRUNCATED'
  | 'RLP_TRAILING_BYTES'
  | 'RLP_NON_CANONICAL'
  | 'RLP_WRONG_TYPE'
  | 'RLP_TOO_DEEP'
  | 'RLP_INT_RANGE';

export interface RlpDecodeOptions {
  /** Nesting limit; guards the decoder's recursion against hostile input. */
  maxDepth: number;
}

export const DEFAULT_RLP_DECODE_OPTIONS: RlpDecodeOptions = { maxDepth: 64 };

const NIL = Uint8Array.of(0xf8, 0x00);

function rlpError(code: RlpErrorCode, context: Record<string, unknown> = {}): BridgeError<RlpErrorCode> {
  return new BridgeError({ code, ...context });
}

function lengthBytes(len: number): Uint8Array {
  const out: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Uint8Array.from(out);
}

function header(shortBase: number, len: number): Uint8Array {
  if (len < 56) return Uint8Array.of(shortBase + len);
  const lb = lengthBytes(len);
  const out = new Uint8Array(1 + lb.length);
  out[0] = shortBase + 55 + lb.length;
  out.set(lb, 1);
  return out;
}

/** Encodes an item tree. */
export function rlpEncode(item: RlpItem): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(item, parts);
  return concat(parts);
}

function encodeInto(item: RlpItem, parts: Uint8Array[]): number {
  if (item === null) {
    parts.push(NIL);
    return 2;
  }
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) {
      parts.push(item);
      return 1;
    }
    const h = header(0x80, item.length);
    parts.push(h, item);
    return h.length + item.length;
  }
  const slot = parts.length;
  parts.push(new Uint8Array(0));
  let len = 0;
  for (const child of item) len += encodeInto(child, parts);
  const h = header(0xc0, len);
  parts[slot] = h;
  return h.length + len;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Decodes exactly one item spanning all of `data`. Rejects truncation, trailing
 * bytes and every non-canonical form (a single byte < 0x80 behind a prefix,
 * long form for < 56 bytes, length with leading zeros), except nil `f800`.
 * Throws only BridgeErrors with an `RLP_*` code.
 */
export function rlpDecode(data: Uint8Array, opts: RlpDecodeOptions = DEFAULT_RLP_DECODE_OPTIONS): RlpItem {
  const [item, end] = decodeAt(data, 0, data.length, 0, opts.maxDepth);
  if (end !== data.length) throw rlpError('RLP_TRAILING_BYTES', { offset: end, length: data.length });
  return item;
}

function readLength(data: Uint8Array, pos: number, lenOfLen: number, limit: number): number {
  if (pos + lenOfLen > limit) throw rlpError('RLP_TRUNCATED', { offset: pos });
  if (data[pos] === 0) throw rlpError('RLP_NON_CANONICAL', { offset: pos, reason: 'length with leading zero' });
  if (lenOfLen > 6) throw rlpError('RLP_TRUNCATED', { offset: pos, reason: 'length too large' });
  let len = 0;
  for (let i = 0; i < lenOfLen; i++) len = len * 256 + data[pos + i]!;
  if (len < 56) throw rlpError('RLP_NON_CANONICAL', { offset: pos, reason: 'long form for short length' });
  return len;
}

function decodeAt(data: Uint8Array, pos: number, limit: number, depth: number, maxDepth: number): [RlpItem, number] {
  if (pos >= limit) throw rlpError('RLP_TRUNCATED', { offset: pos });
  const b = data[pos]!;
  if (b < 0x80) return [data.subarray(pos, pos + 1), pos + 1];
  if (b <= 0xb7) {
    const len = b - 0x80;
    const start = pos + 1;
    if (start + len > limit) throw rlpError('RLP_TRUNCATED', { offset: pos });
    if (len === 1 && data[start]! < 0x80) {
      throw rlpError('RLP_NON_CANONICAL', { offset: pos, reason: 'single byte with prefix' });
    }
    return [data.subarray(start, start + len), start + len];
  }
  if (b <= 0xbf) {
    const lenOfLen = b - 0xb7;
    const len = readLength(data, pos + 1, lenOfLen, limit);
    const start = pos + 1 + lenOfLen;
    if (start + len > limit) throw rlpError('RLP_TRUNCATED', { offset: pos });
    return [data.subarray(start, start + len), start + len];
  }
  let len: number;
  let start: number;
  if (b <= 0xf7) {
    len = b - 0xc0;
    start = pos + 1;
  } else {
    const lenOfLen = b - 0xf7;
    if (b === 0xf8 && pos + 1 < limit && data[pos + 1] === 0) return [null, pos + 2];
    len = readLength(data, pos + 1, lenOfLen, limit);
    start = pos + 1 + lenOfLen;
  }
  const end = start + len;
  if (end > limit) throw rlpError('RLP_TRUNCATED', { offset: pos });
  if (depth >= maxDepth) throw rlpError('RLP_TOO_DEEP', { offset: pos, maxDepth });
  const items: RlpList = [];
  let p = start;
  while (p < end) {
    const [child, next] = decodeAt(data, p, end, depth + 1, maxDepth);
    items.push(child);
    p = next;
  }
  return [items, end];
}

// ---- typed accessors: every structure decoder goes through these ----

export function describe(item: RlpItem): string {
  if (item === null) return 'nil';
  return item instanceof Uint8Array ? 'bytes' : 'list';
}

/** A list with exactly `n` elements (or at least `n` when `exact` is false). */
export function asList(item: RlpItem | undefined, what: string, n?: number): RlpList {
  if (item === undefined || item === null || item instanceof Uint8Array) {
    throw rlpError('RLP_WRONG_TYPE', { field: what, expected: 'list', got: item === undefined ? 'missing' : describe(item) });
  }
  if (n !== undefined && item.length !== n) {
    throw rlpError('RLP_WRONG_TYPE', { field: what, expected: `list of ${n}`, got: `list of ${item.length}` });
  }
  return item;
}

/** A list or nil (kept distinct so re-encoding reproduces the bytes). */
export function asListOrNil(item: RlpItem | undefined, what: string): RlpList | null {
  if (item === null) return null;
  return asList(item, what);
}

export function asBytes(item: RlpItem | undefined, what: string, size?: number): Uint8Array {
  if (!(item instanceof Uint8Array)) {
    throw rlpError('RLP_WRONG_TYPE', { field: what, expected: 'bytes', got: item === undefined ? 'missing' : describe(item) });
  }
  if (size !== undefined && item.length !== size) {
    throw rlpError('RLP_WRONG_TYPE', { field: what, expected: `${size} bytes`, got: `${item.length} bytes` });
  }
  return item;
}

export function asBytesOrNil(item: RlpItem | undefined, what: string, size?: number): Uint8Array | null {
  if (item === null) return null;
  return asBytes(item, what, size);
}

/** UTF-8 text (network addresses, service names); invalid UTF-8 is RLP_WRONG_TYPE. */
export function asString(item: RlpItem | undefined, what: string): string {
  const b = asBytes(item, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw rlpError('RLP_WRONG_TYPE', { field: what, expected: 'utf-8 text' });
  }
}

// ---- integers ----

/** Minimal signed two's-complement big-endian bytes; zero is `00`. */
export function intToBytes(value: bigint | number): Uint8Array {
  const v = BigInt(value);
  // smallest n with -2^(8n-1) <= v < 2^(8n-1): the sign bit must survive
  let n = 1;
  while (v >= 1n << BigInt(8 * n - 1) || v < -(1n << BigInt(8 * n - 1))) n++;
  let u = v < 0n ? v + (1n << BigInt(8 * n)) : v;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

/** Inverse of {@link intToBytes}; rejects empty and non-minimal encodings. */
export function bytesToInt(b: Uint8Array, what = 'integer'): bigint {
  if (b.length === 0) throw rlpError('RLP_NON_CANONICAL', { field: what, reason: 'empty integer' });
  if (b.length > 1) {
    const b0 = b[0]!;
    const b1 = b[1]!;
    if ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80)) {
      throw rlpError('RLP_NON_CANONICAL', { field: what, reason: 'non-minimal integer' });
    }
  }
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0]! >= 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

export function asBigInt(item: RlpItem | undefined, what: string): bigint {
  return bytesToInt(asBytes(item, what), what);
}

/** A non-negative integer that fits a JS number exactly. */
export function asUint(item: RlpItem | undefined, what: string): number {
  const v = asBigInt(item, what);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw rlpError('RLP_INT_RANGE', { field: what });
  return Number(v);
}

export function intItem(value: bigint | number): Uint8Array {
  return intToBytes(value);
}

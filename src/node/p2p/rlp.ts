/**
 * Ethereum RLP over Uint8Array, byte-compatible with ethers' encodeRlp but
 * without hex-string round trips (ethers took hundreds of milliseconds for a
 * 60 KiB envelope here, blocking the event loop). Decoding is strict: only the
 * canonical encoding of a value is accepted.
 */
export type RlpItem = Uint8Array | RlpItem[];

function lengthOfLength(n: number): number {
  let k = 0;
  while (n > 0) {
    k++;
    n = Math.floor(n / 256);
  }
  return k;
}

function payloadLength(item: RlpItem): number {
  if (item instanceof Uint8Array) return item.length;
  let n = 0;
  for (const c of item) n += encodedLength(c);
  return n;
}

function encodedLength(item: RlpItem): number {
  if (item instanceof Uint8Array && item.length === 1 && (item[0] as number) < 0x80) return 1;
  const p = payloadLength(item);
  return p <= 55 ? 1 + p : 1 + lengthOfLength(p) + p;
}

function writeHeader(out: Uint8Array, off: number, short: number, long: number, p: number): number {
  if (p <= 55) {
    out[off] = short + p;
    return off + 1;
  }
  const k = lengthOfLength(p);
  out[off] = long + k;
  for (let i = k; i >= 1; i--) {
    out[off + i] = p & 0xff;
    p = Math.floor(p / 256);
  }
  return off + 1 + k;
}

function write(item: RlpItem, out: Uint8Array, off: number): number {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && (item[0] as number) < 0x80) {
      out[off] = item[0] as number;
      return off + 1;
    }
    off = writeHeader(out, off, 0x80, 0xb7, item.length);
    out.set(item, off);
    return off + item.length;
  }
  off = writeHeader(out, off, 0xc0, 0xf7, payloadLength(item));
  for (const c of item) off = write(c, out, off);
  return off;
}

export function encodeRlp(item: RlpItem): Uint8Array {
  const out = new Uint8Array(encodedLength(item));
  write(item, out, 0);
  return out;
}

const MAX_DEPTH = 16;

/** A plain Uint8Array copy (Buffer#slice would return a Buffer view of the message). */
function copy(b: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}

/** Decode one item spanning all of `bytes`; undefined unless canonical and complete. */
export function decodeRlp(bytes: Uint8Array): RlpItem | undefined {
  const r = decodeAt(bytes, 0, bytes.length, 0);
  return r !== undefined && r.end === bytes.length ? r.item : undefined;
}

function decodeAt(b: Uint8Array, off: number, limit: number, depth: number): { item: RlpItem; end: number } | undefined {
  if (off >= limit || depth > MAX_DEPTH) return undefined;
  const h = b[off] as number;
  if (h < 0x80) return { item: copy(b, off, off + 1), end: off + 1 };
  const isList = h >= 0xc0;
  const base = isList ? 0xc0 : 0x80;
  let start: number;
  let len: number;
  if (h - base <= 55) {
    len = h - base;
    start = off + 1;
  } else {
    const k = h - base - 55;
    if (off + 1 + k > limit || b[off + 1] === 0) return undefined;
    len = 0;
    for (let i = 1; i <= k; i++) len = len * 256 + (b[off + i] as number);
    if (len <= 55 || !Number.isSafeInteger(len)) return undefined;
    start = off + 1 + k;
  }
  const end = start + len;
  if (end > limit) return undefined;
  if (!isList) {
    // A single byte below 0x80 must be encoded as itself.
    if (len === 1 && (b[start] as number) < 0x80) return undefined;
    // Copied: handlers may keep fields long after the message buffer is gone.
    return { item: copy(b, start, end), end };
  }
  const items: RlpItem[] = [];
  let p = start;
  while (p < end) {
    const r = decodeAt(b, p, end, depth + 1);
    if (r === undefined) return undefined;
    items.push(r.item);
    p = r.end;
  }
  return { item: items, end };
}

/**
 * Classifying what an Ethereum JSON-RPC call threw. Two families matter for failover:
 * transport failures (the endpoint did not answer properly: refused, reset, timeout, HTTP 5xx,
 * garbage) move to the next endpoint; a JSON-RPC error reply (revert, nonce too low, ...) is the
 * node's deterministic answer and is returned to the caller unchanged.
 */

/** The JSON-RPC `error` object a node replied with. */
export interface JsonRpcErrorReply {
  code: number;
  message: string;
  data?: unknown;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}

function asReply(v: unknown): JsonRpcErrorReply | undefined {
  const r = asRecord(v);
  if (r === undefined || typeof r.code !== 'number' || typeof r.message !== 'string') return undefined;
  return { code: r.code, message: r.message, data: r.data };
}

/**
 * The node's JSON-RPC error reply inside an ethers error (`info.error` for errors ethers
 * recognised, `error` for "could not coalesce"), or undefined for a transport failure.
 */
export function jsonRpcErrorOf(err: unknown): JsonRpcErrorReply | undefined {
  const e = asRecord(err);
  if (e === undefined) return undefined;
  return asReply(asRecord(e.info)?.error) ?? asReply(e.error) ?? asReply(e);
}

/** True when the endpoint itself failed (not a JSON-RPC error reply). */
/** JSON-RPC replies that say "this endpoint, not your request" (provider rate limits): fail over. */
const ENDPOINT_LIMIT_CODES = new Set([-32005, 429]);

export function isTransportError(err: unknown): boolean {
  const reply = jsonRpcErrorOf(err);
  if (reply !== undefined) return ENDPOINT_LIMIT_CODES.has(reply.code);
  const e = asRecord(err);
  const code = e?.code;
  // ethers' own codes for protocol/HTTP failures, then Node socket errors.
  if (code === 'TIMEOUT' || code === 'NETWORK_ERROR' || code === 'SERVER_ERROR' || code === 'BAD_DATA') return true;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  const msg = String(e?.message ?? err);
  return /fetch failed|socket hang up|ECONN|EHOSTUNREACH|ETIMEDOUT|timeout|network/i.test(msg);
}

/**
 * Revert data (hex) carried by an `eth_call`/`eth_estimateGas` error, when the node sent any.
 * Nodes differ: geth puts it in `error.data`, Hardhat in `error.data.data`.
 */
export function revertDataOf(err: unknown): string | undefined {
  const e = asRecord(err);
  if (typeof e?.data === 'string' && e.data.startsWith('0x')) return e.data;
  const reply = jsonRpcErrorOf(err);
  const d = reply?.data;
  if (typeof d === 'string' && d.startsWith('0x')) return d;
  const inner = asRecord(d)?.data;
  if (typeof inner === 'string' && inner.startsWith('0x')) return inner;
  return undefined;
}

/** What a node meant when it refused a raw transaction. */
export type SendRejection = 'nonce-too-low' | 'nonce-too-high' | 'already-known' | 'underpriced' | 'insufficient-funds' | 'other';

/** Maps a refusal of `eth_sendRawTransaction` to a kind (geth, Erigon, Nethermind, Hardhat wording). */
export function classifySendRejection(err: unknown): SendRejection {
  const e = asRecord(err);
  if (e?.code === 'NONCE_EXPIRED') return 'nonce-too-low';
  if (e?.code === 'REPLACEMENT_UNDERPRICED') return 'underpriced';
  if (e?.code === 'INSUFFICIENT_FUNDS') return 'insufficient-funds';
  const msg = (jsonRpcErrorOf(err)?.message ?? String(e?.message ?? err)).toLowerCase();
  if (/already known|known transaction|already imported|alreadyknown/.test(msg)) return 'already-known';
  if (/nonce too low|nonce has already been used|oldnonce/.test(msg)) return 'nonce-too-low';
  if (/nonce too high|nonce gap|future nonce/.test(msg)) return 'nonce-too-high';
  if (/underpriced|fee too low|replacement/.test(msg)) return 'underpriced';
  if (/insufficient funds/.test(msg)) return 'insufficient-funds';
  return 'other';
}

/** Endpoint URLs may carry API keys in the path or credentials: keep scheme, host and port. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.pathname !== '/' && u.pathname !== '' ? '/…' : '';
    return `${u.protocol}//${u.host}${hidden}`;
  } catch {
    return '<invalid url>';
  }
}

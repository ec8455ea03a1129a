/**
 * JSON-RPC parameter parsing in ICON's v3 conventions (goloop doc/jsonrpc_v3.md):
 * T_INT is `0x`-prefixed hex, T_BYTES `0x` hex, T_SIG/Data base64.
 */
export class BadParams extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadParams';
  }
}

const T_INT = /^0x[0-9a-fA-F]+$/;

export function formatInt(n: number): string {
  return (n < 0 ? '-0x' : '0x') + Math.abs(n).toString(16);
}

export function formatBytes(b: Uint8Array | null): string | null {
  return b === null ? null : '0x' + Buffer.from(b).toString('hex');
}

export function formatBase64(b: Uint8Array): string {
  return Buffer.from(b).toString('base64');
}

export function paramsObject(params: unknown, allowMissing: boolean): Record<string, unknown> {
  if (params === undefined || params === null) {
    if (allowMissing) return {};
    throw new BadParams('missing params');
  }
  if (typeof params !== 'object' || Array.isArray(params)) throw new BadParams('params must be an object');
  return params as Record<string, unknown>;
}

/** A non-negative T_INT that fits a JS number. */
export function intParam(p: Record<string, unknown>, name: string, required: true): number;
export function intParam(p: Record<string, unknown>, name: string, required: false): number | undefined;
export function intParam(p: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) {
    if (required) throw new BadParams(`missing ${name}`);
    return undefined;
  }
  if (typeof v !== 'string' || !T_INT.test(v)) throw new BadParams(`${name} must be a 0x-prefixed hex integer`);
  const n = Number.parseInt(v.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw new BadParams(`${name} out of range`);
  return n;
}

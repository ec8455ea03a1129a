import type { z } from 'zod';
import { configSchema } from './schema.js';

/** The kind of a config leaf: decides how an env var or `--set` string is coerced. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'array' | 'enum';

export interface ConfigLeaf {
  /** Dotted path, e.g. `bitcoin.rpcUrl`. */
  path: string;
  kind: LeafKind;
  /** `FEDNODE_BITCOIN_RPC_URL` for `bitcoin.rpcUrl`. */
  envName: string;
}

const WRAPPERS = new Set(['default', 'optional', 'prefault', 'nullable', 'readonly']);

interface ZodDefLike {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
}

function defOf(schema: z.ZodType): ZodDefLike {
  return (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

export function envNameFor(path: string): string {
  const snake = path
    .split('.')
    .map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_');
  return `FEDNODE_${snake}`;
}

function collect(schema: z.ZodType, path: string[], out: ConfigLeaf[]): void {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return collect(def.innerType, path, out);
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) collect(child, [...path, key], out);
    return;
  }
  const kind: LeafKind =
    def.type === 'number' ? 'number' : def.type === 'boolean' ? 'boolean' : def.type === 'array' ? 'array' : def.type === 'enum' ? 'enum' : 'string';
  const dotted = path.join('.');
  out.push({ path: dotted, kind, envName: envNameFor(dotted) });
}

/** Every leaf of the config schema, derived once from the schema itself. */
export const CONFIG_LEAVES: readonly ConfigLeaf[] = (() => {
  const out: ConfigLeaf[] = [];
  collect(configSchema, [], out);
  return out;
})();

export const LEAF_BY_PATH: ReadonlyMap<string, ConfigLeaf> = new Map(CONFIG_LEAVES.map((l) => [l.path, l]));
export const LEAF_BY_ENV: ReadonlyMap<string, ConfigLeaf> = new Map(CONFIG_LEAVES.map((l) => [l.envName, l]));

/**
 * Turn a string from the environment or a flag into the leaf's type. Values
 * that don't parse are passed through unchanged so the schema reports them
 * with its own message ("expected number, got "abc"").
 */
export function coerceLeafValue(leaf: ConfigLeaf, raw: string): unknown {
  switch (leaf.kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'array':
      return raw.trim() === '' ? [] : raw.split(',').map((s) => s.trim());
    default:
      return raw;
  }
}

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { bitcoinSrcNetworkUid } from '../../chains/btp/network-uid.js';
import { BridgeError } from '../../errors.js';
import { CONFIG_LEAVES, LEAF_BY_ENV, LEAF_BY_PATH, coerceLeafValue } from './leaves.js';
import { configSchema, type FednodeConfig } from './schema.js';
import { closest } from './suggest.js';

/** Where a config value came from; shown next to a problem so the operator knows what to fix. */
export type ConfigSource = { kind: 'default' } | { kind: 'file'; file: string } | { kind: 'env'; name: string } | { kind: 'flag'; arg: string };

export interface ConfigProblem {
  /** Dotted path of the offending key (`bitcoin.rpcUrl`), or `(file)` for unreadable files. */
  path: string;
  message: string;
  source?: ConfigSource;
}

export interface LoadConfigOptions {
  /** Config file path; missing file is an error only when `requireFile` is set. */
  file?: string | undefined;
  requireFile?: boolean;
  /** Environment (FEDNODE_* variables are read from it). */
  env?: NodeJS.ProcessEnv;
  /** `--set path=value` overrides, highest precedence. */
  sets?: readonly string[];
  /** Typed flag overrides (e.g. `--datadir`), applied with the `--set` ones. */
  flags?: ReadonlyArray<{ path: string; value: unknown; arg: string }>;
  /** Base for relative `dataDir` when there is no file; defaults to process.cwd(). */
  cwd?: string;
}

/** The effective config: every default filled in, including derived ones. */
export type EffectiveConfig = FednodeConfig & { btp: { srcNetworkUid: string } };

export interface LoadedConfig {
  config: EffectiveConfig;
  /** Absolute data directory. */
  dataDir: string;
  file: string | undefined;
  /** Non-fatal notes (unknown FEDNODE_* variables and the like). */
  warnings: string[];
}

/** Environment variables that are not config keys but are read by fednode. */
const RESERVED_ENV = new Set(['FEDNODE_PASSWORD', 'FEDNODE_CONFIG', 'FEDNODE_DATADIR']);

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function collectFilePaths(tree: unknown, prefix: string[], out: string[]): void {
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) {
    out.push(prefix.join('.'));
    return;
  }
  for (const [k, v] of Object.entries(tree)) collectFilePaths(v, [...prefix, k], out);
}

/** Read and parse a TOML config file; a syntax error names the file, line and column. */
export function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BridgeError({
      code: 'CONFIG_FILE_UNREADABLE',
      message: code === 'ENOENT' ? `config file not found: ${file}` : `cannot read config file ${file}: ${(err as Error).message}`,
      file,
    });
  }
  try {
    return parseToml(text) as Tree;
  } catch (err) {
    if (err instanceof TomlError) {
      throw new BridgeError({
        code: 'CONFIG_FILE_SYNTAX',
        message: `${file}:${err.line}:${err.column}: invalid TOML: ${err.message.split('\n')[0]}`,
        file,
        line: err.line,
        column: err.column,
      });
    }
    throw err;
  }
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return JSON.stringify(input);
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a table';
  return String(input);
}

/** One readable sentence per schema issue: "expected X, got Y". */
function issueMessages(issue: z.core.$ZodIssue): Array<{ path: string; message: string }> {
  const path = issue.path.map(String).join('.');
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      return issue.keys.map((key) => {
        const full = path ? `${path}.${key}` : key;
        const siblings = CONFIG_LEAVES.map((l) => l.path).filter((p) => p.startsWith(path ? `${path}.` : ''));
        const names = new Set(siblings.map((p) => p.slice(path ? path.length + 1 : 0).split('.')[0]!));
        const hint = closest(key, names);
        return { path: full, message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` };
      });
    }
    case 'invalid_type':
      return [{ path, message: input === undefined ? `required (expected ${issue.expected})` : `expected ${issue.expected}, got ${describeInput(input)}` }];
    case 'invalid_value':
      return [{ path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeInput(input)}` }];
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const what = issue.origin === 'array' ? 'list length' : issue.origin === 'string' ? 'length' : issue.origin;
      const got = issue.origin === 'array' && Array.isArray(input) ? `${input.length} items` : describeInput(input);
      const custom = issue.message && !issue.message.startsWith('Too ') ? issue.message : `expected ${what} ${op} ${String(bound)}`;
      return [{ path, message: `${custom}, got ${got}` }];
    }
    case 'custom':
      return [{ path, message: issue.message }];
    default:
      return [{ path, message: `${issue.message.replace(/^Invalid input: /, '')}${input !== undefined ? `, got ${describeInput(input)}` : ''}` }];
  }
}

/** Thrown by {@link loadConfig} with every problem found, not just the first. */
export class ConfigInvalidError extends BridgeError<'CONFIG_INVALID'> {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super({ code: 'CONFIG_INVALID', message: `invalid configuration:\n${problems.map(formatProblem).join('\n')}`, count: problems.length });
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const src = p.source;
  const where = !src || src.kind === 'default' ? '' : src.kind === 'file' ? ` (in ${src.file})` : src.kind === 'env' ? ` (from ${src.name})` : ` (from ${src.arg})`;
  return `${p.path}: ${p.message}${where}`;
}

/**
 * Build the effective config: defaults < file < FEDNODE_* env < flags.
 * Throws {@link ConfigInvalidError} listing every problem with its path.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const problems: ConfigProblem[] = [];
  const sources = new Map<string, ConfigSource>();
  let tree: Tree = {};

  let file = opts.file;
  if (file !== undefined) {
    file = resolve(opts.cwd ?? process.cwd(), file);
    try {
      tree = readConfigFile(file);
      const paths: string[] = [];
      collectFilePaths(tree, [], paths);
      for (const p of paths) sources.set(p, { kind: 'file', file });
    } catch (err) {
      if (err instanceof BridgeError && err.code === 'CONFIG_FILE_UNREADABLE' && !opts.requireFile) {
        file = undefined;
      } else {
        throw err;
      }
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('FEDNODE_') || raw === undefined || RESERVED_ENV.has(name)) continue;
    const leaf = LEAF_BY_ENV.get(name);
    if (!leaf) {
      const hint = closest(name, LEAF_BY_ENV.keys());
      warnings.push(`ignoring unknown environment variable ${name}${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    setPath(tree, leaf.path, coerceLeafValue(leaf, raw));
    sources.set(leaf.path, { kind: 'env', name });
  }

  for (const arg of opts.sets ?? []) {
    const eq = arg.indexOf('=');
    const path = eq > 0 ? arg.slice(0, eq).trim() : arg.trim();
    const leaf = LEAF_BY_PATH.get(path);
    if (eq <= 0) {
      problems.push({ path, message: 'expected --set <path>=<value>', source: { kind: 'flag', arg: `--set ${arg}` } });
      continue;
    }
    if (!leaf) {
      const hint = closest(path, LEAF_BY_PATH.keys());
      problems.push({ path, message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`, source: { kind: 'flag', arg: `--set ${arg}` } });
      continue;
    }
    setPath(tree, path, coerceLeafValue(leaf, arg.slice(eq + 1)));
    sources.set(path, { kind: 'flag', arg: `--set ${arg}` });
  }
  for (const f of opts.flags ?? []) {
    setPath(tree, f.path, f.value);
    sources.set(f.path, { kind: 'flag', arg: f.arg });
  }

  const parsed = configSchema.safeParse(tree, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const m of issueMessages(issue)) problems.push({ ...m, source: sourceFor(sources, m.path) });
    }
  }
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  const parsedConfig = parsed.data!;
  const config = {
    ...parsedConfig,
    btp: { ...parsedConfig.btp, srcNetworkUid: parsedConfig.btp.srcNetworkUid ?? bitcoinSrcNetworkUid(parsedConfig.bitcoin.network) },
  };
  const base = file !== undefined ? dirname(file) : (opts.cwd ?? process.cwd());
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(base, config.dataDir);
  return { config: { ...config, dataDir }, dataDir, file, warnings };
}

function sourceFor(sources: Map<string, ConfigSource>, path: string): ConfigSource {
  // A problem inside a list (`ethereum.rpcUrls.1`) comes from where the list was set.
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const s = sources.get(p);
    if (s) return s;
  }
  return { kind: 'default' };
}

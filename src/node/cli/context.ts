import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BridgeError } from '../../errors.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { createLogger, type Logger, type LogLevel } from '../logger.js';

/** Options every subcommand inherits from the root program. */
export interface GlobalOptions {
  config?: string;
  datadir?: string;
  set?: string[];
  logLevel?: LogLevel;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

export const DEFAULT_DATADIR = join(homedir(), '.fednode');

export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** Data directory: --datadir > FEDNODE_DATADIR > ~/.fednode. */
export function dataDirFlag(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return resolve(g.datadir ?? env.FEDNODE_DATADIR ?? DEFAULT_DATADIR);
}

/** Config file: --config > FEDNODE_CONFIG > <datadir>/config.toml. */
export function configPath(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return resolve(g.config ?? env.FEDNODE_CONFIG ?? join(dataDirFlag(g, env), 'config.toml'));
}

/**
 * The effective config for a command. An explicitly named config file must
 * exist; the default one may be missing (defaults and env then apply).
 */
export function loadEffectiveConfig(g: GlobalOptions, env: NodeJS.ProcessEnv): LoadedConfig {
  const explicit = g.config !== undefined || env.FEDNODE_CONFIG !== undefined;
  const flags: Array<{ path: string; value: unknown; arg: string }> = [];
  if (g.datadir !== undefined) flags.push({ path: 'dataDir', value: resolve(g.datadir), arg: '--datadir' });
  if (g.logLevel !== undefined) flags.push({ path: 'log.level', value: g.logLevel, arg: '--log-level' });
  const loaded = loadConfig({ file: configPath(g, env), requireFile: explicit, env, sets: g.set ?? [], flags });
  // Without a config file, the data directory is the --datadir/FEDNODE_DATADIR/default one.
  if (loaded.file === undefined && g.datadir === undefined && loaded.config.dataDir === resolve('.')) {
    const dataDir = dataDirFlag(g, env);
    return { ...loaded, dataDir, config: { ...loaded.config, dataDir } };
  }
  return loaded;
}

/** Data directory for offline commands (keys): from the config when it loads, else from flags. */
export function offlineDataDir(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  if (g.datadir !== undefined) return resolve(g.datadir);
  try {
    return loadEffectiveConfig(g, env).dataDir;
  } catch (err) {
    if (err instanceof BridgeError) return dataDirFlag(g, env);
    throw err;
  }
}

export function loggerFor(loaded: LoadedConfig | undefined, g: GlobalOptions): Logger {
  const level = g.logLevel ?? loaded?.config.log.level ?? 'info';
  const format = loaded?.config.log.format ?? 'auto';
  return createLogger({ level, ...(format === 'auto' ? {} : { pretty: format === 'pretty' }) });
}

export function writeLine(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(text + '\n');
}

export function printJson(stream: NodeJS.WritableStream, value: unknown): void {
  writeLine(stream, JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

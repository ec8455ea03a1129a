import { join } from 'node:path';
import { Level } from 'level';
import { BridgeError } from '../../errors.js';
import type { Logger } from '../logger.js';

/**
 * The node's level database (`<dataDir>/db`). Values are JSON unless a
 * sublevel asks for another encoding. The `meta` sublevel holds the schema
 * version; {@link openDatabase} runs pending migrations at start and refuses a
 * database written by a newer fednode (no silent downgrades).
 *
 * Every multi-key write must go through `db.batch([...])` (atomic in LevelDB),
 * so a crash never leaves half an update behind.
 */
export type NodeDb = Level<string, unknown>;

export interface Migration {
  /** The schema version this migration produces. */
  version: number;
  description: string;
  /**
   * Returns the writes that perform the migration; they are committed in one
   * atomic batch together with the version bump, so a crash mid-migration
   * leaves the database at the old version, untouched.
   */
  up(db: NodeDb, log: Logger): Promise<MigrationOp[]>;
}

export type MigrationOp =
  | { type: 'put'; sublevel: ReturnType<NodeDb['sublevel']>; key: string; value: unknown }
  | { type: 'del'; sublevel: ReturnType<NodeDb['sublevel']>; key: string };

export const SCHEMA_VERSION_KEY = 'schemaVersion';

/** Ordered migrations; the last one's version is the schema this build writes. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema: meta sublevel with the schema version and creation time',
    async up(db) {
      return [{ type: 'put', sublevel: metaSublevel(db), key: 'createdAt', value: new Date().toISOString() }];
    },
  },
];

export const CURRENT_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export interface OpenDatabaseOptions {
  log: Logger;
  migrations?: readonly Migration[];
}

export function databasePath(dataDir: string): string {
  return join(dataDir, 'db');
}

/** The `meta` sublevel: schema version and other database-wide facts. */
export type JsonSublevel = ReturnType<NodeDb['sublevel']> & { get(key: string): Promise<unknown> };

export function metaSublevel(db: NodeDb): JsonSublevel {
  return db.sublevel<string, unknown>('meta', { valueEncoding: 'json' }) as unknown as JsonSublevel;
}

export async function readSchemaVersion(db: NodeDb): Promise<number> {
  const v = await metaSublevel(db).get(SCHEMA_VERSION_KEY);
  return typeof v === 'number' ? v : 0;
}

export async function openDatabase(dataDir: string, opts: OpenDatabaseOptions): Promise<NodeDb> {
  const path = databasePath(dataDir);
  const db: NodeDb = new Level<string, unknown>(path, { valueEncoding: 'json' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: Error }).cause ?? (err as Error);
    const locked = /lock/i.test(String(cause.message));
    throw new BridgeError({
      code: locked ? 'DATABASE_LOCKED' : 'DATABASE_OPEN_FAILED',
      message: locked ? `database ${path} is in use by another process` : `cannot open database ${path}: ${cause.message}`,
      path,
      cause: err,
    });
  }
  try {
    await migrate(db, opts.migrations ?? MIGRATIONS, opts.log.child({ module: 'db' }));
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** Bring the database to the newest schema, one migration (and one version bump) at a time. */
export async function migrate(db: NodeDb, migrations: readonly Migration[], log: Logger): Promise<number> {
  const target = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  let current = await readSchemaVersion(db);
  if (current > target) {
    throw new BridgeError({
      code: 'DATABASE_TOO_NEW',
      message: `database schema version ${current} is newer than this fednode supports (${target}); upgrade fednode`,
      current,
      supported: target,
    });
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    log.info({ from: current, to: m.version, migration: m.description }, 'migrating database');
    const ops = await m.up(db, log);
    await db.batch([...ops, { type: 'put', sublevel: metaSublevel(db), key: SCHEMA_VERSION_KEY, value: m.version }]);
    current = m.version;
  }
  return current;
}

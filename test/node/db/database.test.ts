import { describe, expect, it } from 'vitest';
import { CURRENT_SCHEMA_VERSION, metaSublevel, openDatabase, readSchemaVersion, SCHEMA_VERSION_KEY, type Migration } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { withTempDir } from '../../helpers/cli.js';

const log = silentLogger();

describe('node database', () => {
  it('creates the schema on first open and keeps data across a restart', async () => {
    await withTempDir(async (dir) => {
      const db = await openDatabase(dir, { log });
      expect(await readSchemaVersion(db)).toBe(CURRENT_SCHEMA_VERSION);
      const cursors = db.sublevel<string, unknown>('cursors', { valueEncoding: 'json' });
      await db.batch([
        { type: 'put', sublevel: cursors, key: 'btc', value: { height: 812, hash: 'ab' } },
        { type: 'put', sublevel: cursors, key: 'eth', value: { block: 99 } },
      ]);
      await db.close();

      const again = await openDatabase(dir, { log });
      const c2 = again.sublevel<string, unknown>('cursors', { valueEncoding: 'json' });
      expect(await c2.get('btc')).toEqual({ height: 812, hash: 'ab' });
      expect(await c2.get('eth')).toEqual({ block: 99 });
      expect(await c2.get('missing')).toBeUndefined();
      await again.close();
    });
  });

  it('runs pending migrations in order, once', async () => {
    await withTempDir(async (dir) => {
      const runs: number[] = [];
      const m = (version: number): Migration => ({
        version,
        description: `v${version}`,
        async up(db) {
          runs.push(version);
          return [{ type: 'put', sublevel: metaSublevel(db), key: `m${version}`, value: true }];
        },
      });
      (await openDatabase(dir, { log, migrations: [m(1)] })).close();
      const db = await openDatabase(dir, { log, migrations: [m(1), m(2), m(3)] });
      expect(runs).toEqual([1, 2, 3]);
      expect(await readSchemaVersion(db)).toBe(3);
      expect(await metaSublevel(db).get('m3')).toBe(true);
      await db.close();
      (await openDatabase(dir, { log, migrations: [m(1), m(2), m(3)] })).close();
      expect(runs).toEqual([1, 2, 3]);
    });
  });

  it('leaves the version unchanged when a migration fails', async () => {
    await withTempDir(async (dir) => {
      (await openDatabase(dir, { log })).close();
      const failing: Migration = { version: CURRENT_SCHEMA_VERSION + 1, description: 'boom', up: () => Promise.reject(new Error('boom')) };
      await expect(openDatabase(dir, { log, migrations: [failing] })).rejects.toThrow('boom');
      const db = await openDatabase(dir, { log });
      expect(await readSchemaVersion(db)).toBe(CURRENT_SCHEMA_VERSION);
      await db.close();
    });
  });

  it('refuses a database written by a newer fednode', async () => {
    await withTempDir(async (dir) => {
      const db = await openDatabase(dir, { log });
      await metaSublevel(db).put(SCHEMA_VERSION_KEY, CURRENT_SCHEMA_VERSION + 5);
      await db.close();
      await expect(openDatabase(dir, { log })).rejects.toMatchObject({ code: 'DATABASE_TOO_NEW' });
    });
  });

  it('reports a database held open by another handle as locked', async () => {
    await withTempDir(async (dir) => {
      const db = await openDatabase(dir, { log });
      await expect(openDatabase(dir, { log })).rejects.toMatchObject({ code: 'DATABASE_LOCKED' });
      await db.close();
    });
  });
});

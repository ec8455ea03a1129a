import { describe, expect, it } from 'vitest';
import { clearWatcherHalt, type WatcherState } from '../../../src/chains/bitcoin/watcher-store.js';
import { openDatabase } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { LevelWatcherStore } from '../../../src/node/stores/watcher-store.js';
import { withTempDir } from '../../helpers/cli.js';

const log = silentLogger();

describe('LevelWatcherStore', () => {
  it('keeps the cursor and a halt across a database restart, until the operator clears it', async () => {
    await withTempDir(async (dir) => {
      const halted: WatcherState = {
        nextHeight: 120,
        emitted: [{ height: 119, hash: 'aa'.repeat(32) }],
        halted: { height: 119, expectedHash: 'aa'.repeat(32), actualHash: 'bb'.repeat(32) },
      };
      let db = await openDatabase(dir, { log });
      expect(await new LevelWatcherStore(db).load()).toBeUndefined();
      await new LevelWatcherStore(db).save(halted);
      await db.close();

      db = await openDatabase(dir, { log });
      const store = new LevelWatcherStore(db);
      expect(await store.load()).toEqual(halted);
      await clearWatcherHalt(store, 119);
      await db.close();

      db = await openDatabase(dir, { log });
      expect(await new LevelWatcherStore(db).load()).toEqual({ nextHeight: 119, emitted: [] });
      await expect(clearWatcherHalt(new LevelWatcherStore(db), 1)).rejects.toMatchObject({ code: 'BTC_WATCHER_NOT_HALTED' });
      await db.close();
    });
  });
});

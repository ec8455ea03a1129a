import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, acquireDataDirLock } from '../../../src/node/datadir/lock.js';
import { withTempDir } from '../../helpers/cli.js';

describe('data directory lock', () => {
  it('is exclusive within a process and released on release()', async () => {
    await withTempDir(async (dir) => {
      const lock = acquireDataDirLock(dir);
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
      expect(() => acquireDataDirLock(dir)).toThrow(expect.objectContaining({ code: 'DATADIR_LOCKED' }));
      lock.release();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      acquireDataDirLock(dir).release();
    });
  });

  it('refuses a lock held by another live process, naming its pid', async () => {
    await withTempDir(async (dir) => {
      const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      try {
        writeFileSync(join(dir, LOCK_FILE), `${other.pid}\n`);
        expect(() => acquireDataDirLock(dir)).toThrow(new RegExp(`in use by another fednode process \\(pid ${other.pid}\\)`));
      } finally {
        other.kill('SIGKILL');
      }
    });
  });

  it('takes over a stale lock left by a dead process', async () => {
    await withTempDir(async (dir) => {
      const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await new Promise((r) => dead.on('exit', r));
      writeFileSync(join(dir, LOCK_FILE), `${dead.pid}\n`);
      const stale: number[] = [];
      const lock = acquireDataDirLock(dir, { onStale: (pid) => stale.push(pid) });
      expect(stale).toEqual([dead.pid]);
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
      lock.release();
    });
  });
});

import { closeSync, constants as fsc, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BridgeError } from '../../errors.js';

/**
 * An exclusive lock on a data directory, so two node processes can never use
 * one database and one signing key at the same time (which could make the
 * validator sign twice). The lock file holds the owner's pid; a lock left by
 * a process that no longer exists (after kill -9) is taken over.
 */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export const LOCK_FILE = 'fednode.lock';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export function acquireDataDirLock(dataDir: string, opts: { onStale?: (pid: number) => void } = {}): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  // Two attempts: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path)) {
      let released = false;
      return {
        path,
        release: () => {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            /* already gone */
          }
        },
      };
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    } catch {
      continue; // removed between our attempts: retry
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new BridgeError({
        code: 'DATADIR_LOCKED',
        message: `data directory ${dataDir} is in use by another fednode process (pid ${owner}); stop it first (lock file ${path})`,
        dataDir,
        pid: owner,
      });
    }
    if (owner === process.pid) {
      throw new BridgeError({ code: 'DATADIR_LOCKED', message: `data directory ${dataDir} is already locked by this process`, dataDir, pid: owner });
    }
    opts.onStale?.(owner);
    // Rename before unlinking so two racing processes cannot both remove a fresh lock.
    const stale = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, stale);
      unlinkSync(stale);
    } catch {
      /* another process got there first */
    }
  }
  throw new BridgeError({ code: 'DATADIR_LOCKED', message: `could not lock data directory ${dataDir}`, dataDir });
}

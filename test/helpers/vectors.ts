import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The published vectors live in `shared/vectors/` beside the repository (as
 * in CI's clean checkout); FEDNODE_VECTORS_DIR overrides that for other
 * layouts. One loader for every test, so no copy can drift from the source.
 */
export const VECTORS_DIR: string =
  process.env.FEDNODE_VECTORS_DIR ?? fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

export function loadSharedVector<T>(name: string): T {
  const path = `${VECTORS_DIR.replace(/\/$/, '')}/${name}`;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`cannot read published vector ${path} (set FEDNODE_VECTORS_DIR if shared/ is elsewhere): ${(err as Error).message}`);
  }
}

import { fileURLToPath } from 'node:url';

/** Network presets shipped in the package's `config/` directory. */
export const PRESET_NAMES: readonly string[] = ['devnet', 'testnet'];

export function presetPath(name: string): string {
  // Same relative location from src/node/config and dist/node/config.
  return fileURLToPath(new URL(`../../../config/${name}.toml`, import.meta.url));
}

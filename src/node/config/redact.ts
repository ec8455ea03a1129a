import type { FednodeConfig } from './schema.js';
import { SECRET_PATHS } from './schema.js';

const REDACTED = '[redacted]';

/** Remove the password from `http://user:pass@host` so URLs can be printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = REDACTED;
    return u.toString();
  } catch {
    return url;
  }
}

/** A copy of the config safe to print or log: secrets and URL credentials replaced. */
export function redactConfig(config: FednodeConfig): FednodeConfig {
  const copy = structuredClone(config) as FednodeConfig & Record<string, unknown>;
  for (const path of SECRET_PATHS) {
    const parts = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const p of parts.slice(0, -1)) node = node?.[p] as Record<string, unknown> | undefined;
    const last = parts[parts.length - 1]!;
    if (node && node[last] !== undefined) node[last] = REDACTED;
  }
  copy.bitcoin.rpcUrl = redactUrl(copy.bitcoin.rpcUrl);
  copy.ethereum.rpcUrls = copy.ethereum.rpcUrls.map(redactUrl);
  return copy;
}

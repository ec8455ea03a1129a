/**
 * Readiness of BTP derivation. A block the node cannot derive (an RPC answer it cannot use, a
 * home view that cannot vouch for the block, a bug) is retried forever, so the lag check alone
 * would keep `/readyz` green for `maxLagBlocks` Bitcoin blocks (an hour on mainnet) while the node
 * signs nothing. After `stuckAfterMs` of nothing but failures the node reports itself not ready.
 */
export interface DerivationHealthInput {
  /** The last derivation error, undefined after a success. */
  lastError: string | undefined;
  /** Unix ms since which every attempt failed. */
  failingSince: number | undefined;
  /** The height being derived. */
  nextHeight: number | undefined;
  now: number;
  stuckAfterMs: number;
}

export function derivationHealth(i: DerivationHealthInput): { ok: boolean; detail?: string } {
  if (i.lastError === undefined || i.failingSince === undefined) return { ok: true };
  const forMs = i.now - i.failingSince;
  if (forMs < i.stuckAfterMs) return { ok: true, detail: `retrying height ${String(i.nextHeight)}: ${i.lastError}` };
  return { ok: false, detail: `height ${String(i.nextHeight)} not derived for ${Math.round(forMs / 1000)} s: ${i.lastError}` };
}

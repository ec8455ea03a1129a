export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay randomised away (0..1), so peers that failed together retry apart. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0.2 };

/** Delay before retry number `attempt` (1 = first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.initialMs * opts.factor ** Math.max(0, attempt - 1));
  return Math.round(exp * (1 - opts.jitter * random()));
}

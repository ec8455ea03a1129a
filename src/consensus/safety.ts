import { BridgeError } from '../errors.js';

/**
 * Safety halts (DESIGN.md §2 "Slashing" / "Reorgs"): a node stops signing
 * while its home view is older than the scheduling margin (temporary: it
 * resumes when the view is fresh again), and after a Bitcoin reorg that
 * touches a height it signed (persistent: only an operator clears it,
 * docs/CONSENSUS.md §5).
 */
export interface SigningHalt {
  readonly reason: 'reorg' | 'operator';
  /** The lowest Bitcoin height whose block changed (reorg), or the height the operator named. */
  readonly height: number;
  /** Highest BTP height this node had signed when it halted. */
  readonly signedHeight?: number;
  readonly detail?: string;
  /** Unix ms when the halt was recorded. */
  readonly at: number;
}

export interface ReorgNotice {
  /** Lowest height whose block hash changed (the fork point + 1). */
  readonly forkHeight: number;
  readonly detail?: string;
}

/** The halt a reorg causes, or undefined when it touches no signed height. */
export function reorgHalt(highestSignedHeight: number | undefined, reorg: ReorgNotice, now: number): SigningHalt | undefined {
  if (highestSignedHeight === undefined || highestSignedHeight < reorg.forkHeight) return undefined;
  return { reason: 'reorg', height: reorg.forkHeight, signedHeight: highestSignedHeight, ...(reorg.detail !== undefined ? { detail: reorg.detail } : {}), at: now };
}

export interface SigningContext {
  /** Unix seconds. */
  readonly now: number;
  /** Timestamp (unix seconds) of the home block the node's view was read at. */
  readonly homeViewTime: number;
  readonly schedulingMarginSeconds: number;
  readonly halt: SigningHalt | undefined;
}

/** Throws `CONSENSUS_SIGNING_HALTED` or `CONSENSUS_HOME_VIEW_STALE` when the node must not sign. */
export function assertMaySign(ctx: SigningContext): void {
  if (ctx.halt !== undefined) throw new BridgeError({ code: 'CONSENSUS_SIGNING_HALTED', ...ctx.halt });
  const age = ctx.now - ctx.homeViewTime;
  if (age > ctx.schedulingMarginSeconds) {
    throw new BridgeError({ code: 'CONSENSUS_HOME_VIEW_STALE', ageSeconds: age, marginSeconds: ctx.schedulingMarginSeconds });
  }
}

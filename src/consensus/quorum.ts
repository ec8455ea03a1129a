/**
 * Quorum, the post-quorum collection deadline, and submitter rotation
 * (DESIGN.md §2 "Bitcoin -> home" steps 3-4, "home -> Bitcoin" step 3),
 * shared by BTP blocks and payout batches. Clocks are arguments (ms).
 */

/** Signatures needed out of n: N/2+1 by count (the BMV's `majority` rule: votes·2 > n). */
export type ThresholdRule = (n: number) => number;

export const majorityThreshold: ThresholdRule = (n) => Math.floor(n / 2) + 1;

export interface CollectionTiming {
  /** After quorum, keep collecting this long so the proof carries late signatures (ends early when all signed). */
  readonly collectAfterQuorumMs: number;
  /** Rotation position j may submit from finalAt + j · takeoverTimeoutMs. */
  readonly takeoverTimeoutMs: number;
}

export const DEFAULT_COLLECTION_TIMING: CollectionTiming = { collectAfterQuorumMs: 250, takeoverTimeoutMs: 15_000 };

/**
 * Rotation order: participants (in their canonical order) starting at
 * `rotationKey mod n`. Position 0 submits first; the others take over in
 * this order, one takeover timeout apart.
 */
export function rotationOrder<T>(participants: readonly T[], rotationKey: bigint | number): T[] {
  const n = participants.length;
  if (n === 0) return [];
  const start = Number(BigInt(rotationKey) % BigInt(n));
  return participants.map((_, j) => participants[(start + j) % n]!);
}

export type Phase = 'collecting' | 'quorum' | 'final';

/** The timing half of a collection: when quorum came, when collection ends, who may submit when. */
export class CollectionClock {
  #quorumAt: number | undefined;
  #allAt: number | undefined;
  #submitted = false;

  constructor(
    readonly startedAt: number,
    readonly timing: CollectionTiming,
  ) {}

  get quorumAt(): number | undefined {
    return this.#quorumAt;
  }

  get submitted(): boolean {
    return this.#submitted;
  }

  /** Report the current counts at `now`; returns true the first time quorum is reached. */
  update(haveQuorum: boolean, allSigned: boolean, now: number): boolean {
    let first = false;
    if (haveQuorum && this.#quorumAt === undefined) {
      this.#quorumAt = now;
      first = true;
    }
    if (allSigned && this.#allAt === undefined) this.#allAt = now;
    return first;
  }

  /** End of collection: quorum + deadline, or the moment every participant had signed, whichever is first. */
  get finalAt(): number | undefined {
    if (this.#quorumAt === undefined) return undefined;
    const deadline = this.#quorumAt + this.timing.collectAfterQuorumMs;
    return this.#allAt !== undefined ? Math.min(deadline, Math.max(this.#allAt, this.#quorumAt)) : deadline;
  }

  phase(now: number): Phase {
    const f = this.finalAt;
    if (f === undefined) return 'collecting';
    return now >= f ? 'final' : 'quorum';
  }

  /** When rotation position `position` may submit (undefined before quorum). */
  submitTime(position: number): number | undefined {
    const f = this.finalAt;
    return f === undefined ? undefined : f + position * this.timing.takeoverTimeoutMs;
  }

  /** How many rotation positions may submit at `now` (0 before the end of collection or once submitted). */
  eligiblePositions(now: number, participants: number): number {
    const f = this.finalAt;
    if (f === undefined || this.#submitted || now < f) return 0;
    return Math.min(participants, Math.floor((now - f) / this.timing.takeoverTimeoutMs) + 1);
  }

  markSubmitted(): void {
    this.#submitted = true;
  }
}

import type { MetricsFactory } from '../node/metrics.js';

/**
 * Hooks the consensus state machines and the sign-log call. Pure code takes
 * this interface (or nothing); {@link createConsensusMetrics} backs it with
 * the node's metrics factory.
 */
export interface ConsensusMetrics {
  /** At finalisation, once per validator of the set: did its signature make it in time? */
  signature(kind: 'btp' | 'payout', validator: string, present: boolean): void;
  /** From the moment collection started (the caller's `startedAt`) to quorum. */
  quorum(kind: 'btp' | 'payout', seconds: number): void;
  /** A signature the sign-log refused to allow, by rule. */
  signlogRefusal(rule: string): void;
  /** Equivocation seen (evidence prepared). */
  equivocation(kind: 'btp' | 'bitcoin'): void;
}

export function createConsensusMetrics(f: MetricsFactory): ConsensusMetrics {
  const sigs = f.counter('fednode_consensus_signatures_total', 'Validator signatures at finalisation, present or missing', ['kind', 'validator', 'status']);
  const quorum = f.histogram('fednode_consensus_quorum_seconds', 'Time from start of collection to quorum', ['kind'], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  const refusals = f.counter('fednode_signlog_refusals_total', 'Signatures refused by the sign-log', ['rule']);
  const equiv = f.counter('fednode_consensus_equivocations_total', 'Equivocations detected', ['kind']);
  return {
    signature: (kind, validator, present) => sigs.inc({ kind, validator, status: present ? 'present' : 'missing' }),
    quorum: (kind, seconds) => quorum.observe({ kind }, seconds),
    signlogRefusal: (rule) => refusals.inc({ rule }),
    equivocation: (kind) => equiv.inc({ kind }),
  };
}

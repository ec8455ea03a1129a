import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@chainsafe/libp2p-gossipsub/score';

/**
 * Gossipsub scoring for a small, permissioned, low-traffic mesh. The one
 * signal that matters is P4 (invalid messages): a reject costs
 * `25 × count²` before decay, so one bad message costs 25 and a second one
 * (100) takes any peer below the disconnect threshold. Delivery-rate
 * penalties (P3) are off: quiet topics would punish honest peers. Gossipsub
 * only counts rejects on topics listed here, so every fednode topic is.
 */
export const TOPIC_SCORE_PARAMS: Readonly<Partial<TopicScoreParams>> = {
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 0.5,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -25,
  // Per decay interval (1 s): the counter halves in about 70 s.
  invalidMessageDeliveriesDecay: 0.99,
};

export function buildScoreParams(topics: readonly string[]): Partial<PeerScoreParams> {
  return {
    topics: Object.fromEntries(topics.map((t) => [t, { ...TOPIC_SCORE_PARAMS } as TopicScoreParams])),
    topicScoreCap: 10,
    appSpecificWeight: 0,
    // Peers are allowlisted by id; several validators behind one IP are legitimate (and tests use 127.0.0.1).
    IPColocationFactorWeight: 0,
    // Mild: a restarted honest node may re-graft inside a prune backoff once or twice.
    behaviourPenaltyWeight: -1,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1_000,
    decayToZero: 0.01,
  };
}

export const DEFAULT_SCORE_THRESHOLDS: Readonly<Partial<PeerScoreThresholds>> = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5,
};

import type { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsFactory } from '../metrics.js';

/** The p2p layer's instruments, created once per host from the node's factory. */
export interface P2pMetrics {
  /** Inbound gossip messages by topic kind and verdict (accept/ignore/reject). */
  messages: Counter<'topic' | 'result'>;
  /** Reasons behind ignore/reject verdicts. */
  verdictReasons: Counter<'topic' | 'reason'>;
  /** Items delivered to handlers. */
  itemsDelivered: Counter<'topic'>;
  /** Messages dropped because a bounded queue was full. */
  queueDropped: Counter<'queue' | 'topic'>;
  queueLength: Gauge<'queue'>;
  /** Outbound envelopes by result (ok/no_peers/error) and items per envelope. */
  published: Counter<'topic' | 'result'>;
  publishedItems: Counter<'topic'>;
  peers: Gauge<string>;
  gaterDenied: Counter<'reason'>;
  scoreDisconnects: Counter<string>;
  dials: Counter<'result'>;
  validationSeconds: Histogram<'topic'>;
}

export function createP2pMetrics(m: MetricsFactory): P2pMetrics {
  return {
    messages: m.counter('p2p_messages_total', 'Inbound gossip messages by topic and validation result', ['topic', 'result']),
    verdictReasons: m.counter('p2p_verdict_reasons_total', 'Why inbound gossip messages were ignored or rejected', ['topic', 'reason']),
    itemsDelivered: m.counter('p2p_items_delivered_total', 'Message items delivered to handlers', ['topic']),
    queueDropped: m.counter('p2p_queue_dropped_total', 'Messages dropped because a bounded queue was full', ['queue', 'topic']),
    queueLength: m.gauge('p2p_queue_length', 'Messages waiting in the p2p queues', ['queue']),
    published: m.counter('p2p_published_total', 'Outbound gossip envelopes by result', ['topic', 'result']),
    publishedItems: m.counter('p2p_published_items_total', 'Items sent in outbound envelopes', ['topic']),
    peers: m.gauge('p2p_peers', 'Connected peers'),
    gaterDenied: m.counter('p2p_gater_denied_total', 'Connections refused by the gater', ['reason']),
    scoreDisconnects: m.counter('p2p_score_disconnects_total', 'Peers disconnected and banned for a low gossip score'),
    dials: m.counter('p2p_dials_total', 'Persistent-peer dials by result', ['result']),
    validationSeconds: m.histogram('p2p_validation_seconds', 'Time to validate one inbound message', ['topic'],
      [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1]),
  };
}

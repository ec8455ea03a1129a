import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { BoundedQueue } from './bounded-queue.js';
import type { MessageBody } from './messages.js';
import type { P2pMetrics } from './p2p-metrics.js';
import type { MessageKind } from './topics.js';
import { commitAccepted, validateEnvelope, type ValidationState, type Verdict } from './validation.js';

/** A gossip message waiting for validation. */
export interface InboundMessage {
  kind: MessageKind;
  msgId: string;
  /** Peer that forwarded it to us. */
  source: string;
  data: Uint8Array;
  receivedAtMs: number;
}

/** What a handler learns about an item besides its body. */
export interface InboundMeta {
  /** Validator address (lowercase 0x hex) that signed the envelope. */
  signer: string;
  /** Peer id of the publishing node (bound to the signer by registration). */
  peerId: string;
  /** Peer that forwarded the message to us. */
  propagationSource: string;
  /** Publisher's clock (unix ms) and ours at reception. */
  sentAtMs: number;
  receivedAtMs: number;
}

/**
 * Consumes validated items of one kind. Returning 'reject' marks the message
 * invalid (the sender loses score), 'ignore' stops it from being forwarded;
 * anything else (including void) accepts it.
 */
export type MessageHandler<K extends MessageKind> = (
  item: MessageBody<K>,
  meta: InboundMeta,
) => void | Verdict | Promise<void | Verdict>;

export interface InboundPipelineOptions {
  queueSize: number;
  /** Most messages validated per event-loop turn. */
  batchSize: number;
  /** Yield to the event loop after this much synchronous work. */
  sliceMs: number;
}

export interface InboundPipelineDeps {
  state: ValidationState;
  metrics: P2pMetrics;
  log: Logger;
  now(): number;
  /** Tell gossipsub the verdict (forwarding and scoring follow from it). */
  report(m: InboundMessage, verdict: Verdict): void;
}

/**
 * Bounded queue -> validation -> handlers -> verdict. Signature recovery is
 * synchronous, so work is sliced by count and time and the event loop (pings,
 * gossip heartbeats, sockets) runs between slices.
 */
export class InboundPipeline {
  private readonly queue: BoundedQueue<InboundMessage>;
  private readonly handlers = new Map<MessageKind, MessageHandler<MessageKind>>();
  private running = false;

  constructor(
    private readonly deps: InboundPipelineDeps,
    private readonly opts: InboundPipelineOptions,
  ) {
    this.queue = new BoundedQueue(opts.queueSize);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Register the single handler of a kind; returns an unregister function. */
  setHandler<K extends MessageKind>(kind: K, handler: MessageHandler<K>): (() => void) | undefined {
    if (this.handlers.has(kind)) return undefined;
    const h = handler as MessageHandler<MessageKind>;
    this.handlers.set(kind, h);
    return () => {
      if (this.handlers.get(kind) === h) this.handlers.delete(kind);
    };
  }

  /** Queue a message; a full queue drops it (counted, reported as ignore). */
  enqueue(m: InboundMessage): boolean {
    const { metrics } = this.deps;
    if (!this.queue.push(m)) {
      metrics.queueDropped.inc({ queue: 'inbound', topic: m.kind });
      this.deps.report(m, 'ignore');
      return false;
    }
    metrics.queueLength.set({ queue: 'inbound' }, this.queue.length);
    if (!this.running) void this.drain();
    return true;
  }

  clear(): void {
    this.queue.clear();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const sliceStart = performance.now();
        for (let i = 0; i < this.opts.batchSize && this.queue.length > 0; i++) {
          const m = this.queue.take(1)[0] as InboundMessage;
          try {
            await this.process(m);
          } catch (err) {
            this.deps.log.error({ err, topic: m.kind }, 'inbound processing failed');
            this.deps.report(m, 'ignore');
          }
          if (performance.now() - sliceStart > this.opts.sliceMs) break;
        }
        this.deps.metrics.queueLength.set({ queue: 'inbound' }, this.queue.length);
        await yieldToEventLoop();
      }
    } finally {
      this.running = false;
    }
  }

  private async process(m: InboundMessage): Promise<void> {
    const { metrics, state, log } = this.deps;
    const endTimer = metrics.validationSeconds.startTimer({ topic: m.kind });
    const nowMs = this.deps.now();
    const v = validateEnvelope(m.kind, m.data, state, nowMs);
    endTimer();
    if (v.verdict !== 'accept') {
      metrics.messages.inc({ topic: m.kind, result: v.verdict });
      metrics.verdictReasons.inc({ topic: m.kind, reason: v.reason });
      if (v.verdict === 'reject') {
        log.debug({ topic: m.kind, source: m.source, reason: v.reason, detail: v.detail }, 'rejected gossip message');
      }
      this.deps.report(m, v.verdict);
      return;
    }
    // Record before the handlers run, so copies arriving meanwhile are duplicates.
    commitAccepted(m.kind, v, state, nowMs);
    let verdict: Verdict = 'accept';
    const handler = this.handlers.get(m.kind);
    if (handler !== undefined) {
      const meta: InboundMeta = {
        signer: v.signer, peerId: v.peerId, propagationSource: m.source,
        sentAtMs: Number(v.envelope.timestampMs), receivedAtMs: m.receivedAtMs,
      };
      let ignored = 0;
      for (const item of v.fresh) {
        let r: void | Verdict;
        try {
          r = await handler(item, meta);
        } catch (err) {
          // A handler bug is not the sender's fault: no penalty.
          log.error({ err, topic: m.kind }, 'gossip handler failed');
          r = 'ignore';
        }
        if (r === 'reject') verdict = 'reject';
        else if (r === 'ignore') ignored++;
      }
      if (verdict !== 'reject' && ignored === v.fresh.length) verdict = 'ignore';
      metrics.itemsDelivered.inc({ topic: m.kind }, v.fresh.length);
    }
    metrics.messages.inc({ topic: m.kind, result: verdict });
    if (verdict !== 'accept') metrics.verdictReasons.inc({ topic: m.kind, reason: `handler-${verdict}` });
    this.deps.report(m, verdict);
  }
}

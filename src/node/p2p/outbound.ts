import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { BoundedQueue } from './bounded-queue.js';
import { checkBody, encodeEnvelope, maxItemsFor } from './codec.js';
import { signEnvelope, type EnvelopeSigner } from './envelope.js';
import type { CodecLimits, MessageBody } from './messages.js';
import type { P2pMetrics } from './p2p-metrics.js';
import { recoverAddress } from './secp256k1-native.js';
import { MESSAGE_KINDS, type MessageKind } from './topics.js';
import { BridgeError } from '../../errors.js';

export interface OutboundPipelineDeps {
  network: string;
  signer: EnvelopeSigner;
  /** This node's peer id (multihash bytes), bound into every envelope. */
  peerIdBytes: Uint8Array;
  limits: CodecLimits;
  metrics: P2pMetrics;
  log: Logger;
  now(): number;
  /** Hand bytes to gossip; resolves with how many peers it was sent to. */
  publish(kind: MessageKind, data: Uint8Array): Promise<number>;
}

/**
 * Per-kind bounded queues drained by one sender loop. A lone item leaves one
 * event-loop turn after it is queued; items that pile up while a publish is
 * in flight leave together in one signed envelope (batching).
 */
export class OutboundPipeline {
  private readonly queues = new Map<MessageKind, BoundedQueue<MessageBody>>();
  private readonly signerHex: string;
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly deps: OutboundPipelineDeps,
    queueSize: number,
  ) {
    for (const k of MESSAGE_KINDS) this.queues.set(k, new BoundedQueue(queueSize));
    this.signerHex = `0x${Buffer.from(deps.signer.address).toString('hex')}`;
  }

  get length(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /**
   * Queue an item. Throws P2P_INVALID_MESSAGE for an item peers would reject
   * (so a caller bug never costs this node score); false when the queue is full.
   */
  enqueue<K extends MessageKind>(kind: K, body: MessageBody<K>): boolean {
    if (!checkBody(kind, body, this.deps.limits)) throw new BridgeError({ code: 'P2P_INVALID_MESSAGE', kind });
    if (kind === 'attestation' && !this.signedByUs(body as MessageBody<'attestation'>)) {
      throw new BridgeError({ code: 'P2P_INVALID_MESSAGE', kind, reason: 'attestation not signed by this validator' });
    }
    const q = this.queues.get(kind) as BoundedQueue<MessageBody>;
    if (!q.push(body)) {
      this.deps.metrics.queueDropped.inc({ queue: 'outbound', topic: kind });
      return false;
    }
    this.deps.metrics.queueLength.set({ queue: 'outbound' }, this.length);
    this.kick();
    return true;
  }

  start(): void {
    this.running = true;
    this.kick();
  }

  /** Stop sending; items still queued are discarded. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
    for (const q of this.queues.values()) q.clear();
  }

  /** Resolves when everything queued so far has been handed to gossip. */
  async flush(): Promise<void> {
    // Bounded: every pass sends at least one envelope or finds the queues empty.
    for (let i = 0; i < 1_000_000 && this.running && (this.loop !== undefined || this.length > 0); i++) {
      this.kick();
      await this.loop;
    }
  }

  private signedByUs(a: MessageBody<'attestation'>): boolean {
    const who = recoverAddress(a.decisionHash, a.signature);
    return who !== undefined && `0x${Buffer.from(who).toString('hex')}` === this.signerHex;
  }

  private kick(): void {
    if (this.loop !== undefined || !this.running) return;
    this.loop = (async () => {
      await yieldToEventLoop(); // gather items queued in the same turn
      await this.drain();
    })().finally(() => {
      this.loop = undefined;
      if (this.running && this.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.running && this.length > 0) {
      for (const kind of MESSAGE_KINDS) {
        const q = this.queues.get(kind) as BoundedQueue<MessageBody>;
        if (q.length > 0) await this.send(kind, q.take(maxItemsFor(kind, this.deps.limits)));
      }
      this.deps.metrics.queueLength.set({ queue: 'outbound' }, this.length);
    }
  }

  private async send(kind: MessageKind, items: MessageBody[]): Promise<void> {
    const { metrics } = this.deps;
    const env = signEnvelope(this.deps.network, this.deps.signer, {
      kind, peerId: this.deps.peerIdBytes, timestampMs: BigInt(this.deps.now()), items,
    });
    const bytes = encodeEnvelope(env);
    if (bytes.length > this.deps.limits.maxEnvelopeBytes && items.length > 1) {
      // Peers would reject it as too large: send it in halves.
      const half = Math.ceil(items.length / 2);
      await this.send(kind, items.slice(0, half));
      await this.send(kind, items.slice(half));
      return;
    }
    try {
      const recipients = await this.deps.publish(kind, bytes);
      metrics.published.inc({ topic: kind, result: recipients > 0 ? 'ok' : 'no_peers' });
      metrics.publishedItems.inc({ topic: kind }, items.length);
    } catch (err) {
      metrics.published.inc({ topic: kind, result: 'error' });
      this.deps.log.warn({ err, topic: kind }, 'gossip publish failed');
    }
  }
}

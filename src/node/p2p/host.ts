import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub';
import { identify } from '@libp2p/identify';
import type { Ed25519PrivateKey, Message, PubSub, TopicValidatorResult } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { sha256 } from '@noble/hashes/sha2.js';
import { createLibp2p, type Libp2p } from 'libp2p';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BridgeError } from '../../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { createMetrics, type MetricsFactory } from '../metrics.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';
import { checkBody, encodeEnvelope, maxItemsFor } from './codec.js';
import { signEnvelope, type EnvelopeSigner } from './envelope.js';
import { BanList, createAllowlistGater } from './gater.js';
import { DEFAULT_CODEC_LIMITS, type CodecLimits, type MessageBody } from './messages.js';
import { createP2pMetrics, type P2pMetrics } from './p2p-metrics.js';
import { PeerSet, type PeerAllowlist } from './peer-set.js';
import { PersistentPeers, type PersistentPeer } from './persistent-peers.js';
import { buildScoreParams, DEFAULT_SCORE_THRESHOLDS } from './scoring.js';
import { SeenCache } from './seen-cache.js';
import { recoverAddress } from './secp256k1-native.js';
import { isValidNetworkName, MESSAGE_KINDS, topicsOf, type MessageKind } from './topics.js';
import { commitAccepted, validateEnvelope, type ValidationState, type Verdict } from './validation.js';

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

export interface P2pHostOptions {
  /** Network name used in topic names and signatures, e.g. `devnet`. */
  network: string;
  /** Ed25519 identity from {@link loadOrCreateNetworkKey}. */
  privateKey: Ed25519PrivateKey;
  /** The validator's signing key (envelopes). */
  signer: EnvelopeSigner;
  /** Listen multiaddrs, e.g. `/ip4/0.0.0.0/tcp/9555`. */
  listen: string[];
  /** Addresses to advertise instead of the listen ones (behind NAT). */
  announce?: string[];
  /** Multiaddrs ending in `/p2p/<peerId>` kept connected with backoff. */
  persistentPeers?: string[];
  /** Initial allowlist; refresh with {@link P2pHost.updateAllowlist}. */
  allowlist?: PeerAllowlist;
  logger?: Logger;
  metrics?: MetricsFactory;
  /** Gossip score below which a peer is disconnected and banned. */
  scoreDisconnectThreshold?: number;
  banMs?: number;
  scoreCheckIntervalMs?: number;
  maxMessageAgeMs?: number;
  maxClockSkewMs?: number;
  inboundQueueSize?: number;
  /** Per message kind. */
  outboundQueueSize?: number;
  /** Most inbound messages validated per event-loop turn. */
  inboundBatchSize?: number;
  /** Yield to the event loop after this much synchronous validation work. */
  inboundSliceMs?: number;
  limits?: Partial<CodecLimits>;
  backoff?: Partial<BackoffOptions>;
  persistentPeersTickMs?: number;
  persistentPeersYieldMs?: number;
  /** Gossipsub heartbeat interval. */
  gossipHeartbeatMs?: number;
  /** Wall clock (unix ms); injectable for tests. */
  now?: () => number;
}

type Defaults = Required<Omit<P2pHostOptions, 'network' | 'privateKey' | 'signer' | 'listen' | 'announce' | 'allowlist'
  | 'logger' | 'metrics' | 'limits' | 'backoff' | 'now'>>;

export const P2P_DEFAULTS: Readonly<Defaults> = {
  persistentPeers: [],
  scoreDisconnectThreshold: -50,
  banMs: 10 * 60_000,
  scoreCheckIntervalMs: 1_000,
  maxMessageAgeMs: 120_000,
  maxClockSkewMs: 30_000,
  inboundQueueSize: 4_096,
  outboundQueueSize: 1_024,
  inboundBatchSize: 64,
  inboundSliceMs: 10,
  persistentPeersTickMs: 500,
  persistentPeersYieldMs: 5_000,
  gossipHeartbeatMs: 1_000,
};

export interface P2pHost {
  /** This node's peer id (base58btc). */
  readonly peerId: string;
  readonly network: string;
  /** Gossip topic name per message kind. */
  readonly topics: Readonly<Record<MessageKind, string>>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Listen multiaddrs including `/p2p/<peerId>` (the actual port after binding port 0). */
  multiaddrs(): string[];
  /** Replace the allowlist; connections to peers no longer on it are closed. */
  updateAllowlist(list: PeerAllowlist): void;
  /** Register the single handler for a kind; returns an unregister function. */
  handle<K extends MessageKind>(kind: K, handler: MessageHandler<K>): () => void;
  /**
   * Queue an item for gossip (signed and batched with other pending items of
   * its kind). Returns false when the outbound queue is full (counted drop);
   * throws P2P_INVALID_MESSAGE for an item peers would reject.
   */
  publish<K extends MessageKind>(kind: K, body: MessageBody<K>): boolean;
  /** Resolves when every queued outbound item has been handed to gossipsub. */
  flush(): Promise<void>;
  /** Dial a multiaddr once (persistent peers are dialled automatically). */
  dial(addr: string): Promise<void>;
  connectedPeers(): string[];
  /** Peers in our gossip mesh for a kind's topic. */
  meshPeers(kind: MessageKind): string[];
  /** Current gossipsub score of a peer (0 for unknown peers). */
  peerScore(peerId: string): number;
  isBanned(peerId: string): boolean;
  /** Fault injection for tests and tooling: publish bytes as-is on a kind's topic. */
  publishRaw(kind: MessageKind, data: Uint8Array): Promise<void>;
}

interface InboundMessage {
  kind: MessageKind;
  msgId: string;
  source: string;
  from: { bytes: Uint8Array; id: string };
  data: Uint8Array;
  receivedAtMs: number;
}

type Services = { identify: unknown; pubsub: PubSub<GossipsubEvents> & GossipsubExtras };
/** The gossipsub methods we use beyond the generic PubSub interface. */
interface GossipsubExtras {
  getScore(peerId: string): number;
  getMeshPeers(topic: string): string[];
  reportMessageValidationResult(msgId: string, source: string, result: TopicValidatorResult): void;
}

function parsePersistentPeer(addr: string): PersistentPeer {
  let peerId: string | null;
  try {
    peerId = multiaddr(addr).getPeerId();
  } catch (cause) {
    throw new BridgeError({ code: 'P2P_BAD_MULTIADDR', addr, cause });
  }
  if (peerId === null) throw new BridgeError({ code: 'P2P_BAD_MULTIADDR', addr, message: `${addr} lacks /p2p/<peerId>` });
  return { peerId, addrs: [addr] };
}

function mergePersistentPeers(addrs: string[]): PersistentPeer[] {
  const byId = new Map<string, PersistentPeer>();
  for (const a of addrs) {
    const p = parsePersistentPeer(a);
    const e = byId.get(p.peerId);
    if (e) e.addrs.push(...p.addrs);
    else byId.set(p.peerId, p);
  }
  return [...byId.values()];
}

/** Create a (not yet started) libp2p host speaking the fednode gossip protocol. */
export async function createP2pHost(options: P2pHostOptions): Promise<P2pHost> {
  const opts = { ...options, ...P2P_DEFAULTS, ...stripUndefined(options) } as Defaults & P2pHostOptions;
  if (!isValidNetworkName(opts.network)) throw new BridgeError({ code: 'P2P_BAD_NETWORK_NAME', network: opts.network });
  const limits: CodecLimits = { ...DEFAULT_CODEC_LIMITS, ...options.limits };
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
  const now = options.now ?? Date.now;
  const log = (options.logger ?? silentLogger()).child({ module: 'p2p' });
  const metrics: P2pMetrics = createP2pMetrics(options.metrics ?? createMetrics({ defaultMetrics: false }));
  const topics = topicsOf(opts.network);
  const kindByTopic = new Map<string, MessageKind>(MESSAGE_KINDS.map((k) => [topics[k], k]));
  const persistent = mergePersistentPeers(opts.persistentPeers);

  const peers = new PeerSet(options.allowlist);
  const bans = new BanList(now);
  const signerHex = `0x${Buffer.from(options.signer.address).toString('hex')}`;

  const libp2p = (await createLibp2p({
    start: false,
    privateKey: options.privateKey,
    addresses: { listen: opts.listen, ...(options.announce ? { announce: options.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: createAllowlistGater(peers, bans, (reason) => metrics.gaterDenied.inc({ reason })),
    // Synchronous crypto bursts delay pings; aborting on a late ping would drop healthy peers.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        // Origin authenticated by the libp2p key: the envelope's peer id is checked against it.
        globalSignaturePolicy: 'StrictSign',
        // We validate in our own bounded queue and report the verdict back.
        asyncValidation: true,
        emitSelf: false,
        fallbackToFloodsub: false,
        doPX: false,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        allowedTopics: Object.values(topics),
        // Room for one maximal envelope plus gossip control data in an RPC.
        maxInboundDataLength: 2 * limits.maxEnvelopeBytes + 64 * 1024,
        heartbeatInterval: opts.gossipHeartbeatMs,
        // Identity is origin + content: identical bytes from one origin are one message,
        // while a copy re-signed by another origin cannot shadow the original.
        msgIdFn: (msg: Message) => {
          const from = msg.type === 'signed' ? msg.from.toMultihash().bytes : new Uint8Array(0);
          const buf = new Uint8Array(from.length + msg.data.length);
          buf.set(from, 0);
          buf.set(msg.data, from.length);
          return sha256(buf).subarray(0, 20);
        },
        scoreParams: buildScoreParams(Object.values(topics)),
        scoreThresholds: DEFAULT_SCORE_THRESHOLDS,
      }),
    },
  })) as unknown as Libp2p<Services>;
  const pubsub = libp2p.services.pubsub;
  const peerId = libp2p.peerId.toString();

  // ------------------------------------------------------------ inbound
  const state: ValidationState = {
    network: opts.network,
    limits,
    peers,
    seen: new SeenCache(opts.maxMessageAgeMs + opts.maxClockSkewMs, 200_000),
    lastHeartbeatMs: new Map(),
    maxAgeMs: opts.maxMessageAgeMs,
    maxFutureMs: opts.maxClockSkewMs,
  };
  const handlers = new Map<MessageKind, MessageHandler<MessageKind>>();
  const inbound = new BoundedQueue<InboundMessage>(opts.inboundQueueSize);
  let inboundRunning = false;

  const report = (m: { msgId: string; source: string }, verdict: Verdict): void => {
    try {
      pubsub.reportMessageValidationResult(m.msgId, m.source, verdict as TopicValidatorResult);
    } catch (err) {
      // Only possible while stopping; the message is simply not forwarded.
      log.debug({ err }, 'could not report validation result');
    }
  };

  const onGossip = (evt: CustomEvent<GossipsubEvents['gossipsub:message']['detail']>): void => {
    const { msg, msgId, propagationSource } = evt.detail;
    const source = propagationSource.toString();
    const kind = kindByTopic.get(msg.topic);
    if (kind === undefined || msg.type !== 'signed') {
      report({ msgId, source }, 'ignore');
      return;
    }
    const item: InboundMessage = {
      kind, msgId, source, data: msg.data, receivedAtMs: now(),
      from: { bytes: msg.from.toMultihash().bytes, id: msg.from.toString() },
    };
    if (!inbound.push(item)) {
      metrics.queueDropped.inc({ queue: 'inbound', topic: kind });
      report(item, 'ignore');
      return;
    }
    metrics.queueLength.set({ queue: 'inbound' }, inbound.length);
    if (!inboundRunning) void drainInbound();
  };

  async function processInbound(m: InboundMessage): Promise<void> {
    const endTimer = metrics.validationSeconds.startTimer({ topic: m.kind });
    const nowMs = now();
    const v = validateEnvelope(m.kind, m.data, m.from, state, nowMs);
    endTimer();
    if (v.verdict !== 'accept') {
      metrics.messages.inc({ topic: m.kind, result: v.verdict });
      metrics.verdictReasons.inc({ topic: m.kind, reason: v.reason });
      if (v.verdict === 'reject') log.debug({ topic: m.kind, from: m.from.id, source: m.source, reason: v.reason, detail: 'detail' in v ? v.detail : undefined }, 'rejected gossip message');
      report(m, v.verdict);
      return;
    }
    commitAccepted(m.kind, v, state, nowMs);
    let verdict: Verdict = 'accept';
    const handler = handlers.get(m.kind);
    if (handler !== undefined) {
      const meta: InboundMeta = {
        signer: v.signer, peerId: m.from.id, propagationSource: m.source,
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
    report(m, verdict);
  }

  async function drainInbound(): Promise<void> {
    inboundRunning = true;
    try {
      while (inbound.length > 0) {
        const sliceStart = performance.now();
        // Signature recovery is synchronous: bound each slice by count and by time so
        // sockets and timers (pings, gossip heartbeats) keep running under load.
        for (let i = 0; i < opts.inboundBatchSize && inbound.length > 0; i++) {
          const m = inbound.take(1)[0] as InboundMessage;
          try {
            await processInbound(m);
          } catch (err) {
            log.error({ err, topic: m.kind }, 'inbound processing failed');
            report(m, 'ignore');
          }
          if (performance.now() - sliceStart > opts.inboundSliceMs) break;
        }
        metrics.queueLength.set({ queue: 'inbound' }, inbound.length);
        await yieldToEventLoop();
      }
    } finally {
      inboundRunning = false;
    }
  }

  // ------------------------------------------------------------ outbound
  const outbound = new Map<MessageKind, BoundedQueue<MessageBody>>(
    MESSAGE_KINDS.map((k) => [k, new BoundedQueue<MessageBody>(opts.outboundQueueSize)]),
  );
  let outboundLoop: Promise<void> | undefined;
  let started = false;

  const outboundLength = (): number => [...outbound.values()].reduce((n, q) => n + q.length, 0);

  async function sendEnvelope<K extends MessageKind>(kind: K, items: MessageBody<K>[]): Promise<void> {
    const env = signEnvelope(opts.network, options.signer, {
      kind, peerId: libp2p.peerId.toMultihash().bytes, timestampMs: BigInt(now()), items,
    });
    const bytes = encodeEnvelope(env);
    if (bytes.length > limits.maxEnvelopeBytes && items.length > 1) {
      // Peers would reject it as too large: send it in halves.
      const half = Math.ceil(items.length / 2);
      await sendEnvelope(kind, items.slice(0, half));
      await sendEnvelope(kind, items.slice(half));
      return;
    }
    try {
      const res = await pubsub.publish(topics[kind], bytes);
      metrics.published.inc({ topic: kind, result: res.recipients.length > 0 ? 'ok' : 'no_peers' });
      metrics.publishedItems.inc({ topic: kind }, items.length);
    } catch (err) {
      metrics.published.inc({ topic: kind, result: 'error' });
      log.warn({ err, topic: kind }, 'gossip publish failed');
    }
  }

  async function drainOutbound(): Promise<void> {
    // Items that pile up while a publish is in flight leave together in one envelope.
    while (started && outboundLength() > 0) {
      for (const kind of MESSAGE_KINDS) {
        const q = outbound.get(kind) as BoundedQueue<MessageBody>;
        if (q.length > 0) await sendEnvelope(kind, q.take(maxItemsFor(kind, limits)));
      }
      metrics.queueLength.set({ queue: 'outbound' }, outboundLength());
    }
  }

  function kickOutbound(): void {
    if (outboundLoop !== undefined || !started) return;
    outboundLoop = (async () => {
      await yieldToEventLoop(); // gather items queued in the same turn
      await drainOutbound();
    })().finally(() => {
      outboundLoop = undefined;
      if (started && outboundLength() > 0) kickOutbound();
    });
  }

  // ------------------------------------------------------------ peers
  const persistentLoop = new PersistentPeers(persistent, {
    localPeerId: peerId,
    dial: async (p) => {
      await libp2p.dial(p.addrs.map((a) => multiaddr(a)));
    },
    isConnected: (id) => libp2p.getConnections(peerIdFromString(id)).length > 0,
    mayDial: (id) => peers.isAllowed(id) && !bans.isBanned(id),
    now,
    onDialResult: (p, ok, err) => {
      metrics.dials.inc({ result: ok ? 'ok' : 'error' });
      if (!ok) log.debug({ peer: p.peerId, err: String(err) }, 'persistent peer dial failed');
      else log.info({ peer: p.peerId }, 'connected to persistent peer');
    },
  }, { backoff, tickMs: opts.persistentPeersTickMs, yieldMs: opts.persistentPeersYieldMs });

  let scoreTimer: ReturnType<typeof setInterval> | undefined;
  function checkScores(): void {
    for (const conn of libp2p.getConnections()) {
      const id = conn.remotePeer.toString();
      const score = pubsub.getScore(id);
      if (score < opts.scoreDisconnectThreshold && !bans.isBanned(id)) {
        bans.ban(id, opts.banMs);
        metrics.scoreDisconnects.inc();
        log.warn({ peer: id, score }, 'disconnecting and banning peer with low gossip score');
        void libp2p.hangUp(conn.remotePeer).catch(() => undefined);
      }
    }
  }

  function dropDisallowed(): void {
    for (const conn of libp2p.getConnections()) {
      const id = conn.remotePeer.toString();
      if (!peers.isAllowed(id) || bans.isBanned(id)) void libp2p.hangUp(conn.remotePeer).catch(() => undefined);
    }
  }

  const updatePeerGauge = (): void => metrics.peers.set(new Set(libp2p.getConnections().map((c) => c.remotePeer.toString())).size);

  return {
    peerId,
    network: opts.network,
    topics,
    async start() {
      if (started) return;
      await libp2p.start();
      started = true;
      pubsub.addEventListener('gossipsub:message', onGossip);
      libp2p.addEventListener('peer:connect', updatePeerGauge);
      libp2p.addEventListener('peer:disconnect', updatePeerGauge);
      for (const t of Object.values(topics)) pubsub.subscribe(t);
      persistentLoop.start();
      scoreTimer = setInterval(checkScores, opts.scoreCheckIntervalMs);
      scoreTimer.unref();
      log.info({ peerId, addrs: libp2p.getMultiaddrs().map(String) }, 'p2p host started');
      kickOutbound();
    },
    async stop() {
      if (!started) return;
      started = false;
      persistentLoop.stop();
      if (scoreTimer !== undefined) clearInterval(scoreTimer);
      await outboundLoop?.catch(() => undefined);
      pubsub.removeEventListener('gossipsub:message', onGossip);
      libp2p.removeEventListener('peer:connect', updatePeerGauge);
      libp2p.removeEventListener('peer:disconnect', updatePeerGauge);
      inbound.clear();
      for (const q of outbound.values()) q.clear();
      await libp2p.stop();
      log.info({ peerId }, 'p2p host stopped');
    },
    multiaddrs: () => libp2p.getMultiaddrs().map(String),
    updateAllowlist(list) {
      peers.update(list);
      if (started) dropDisallowed();
    },
    handle(kind, handler) {
      if (handlers.has(kind)) throw new BridgeError({ code: 'P2P_HANDLER_EXISTS', kind });
      handlers.set(kind, handler as MessageHandler<MessageKind>);
      return () => {
        if (handlers.get(kind) === (handler as MessageHandler<MessageKind>)) handlers.delete(kind);
      };
    },
    publish(kind, body) {
      if (!checkBody(kind, body, limits)) throw new BridgeError({ code: 'P2P_INVALID_MESSAGE', kind });
      if (kind === 'attestation') {
        const a = body as MessageBody<'attestation'>;
        const who = recoverAddress(a.decisionHash, a.signature);
        const whoHex = who === undefined ? undefined : `0x${Buffer.from(who).toString('hex')}`;
        if (whoHex !== signerHex) throw new BridgeError({ code: 'P2P_INVALID_MESSAGE', kind, reason: 'attestation not signed by this validator' });
      }
      const q = outbound.get(kind) as BoundedQueue<MessageBody>;
      if (!q.push(body)) {
        metrics.queueDropped.inc({ queue: 'outbound', topic: kind });
        return false;
      }
      metrics.queueLength.set({ queue: 'outbound' }, outboundLength());
      kickOutbound();
      return true;
    },
    async flush() {
      // Bounded: each pass sends at least one envelope or the queues are empty.
      for (let i = 0; i < 1_000_000 && started && (outboundLoop !== undefined || outboundLength() > 0); i++) {
        if (outboundLoop === undefined) kickOutbound();
        await outboundLoop;
      }
    },
    async dial(addr) {
      await libp2p.dial(multiaddr(addr));
    },
    connectedPeers: () => [...new Set(libp2p.getConnections().map((c) => c.remotePeer.toString()))],
    meshPeers: (kind) => pubsub.getMeshPeers(topics[kind]),
    peerScore: (id) => pubsub.getScore(id),
    isBanned: (id) => bans.isBanned(id),
    async publishRaw(kind, data) {
      await pubsub.publish(topics[kind], data);
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

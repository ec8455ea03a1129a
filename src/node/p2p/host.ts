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
import { BridgeError } from '../../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { createMetrics, type MetricsFactory } from '../metrics.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { EnvelopeSigner } from './envelope.js';
import { BanList, createAllowlistGater } from './gater.js';
import { InboundPipeline, type MessageHandler } from './inbound.js';
import { DEFAULT_CODEC_LIMITS, type CodecLimits, type MessageBody } from './messages.js';
import { OutboundPipeline } from './outbound.js';
import { createP2pMetrics, type P2pMetrics } from './p2p-metrics.js';
import { PeerSet, type PeerAllowlist } from './peer-set.js';
import { PersistentPeers, type PersistentPeer } from './persistent-peers.js';
import { buildScoreParams, DEFAULT_SCORE_THRESHOLDS } from './scoring.js';
import { SeenCache } from './seen-cache.js';
import { isValidNetworkName, MESSAGE_KINDS, topicsOf, type MessageKind } from './topics.js';
import type { ValidationState, Verdict } from './validation.js';

export type { InboundMeta, MessageHandler } from './inbound.js';

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

export interface P2pStatus {
  peerId: string;
  connectedPeers: number;
  allowlistSize: number;
  persistentPeers: Array<{ peerId: string; connected: boolean; attempts: number }>;
  inboundQueue: number;
  outboundQueue: number;
}

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
  /** Snapshot for health endpoints and logs. */
  status(): P2pStatus;
  /** Fault injection for tests and tooling: publish bytes as-is on a kind's topic. */
  publishRaw(kind: MessageKind, data: Uint8Array): Promise<void>;
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
        // No libp2p-level signature, `from` or seqno: the envelope is signed by the validator key
        // and names its peer id, checked against the registry (P2P.md §1; eth2 does the same).
        // StrictSign cost an Ed25519 verification per received copy, before deduplication.
        globalSignaturePolicy: 'StrictNoSign',
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
        // Unvalidated messages live in the message cache for this many heartbeats; a verdict
        // reported later neither forwards nor penalises. Keep at least ~5 s at any heartbeat.
        mcacheLength: Math.max(5, Math.ceil(5_000 / opts.gossipHeartbeatMs)),
        // Identity is content: the envelope's signature and peer id are part of the bytes, so
        // identical bytes are the same message from the same origin.
        msgIdFn: (msg: Message) => sha256(msg.data).subarray(0, 20),
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
  const report = (m: { msgId: string; source: string }, verdict: Verdict): void => {
    try {
      pubsub.reportMessageValidationResult(m.msgId, m.source, verdict as TopicValidatorResult);
    } catch (err) {
      // Only possible while stopping; the message is simply not forwarded.
      log.debug({ err }, 'could not report validation result');
    }
  };
  const inbound = new InboundPipeline(
    { state, metrics, log, now, report },
    { queueSize: opts.inboundQueueSize, batchSize: opts.inboundBatchSize, sliceMs: opts.inboundSliceMs },
  );
  const onGossip = (evt: CustomEvent<GossipsubEvents['gossipsub:message']['detail']>): void => {
    const { msg, msgId, propagationSource } = evt.detail;
    const source = propagationSource.toString();
    const kind = kindByTopic.get(msg.topic);
    if (kind === undefined || msg.type !== 'unsigned') {
      report({ msgId, source }, 'ignore');
      return;
    }
    inbound.enqueue({ kind, msgId, source, data: msg.data, receivedAtMs: now() });
  };

  // ------------------------------------------------------------ outbound
  const outbound = new OutboundPipeline({
    network: opts.network,
    signer: options.signer,
    peerIdBytes: libp2p.peerId.toMultihash().bytes,
    limits,
    metrics,
    log,
    now,
    publish: async (kind, data) => (await pubsub.publish(topics[kind], data)).recipients.length,
  }, opts.outboundQueueSize);
  let started = false;

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

  const connectedPeers = (): string[] => [...new Set(libp2p.getConnections().map((c) => c.remotePeer.toString()))];
  const updatePeerGauge = (): void => metrics.peers.set(connectedPeers().length);

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
      outbound.start();
      log.info({ peerId, addrs: libp2p.getMultiaddrs().map(String) }, 'p2p host started');
    },
    async stop() {
      if (!started) return;
      started = false;
      persistentLoop.stop();
      if (scoreTimer !== undefined) clearInterval(scoreTimer);
      await outbound.stop();
      pubsub.removeEventListener('gossipsub:message', onGossip);
      libp2p.removeEventListener('peer:connect', updatePeerGauge);
      libp2p.removeEventListener('peer:disconnect', updatePeerGauge);
      inbound.clear();
      await libp2p.stop();
      log.info({ peerId }, 'p2p host stopped');
    },
    multiaddrs: () => libp2p.getMultiaddrs().map(String),
    updateAllowlist(list) {
      peers.update(list);
      if (started) dropDisallowed();
    },
    handle(kind, handler) {
      const off = inbound.setHandler(kind, handler);
      if (off === undefined) throw new BridgeError({ code: 'P2P_HANDLER_EXISTS', kind });
      return off;
    },
    publish: (kind, body) => outbound.enqueue(kind, body),
    flush: () => outbound.flush(),
    async dial(addr) {
      await libp2p.dial(multiaddr(addr));
    },
    connectedPeers,
    meshPeers: (kind) => pubsub.getMeshPeers(topics[kind]),
    peerScore: (id) => pubsub.getScore(id),
    isBanned: (id) => bans.isBanned(id),
    status: () => ({
      peerId,
      connectedPeers: connectedPeers().length,
      allowlistSize: peers.size,
      persistentPeers: persistentLoop.status(),
      inboundQueue: inbound.length,
      outboundQueue: outbound.length,
    }),
    async publishRaw(kind, data) {
      await pubsub.publish(topics[kind], data);
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import { backoffDelay, type BackoffOptions } from './backoff.js';

/** A peer the node keeps a connection to: its id and where to dial it. */
export interface PersistentPeer {
  peerId: string;
  addrs: string[];
}

export interface PersistentPeersDeps {
  localPeerId: string;
  dial(peer: PersistentPeer): Promise<void>;
  isConnected(peerId: string): boolean;
  /** Peers the gater would refuse anyway (not allowlisted, banned) are skipped. */
  mayDial(peerId: string): boolean;
  now(): number;
  onDialResult?(peer: PersistentPeer, ok: boolean, err?: unknown): void;
}

export interface PersistentPeersOptions {
  backoff: BackoffOptions;
  /** How often the loop looks at the peers. */
  tickMs: number;
  /**
   * Of two peers that list each other, only the one with the smaller peer id
   * dials at once; the other waits this long after losing the connection, so
   * the pair does not race two connections but an asymmetric config still works.
   */
  yieldMs: number;
}

interface PeerState {
  peer: PersistentPeer;
  attempts: number;
  nextDialAt: number;
  dialing: boolean;
}

/**
 * Keeps connections to configured peers alive: @libp2p/bootstrap dials once
 * and never retries, so this loop redials with exponential backoff.
 */
export class PersistentPeers {
  private readonly states = new Map<string, PeerState>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    peers: readonly PersistentPeer[],
    private readonly deps: PersistentPeersDeps,
    private readonly opts: PersistentPeersOptions,
  ) {
    const now = deps.now();
    for (const peer of peers) {
      if (peer.peerId === deps.localPeerId) continue;
      this.states.set(peer.peerId, { peer, attempts: 0, nextDialAt: now + this.firstDelay(peer.peerId), dialing: false });
    }
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over the peers; public so tests can drive it deterministically. */
  tick(): void {
    const now = this.deps.now();
    for (const s of this.states.values()) {
      if (this.deps.isConnected(s.peer.peerId)) {
        // Connected: reset, and if it drops, let the smaller id redial first.
        s.attempts = 0;
        s.nextDialAt = now + this.firstDelay(s.peer.peerId);
        continue;
      }
      if (s.dialing || now < s.nextDialAt || !this.deps.mayDial(s.peer.peerId)) continue;
      s.dialing = true;
      this.deps.dial(s.peer).then(
        () => {
          s.dialing = false;
          s.attempts = 0;
          this.deps.onDialResult?.(s.peer, true);
        },
        (err: unknown) => {
          s.dialing = false;
          s.attempts++;
          s.nextDialAt = this.deps.now() + backoffDelay(s.attempts, this.opts.backoff);
          this.deps.onDialResult?.(s.peer, false, err);
        },
      );
    }
  }

  /** Current attempt counts, for health output. */
  status(): Array<{ peerId: string; connected: boolean; attempts: number }> {
    return [...this.states.values()].map((s) => ({
      peerId: s.peer.peerId,
      connected: this.deps.isConnected(s.peer.peerId),
      attempts: s.attempts,
    }));
  }

  private firstDelay(remote: string): number {
    return this.deps.localPeerId < remote ? 0 : this.opts.yieldMs;
  }
}

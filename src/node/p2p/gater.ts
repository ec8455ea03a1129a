import type { ConnectionGater, PeerId } from '@libp2p/interface';
import type { PeerSet } from './peer-set.js';

/** Peers disconnected for a low score stay out for a while. */
export class BanList {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  ban(peerId: string, durationMs: number): void {
    this.until.set(peerId, this.now() + durationMs);
  }

  isBanned(peerId: string): boolean {
    const t = this.until.get(peerId);
    if (t === undefined) return false;
    if (t > this.now()) return true;
    this.until.delete(peerId);
    return false;
  }
}

export type DenyReason = 'not-allowlisted' | 'banned';

/** Why `peerId` may not connect right now, or undefined if it may. */
export function denyReason(peerId: string, peers: PeerSet, bans: BanList): DenyReason | undefined {
  if (!peers.isAllowed(peerId)) return 'not-allowlisted';
  if (bans.isBanned(peerId)) return 'banned';
  return undefined;
}

/**
 * Admit only allowlisted, unbanned peer ids. Inbound connections are checked
 * right after the noise handshake (the first point where the remote peer id is
 * authenticated), outbound ones before dialling and again after the handshake.
 */
export function createAllowlistGater(peers: PeerSet, bans: BanList, onDeny: (reason: DenyReason) => void): ConnectionGater {
  const deny = (peerId: PeerId): boolean => {
    const reason = denyReason(peerId.toString(), peers, bans);
    if (reason !== undefined) onDeny(reason);
    return reason !== undefined;
  };
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
  };
}

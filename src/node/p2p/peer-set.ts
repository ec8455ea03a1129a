import { peerIdFromString } from '@libp2p/peer-id';
import { BridgeError } from '../../errors.js';

/** A registered validator: its signing address and the peer id it registered on the home contract. */
export interface ValidatorPeer {
  /** 0x-prefixed 20-byte address (any case). */
  address: string;
  /** libp2p peer id string (base58btc or CID form). */
  peerId: string;
}

/**
 * Who may connect and who may publish. The node composes it from the staking
 * contract (every registered validator, including those waiting for their
 * epoch) plus the observers listed in its config.
 */
export interface PeerAllowlist {
  validators: readonly ValidatorPeer[];
  observers: readonly string[];
}

function normalizePeerId(id: string): string {
  try {
    return peerIdFromString(id).toString();
  } catch (cause) {
    throw new BridgeError({ code: 'P2P_BAD_PEER_ID', peerId: id, cause });
  }
}

function normalizeAddress(address: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new BridgeError({ code: 'P2P_BAD_VALIDATOR_ADDRESS', address });
  return address.toLowerCase();
}

/** The current allowlist, indexed for the gater and for message validation. */
export class PeerSet {
  private allowed = new Set<string>();
  private peerByAddress = new Map<string, string>();
  /** Registered peer id multihash bytes (hex) by address: envelopes carry the peer id as bytes. */
  private peerBytesByAddress = new Map<string, string>();

  constructor(initial?: PeerAllowlist) {
    if (initial) this.update(initial);
  }

  /** Replace the whole set (validated first, so a bad entry leaves the old set in force). */
  update(list: PeerAllowlist): void {
    const peerByAddress = new Map<string, string>();
    const peerBytesByAddress = new Map<string, string>();
    const allowed = new Set<string>();
    for (const v of list.validators) {
      const peerId = normalizePeerId(v.peerId);
      const address = normalizeAddress(v.address);
      peerByAddress.set(address, peerId);
      peerBytesByAddress.set(address, Buffer.from(peerIdFromString(peerId).toMultihash().bytes).toString('hex'));
      allowed.add(peerId);
    }
    for (const o of list.observers) allowed.add(normalizePeerId(o));
    this.peerByAddress = peerByAddress;
    this.peerBytesByAddress = peerBytesByAddress;
    this.allowed = allowed;
  }

  isAllowed(peerId: string): boolean {
    return this.allowed.has(peerId);
  }

  /** Registered peer id of a validator address (lowercase 0x hex), if any. */
  peerOfValidator(addressLower: string): string | undefined {
    return this.peerByAddress.get(addressLower);
  }

  /** Registered peer id of a validator as multihash bytes in hex (no prefix), if any. */
  peerBytesOfValidator(addressLower: string): string | undefined {
    return this.peerBytesByAddress.get(addressLower);
  }

  get size(): number {
    return this.allowed.size;
  }
}

import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../src/node/p2p/backoff.js';
import { BoundedQueue } from '../../../src/node/p2p/bounded-queue.js';
import { PeerSet } from '../../../src/node/p2p/peer-set.js';
import { PersistentPeers, type PersistentPeer } from '../../../src/node/p2p/persistent-peers.js';
import { SeenCache } from '../../../src/node/p2p/seen-cache.js';
import { isBridgeError } from '../../../src/errors.js';
import { makeIdentity } from './helpers.js';

describe('BoundedQueue', () => {
  it('refuses and counts pushes beyond capacity and keeps FIFO order', () => {
    const q = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4, 5].map((n) => q.push(n))).toEqual([true, true, true, false, false]);
    expect(q.dropped).toBe(2);
    expect(q.take(2)).toEqual([1, 2]);
    expect(q.push(6)).toBe(true);
    expect(q.clear()).toEqual([3, 6]);
    expect(q.length).toBe(0);
  });

  it('stays correct across compaction', () => {
    const q = new BoundedQueue<number>(5000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) q.push(next++);
      for (const v of q.take(250)) expect(v).toBe(expected++);
    }
    expect(q.length).toBe(next - expected);
  });
});

describe('SeenCache', () => {
  it('forgets keys after the ttl and caps its size', () => {
    const c = new SeenCache(1000, 3);
    c.add('a', 0);
    expect(c.has('a', 999)).toBe(true);
    expect(c.has('a', 1000)).toBe(false);
    for (const k of ['b', 'c', 'd', 'e']) c.add(k, 10);
    expect(c.size).toBe(3);
    expect(c.has('b', 11)).toBe(false);
    expect(c.has('e', 11)).toBe(true);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with jitter taken off the top', () => {
    const o = { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, o, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, o, () => 1)).toBe(200);
  });
});

describe('PeerSet', () => {
  it('normalises addresses, refuses malformed entries and keeps the previous set', async () => {
    const a = await makeIdentity();
    const set = new PeerSet({ validators: [{ address: `0x${a.address.slice(2).toUpperCase()}`, peerId: a.peerId }], observers: [] });
    expect(() => set.update({ validators: [{ address: 'nope', peerId: a.peerId }], observers: [] })).toThrow();
    let err: unknown;
    try {
      set.update({ validators: [], observers: ['not-a-peer-id'] });
    } catch (e) {
      err = e;
    }
    expect(isBridgeError(err, 'P2P_BAD_PEER_ID')).toBe(true);
    expect(set.isAllowed(a.peerId)).toBe(true);
    // Addresses are matched case-insensitively (stored lowercase).
    expect(set.peerOfValidator(a.address)).toBe(a.peerId);
  });
});

describe('PersistentPeers', () => {
  function harness(local: string, peers: PersistentPeer[], failFirst: number) {
    let t = 0;
    const connected = new Set<string>();
    const dials: Array<{ peer: string; at: number }> = [];
    let failures = failFirst;
    const loop = new PersistentPeers(peers, {
      localPeerId: local,
      now: () => t,
      isConnected: (id) => connected.has(id),
      mayDial: () => true,
      dial: async (p) => {
        dials.push({ peer: p.peerId, at: t });
        if (failures-- > 0) throw new Error('refused');
        connected.add(p.peerId);
      },
    }, { backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 }, tickMs: 10, yieldMs: 1000 });
    return {
      loop, dials, connected,
      advance: async (ms: number) => {
        for (let i = 0; i < ms / 10; i++) {
          t += 10;
          loop.tick();
          await Promise.resolve();
          await Promise.resolve();
        }
      },
    };
  }

  it('redials a failing peer with exponential backoff and stops once connected', async () => {
    const h = harness('a', [{ peerId: 'b', addrs: [] }], 4);
    await h.advance(2000);
    expect(h.connected.has('b')).toBe(true);
    const gaps = h.dials.slice(1).map((d, i) => d.at - h.dials[i]!.at);
    expect(gaps).toEqual([100, 200, 400, 400]);
    const n = h.dials.length;
    await h.advance(1000);
    expect(h.dials.length).toBe(n);
    // Connection lost: the smaller id redials at once.
    h.connected.delete('b');
    await h.advance(20);
    expect(h.dials.length).toBe(n + 1);
  });

  it('lets the smaller peer id dial first; the larger one waits', async () => {
    const h = harness('z', [{ peerId: 'b', addrs: [] }, { peerId: 'z', addrs: [] }], 0);
    await h.advance(900);
    expect(h.dials).toEqual([]);
    await h.advance(200);
    expect(h.dials.map((d) => d.peer)).toEqual(['b']); // never dials itself
  });
});

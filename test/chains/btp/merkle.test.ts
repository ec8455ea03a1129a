import { describe, expect, it } from 'vitest';
import { keccak256 } from '../../../src/chains/btp/bytes.js';
import {
  buildMessageProof,
  computeMessageProof,
  merklePath,
  merkleRoot,
  messagesRoot,
  rootFromPath,
  verifyMerklePath,
} from '../../../src/chains/btp/merkle.js';

const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => keccak256(Uint8Array.of(i, n)));
const messagesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`msg-${i}-of-${n}`));

describe('merkle paths', () => {
  it('verify for every index of trees of 1..64 leaves, and fail for a wrong leaf or sibling', () => {
    for (let n = 1; n <= 64; n++) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (let i = 0; i < n; i++) {
        const path = merklePath(leaves, i);
        expect(verifyMerklePath(leaves[i]!, path, root)).toBe(true);
        expect(verifyMerklePath(leaves[(i + 1) % n]!, path, root)).toBe(n === 1);
        const firstReal = path.findIndex((p) => p.value !== null);
        if (firstReal >= 0) {
          const bad = path.map((p, k) => (k === firstReal ? { dir: p.dir, value: keccak256(p.value!) } : p));
          expect(verifyMerklePath(leaves[i]!, bad, root)).toBe(false);
        }
      }
    }
  });

  it('a nil sibling on the left is malformed', () => {
    expect(rootFromPath(new Uint8Array(32), [{ dir: 0, value: null }])).toBeNull();
  });
});

describe('message range proofs', () => {
  it('every range of trees of 1..24 messages proves against the root', () => {
    for (let n = 1; n <= 24; n++) {
      const msgs = messagesOf(n);
      const root = messagesRoot(msgs);
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b <= n; b++) {
          const mp = buildMessageProof(msgs, a, b);
          const r = computeMessageProof(mp);
          expect(r, `n=${n} [${a},${b})`).not.toBeNull();
          expect(r!.root).toEqual(root);
          expect(r!.leafCount).toBe(n);
          expect(r!.offset).toBe(a);
        }
      }
    }
  });

  it('single-message ranges for every index of 25..64 messages', () => {
    for (let n = 25; n <= 64; n++) {
      const msgs = messagesOf(n);
      const root = messagesRoot(msgs);
      for (let a = 0; a < n; a++) {
        const r = computeMessageProof(buildMessageProof(msgs, a, a + 1));
        expect(r!.root).toEqual(root);
        expect(r!.offset).toBe(a);
      }
    }
  });

  it('a tampered message, a lied leaf count or a non-canonical split fail', () => {
    const msgs = messagesOf(7);
    const root = messagesRoot(msgs);
    const mp = buildMessageProof(msgs, 2, 4);
    const tampered = { ...mp, messages: [Uint8Array.of(1), ...mp.messages.slice(1)] };
    expect(computeMessageProof(tampered)!.root).not.toEqual(root);
    const liar = { ...mp, left: [{ leafCount: 1, hash: mp.left![0]!.hash }] };
    expect(computeMessageProof(liar)).toBeNull();
    const split = { ...mp, right: [...mp.right!.slice(0, -1), { leafCount: 1, hash: new Uint8Array(32) }, { leafCount: 2, hash: new Uint8Array(32) }] };
    expect(computeMessageProof(split)).toBeNull();
    expect(computeMessageProof({ left: null, messages: [], right: null })).toBeNull();
  });
});

/**
 * A test-only transcription of the queue algorithm that btp2-solidity's
 * MessageProofLib.calculate runs on chain, so proofs built here are known to
 * be accepted by a reference BMV too.
 */
function referenceCalculate(mp: ReturnType<typeof buildMessageProof>): { root: Uint8Array; leafCount: number } {
  type N = { level: number; leafCount: number; hash: Uint8Array };
  const levelOf = (n: number): number => {
    let t = n - 1;
    let level = 1;
    while (t > 0) {
      level++;
      t >>= 1;
    }
    return level;
  };
  const queue: N[] = [
    ...(mp.left ?? []).map((n) => ({ level: levelOf(n.leafCount), leafCount: n.leafCount, hash: n.hash })),
    ...mp.messages.map((m) => ({ level: 1, leafCount: 1, hash: keccak256(m) })),
    ...(mp.right ?? []).map((n) => ({ level: levelOf(n.leafCount), leafCount: n.leafCount, hash: n.hash })),
  ];
  const leafCount = queue.reduce((s, n) => s + n.leafCount, 0);
  let maxLevel = 1;
  for (let t = leafCount; t !== 0; t >>= 1) maxLevel++;
  for (let i = 0; i < maxLevel; i++) {
    const t = queue.length;
    let w = queue.length;
    for (let j = 0; j < t; j++) {
      let l = queue.shift()!;
      w--;
      if (l.level <= i + 1 && w > 0) {
        const r = queue.shift()!;
        if (l.leafCount !== 1 << (l.level - 1) || l.leafCount < r.leafCount) throw new Error('reference concat rejects');
        l = { level: l.level + 1, leafCount: l.leafCount + r.leafCount, hash: keccak256(new Uint8Array([...l.hash, ...r.hash])) };
        w--;
        j++;
      }
      queue.push(l);
    }
  }
  if (queue.length !== 1) throw new Error('reference leaves more than one node');
  return { root: queue[0]!.hash, leafCount };
}

describe('compatibility with the reference on-chain algorithm', () => {
  it('every range of 1..20 messages is accepted by MessageProofLib.calculate', () => {
    for (let n = 1; n <= 20; n++) {
      const msgs = messagesOf(n);
      const root = messagesRoot(msgs);
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b <= n; b++) {
          const r = referenceCalculate(buildMessageProof(msgs, a, b));
          expect(r.root, `n=${n} [${a},${b})`).toEqual(root);
          expect(r.leafCount).toBe(n);
        }
      }
    }
  });
});

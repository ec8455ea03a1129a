import { BridgeError } from '../../errors.js';
import { concatBytes, equalBytes, keccak256 } from './bytes.js';
import type { MerkleNode, MessageProof, MessageProofNode } from './types.js';

/**
 * keccak256 binary merkle tree of BTP 2.0 (btp2_extension.md "MerkleRoot
 * algorithm"): pairs are hashed bottom-up, an odd last node is carried up
 * unchanged, one node is its own root.
 */
function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  return keccak256(concatBytes(a, b));
}

/** Root of `nodes` (already hashed leaves). Throws `BTP_EMPTY_TREE` for no nodes. */
export function merkleRoot(nodes: readonly Uint8Array[]): Uint8Array {
  if (nodes.length === 0) throw new BridgeError({ code: 'BTP_EMPTY_TREE' });
  let level = [...nodes];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hashPair(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** Root over the keccak256 of each message (the MessagesRoot of a NetworkSection). */
export function messagesRoot(messages: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(messages.map(keccak256));
}

/**
 * Path from leaf `index` to the root: `[Dir, sibling]` per level, Dir 1 when the
 * sibling is on the right, 0 when on the left, `[1, nil]` where the node is
 * carried up (btp2_extension.md "Example Merkle Proof").
 */
export function merklePath(nodes: readonly Uint8Array[], index: number): MerkleNode[] {
  if (!Number.isInteger(index) || index < 0 || index >= nodes.length) {
    throw new BridgeError({ code: 'BTP_INDEX_OUT_OF_RANGE', index, size: nodes.length });
  }
  const path: MerkleNode[] = [];
  let level = [...nodes];
  let i = index;
  while (level.length > 1) {
    if (i % 2 === 1) path.push({ dir: 0, value: level[i - 1]! });
    else if (i + 1 < level.length) path.push({ dir: 1, value: level[i + 1]! });
    else path.push({ dir: 1, value: null });
    const next: Uint8Array[] = [];
    for (let k = 0; k + 1 < level.length; k += 2) next.push(hashPair(level[k]!, level[k + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
    i = Math.floor(i / 2);
  }
  return path;
}

/** Folds a path onto a leaf (btp2-solidity MerkleTreeLib.calculate); null on a malformed path. */
export function rootFromPath(leaf: Uint8Array, path: readonly MerkleNode[]): Uint8Array | null {
  let acc = leaf;
  for (const node of path) {
    if (node.value === null) {
      if (node.dir !== 1) return null;
      continue;
    }
    acc = node.dir === 0 ? hashPair(node.value, acc) : hashPair(acc, node.value);
  }
  return acc;
}

export function verifyMerklePath(leaf: Uint8Array, path: readonly MerkleNode[], root: Uint8Array): boolean {
  const r = rootFromPath(leaf, path);
  return r !== null && equalBytes(r, root);
}

// ---- message range proofs ----

/**
 * Leaf counts of the subtrees that cover leaves [from, to) of a tree of `total`
 * leaves. Prefixes decompose into aligned powers of two; the suffix is walked
 * with the largest aligned block at each position, clipped at `total` (the
 * clipped block is a carried-up, partial node).
 */
function coverSizes(from: number, to: number, total: number): number[] {
  const sizes: number[] = [];
  let pos = from;
  while (pos < to) {
    let size = 1;
    while (size < total - pos && pos % (size * 2) === 0 && Math.min(pos + size * 2, total) <= to) size *= 2;
    const count = Math.min(size, total - pos);
    sizes.push(count);
    pos += count;
  }
  return sizes;
}

interface Segment {
  start: number;
  count: number;
  hash: Uint8Array;
}

/** Root of the tree when the leaves are given as consecutive covering segments. */
function rootFromSegments(segments: readonly Segment[], total: number): Uint8Array | null {
  let width = 1;
  while (width < total) width *= 2;
  const byStart = new Map<number, Segment>();
  for (const s of segments) byStart.set(s.start, s);
  const used = new Set<number>();
  const node = (start: number, size: number): Uint8Array | null => {
    const seg = byStart.get(start);
    if (seg !== undefined && seg.count === Math.min(size, total - start)) {
      used.add(start);
      return seg.hash;
    }
    if (size === 1) return null;
    const half = size / 2;
    const left = node(start, half);
    if (left === null) return null;
    if (start + half >= total) return left; // carried up
    const right = node(start + half, half);
    return right === null ? null : hashPair(left, right);
  };
  const root = node(0, width);
  return root !== null && used.size === segments.length ? root : null;
}

/** Builds a MessageProof for messages [from, to) of `messages` (the whole block's list). */
export function buildMessageProof(messages: readonly Uint8Array[], from: number, to: number): MessageProof {
  const total = messages.length;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= total)) {
    throw new BridgeError({ code: 'BTP_INDEX_OUT_OF_RANGE', from, to, size: total });
  }
  const leaves = messages.map(keccak256);
  const subtree = (start: number, count: number): Uint8Array => merkleRoot(leaves.slice(start, start + count));
  const nodes = (a: number, b: number): MessageProofNode[] => {
    const out: MessageProofNode[] = [];
    let pos = a;
    for (const count of coverSizes(a, b, total)) {
      out.push({ leafCount: count, hash: subtree(pos, count) });
      pos += count;
    }
    return out;
  };
  return { left: nodes(0, from), messages: messages.slice(from, to), right: nodes(to, total) };
}

export interface MessageProofResult {
  root: Uint8Array;
  leafCount: number;
  /** Index of the first proven message (sum of the left nodes' leaf counts). */
  offset: number;
}

/**
 * Recomputes (root, leafCount, offset) of a MessageProof, or null when its nodes
 * are not the canonical cover of the range (so a node's claimed leaf count
 * cannot shift which message indexes are proven).
 */
export function computeMessageProof(mp: MessageProof): MessageProofResult | null {
  const left = mp.left ?? [];
  const right = mp.right ?? [];
  if (mp.messages.length === 0) return null;
  const offset = left.reduce((s, n) => s + n.leafCount, 0);
  const total = offset + mp.messages.length + right.reduce((s, n) => s + n.leafCount, 0);
  if (!Number.isSafeInteger(total)) return null;
  const expectLeft = coverSizes(0, offset, total);
  const expectRight = coverSizes(offset + mp.messages.length, total, total);
  if (expectLeft.length !== left.length || expectRight.length !== right.length) return null;
  if (left.some((n, i) => n.leafCount !== expectLeft[i]) || right.some((n, i) => n.leafCount !== expectRight[i])) return null;
  const segments: Segment[] = [];
  let pos = 0;
  for (const n of left) {
    segments.push({ start: pos, count: n.leafCount, hash: n.hash });
    pos += n.leafCount;
  }
  for (const m of mp.messages) segments.push({ start: pos++, count: 1, hash: keccak256(m) });
  for (const n of right) {
    segments.push({ start: pos, count: n.leafCount, hash: n.hash });
    pos += n.leafCount;
  }
  const root = rootFromSegments(segments, total);
  return root === null ? null : { root, leafCount: total, offset };
}

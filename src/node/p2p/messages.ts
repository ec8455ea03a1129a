import type { MessageKind } from './topics.js';

/**
 * Message bodies carried on the gossip topics. Byte layouts are specified in
 * docs/P2P.md; `codec.ts` is the only place that turns them into bytes.
 */

/** A validator's signature over the BTP NetworkTypeSectionDecision hash of one height. */
export interface Attestation {
  /** Bitcoin height of the BTP block. */
  height: bigint;
  /** Raw 32-byte keccak decision hash. */
  decisionHash: Uint8Array;
  /**
   * keccak256 of the block's NetworkTypeSection (32 bytes): with the federation's constants and the
   * height it rebuilds the decision preimage, so two signatures of one validator at one height are
   * slashing evidence from gossip alone (docs/CONSENSUS.md §6).
   */
  networkTypeSectionHash: Uint8Array;
  /** 65-byte R‖S‖V (V in {0,1}) by the same key that signs the envelope. */
  signature: Uint8Array;
}

/** One input's BIP-143 SIGHASH_ALL signature, compact with recovery id (the contract's form). */
export interface InputSignature {
  index: number;
  /** 65-byte R‖S‖V, V in {0,1}, low S. */
  signature: Uint8Array;
}

/** A validator's witness signatures for one version of a payout batch. */
export interface PayoutWitness {
  batchId: bigint;
  /** Fee-bump version of the batch (0 for the first). */
  version: bigint;
  /** Txid (internal byte order) of the transaction version being signed. */
  txid: Uint8Array;
  /** Strictly increasing input indices. */
  inputs: InputSignature[];
}

/** Liveness and progress of one validator; the peer id is the envelope's. */
export interface Heartbeat {
  softwareVersion: string;
  homeHeight: bigint;
  foreignHeight: bigint;
  /** Highest BTP height this validator has signed (0: none yet). */
  lastSignedHeight: bigint;
}

export type ObservedChain = 'foreign' | 'home';

/**
 * Ask peers to observe something again: either a height range (itemIds empty)
 * or a list of 32-byte item ids (txids, event ids) with both heights 0.
 */
export interface ReobservationRequest {
  chain: ObservedChain;
  fromHeight: bigint;
  toHeight: bigint;
  itemIds: Uint8Array[];
}

export interface MessageBodies {
  attestation: Attestation;
  'payout-witness': PayoutWitness;
  heartbeat: Heartbeat;
  reobserve: ReobservationRequest;
}

export type MessageBody<K extends MessageKind = MessageKind> = MessageBodies[K];

/** A signed envelope: one or more items of one kind, from one validator and peer. */
export interface Envelope<K extends MessageKind = MessageKind> {
  kind: K;
  /** libp2p peer id (multihash bytes) of the publishing node. */
  peerId: Uint8Array;
  /** Publisher's wall clock, unix milliseconds. */
  timestampMs: bigint;
  items: MessageBody<K>[];
  /** 65-byte R‖S‖V over the envelope digest (see envelope.ts). */
  signature: Uint8Array;
}

/** Hard bounds that make decoding total and cheap. */
export interface CodecLimits {
  maxItemsPerEnvelope: number;
  maxInputsPerWitness: number;
  maxReobserveIds: number;
  maxReobserveSpan: number;
  maxEnvelopeBytes: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = {
  maxItemsPerEnvelope: 64,
  maxInputsPerWitness: 2048,
  maxReobserveIds: 256,
  maxReobserveSpan: 1008,
  maxEnvelopeBytes: 1 << 20,
};

/**
 * BTP 2.0 structures of the "eth" network type (goloop doc/btp2_extension.md,
 * btp2-solidity bmv). Nullable fields keep nil (`f800`) distinct from an empty
 * value so that decode -> encode reproduces the input bytes exactly.
 */

/** One level of a merkle path: Dir 0 = sibling on the left, 1 = on the right; nil = carried up. */
export interface MerkleNode {
  dir: 0 | 1;
  value: Uint8Array | null;
}

export interface BTPBlockHeader {
  mainHeight: number;
  round: number;
  nextProofContextHash: Uint8Array;
  /** Path from H(NetworkSection) to NetworkSectionsRoot; null when encoded as nil. */
  networkSectionToRoot: MerkleNode[] | null;
  networkId: number;
  /** UpdateNumber >> 1. */
  firstMessageSn: number;
  /** UpdateNumber & 1. */
  proofContextChanged: boolean;
  prev: Uint8Array | null;
  messageCount: number;
  messagesRoot: Uint8Array | null;
  /** RLP bytes of the next ETH ProofContext, or nil when unchanged. */
  nextProofContext: Uint8Array | null;
}

export interface NetworkSection {
  networkId: number;
  firstMessageSn: number;
  proofContextChanged: boolean;
  prev: Uint8Array | null;
  messageCount: number;
  messagesRoot: Uint8Array | null;
}

export interface NetworkTypeSection {
  nextProofContextHash: Uint8Array;
  networkSectionsRoot: Uint8Array;
}

export interface NetworkTypeSectionDecision {
  /** SrcNetworkUID, e.g. `0x1.icon` or fednode's `0x1.btc`. */
  srcNetworkUid: string;
  dstNetworkTypeId: number;
  height: number;
  round: number;
  networkTypeSectionHash: Uint8Array;
}

/** ETH ProofContext: validator addresses (20 bytes each) in signing order. */
export interface EthProofContext {
  validators: Uint8Array[];
}

/** ETH Proof: one 65-byte R‖S‖V signature or nil per ProofContext entry. */
export interface EthProof {
  signatures: (Uint8Array | null)[];
}

/** A node of a message range proof: a complete (or last, partial) subtree. */
export interface MessageProofNode {
  leafCount: number;
  hash: Uint8Array;
}

export interface MessageProof {
  left: MessageProofNode[] | null;
  messages: Uint8Array[];
  right: MessageProofNode[] | null;
}

export interface BlockUpdate {
  header: BTPBlockHeader;
  proof: EthProof;
}

export const RELAY_BLOCK_UPDATE = 1;
export const RELAY_MESSAGE_PROOF = 2;

export type RelayItem =
  | { type: typeof RELAY_BLOCK_UPDATE; blockUpdate: BlockUpdate }
  | { type: typeof RELAY_MESSAGE_PROOF; messageProof: MessageProof };

export interface RelayMessage {
  items: RelayItem[];
}

export interface FeeInfo {
  network: string;
  values: bigint[];
}

/** BMC message `[src, dst, svc, sn, payload, nsn, feeInfo]` (btp2-solidity Types.sol). */
export interface BTPMessage {
  src: string;
  dst: string;
  svc: string;
  sn: bigint;
  payload: Uint8Array;
  nsn: bigint;
  feeInfo: FeeInfo | null;
}

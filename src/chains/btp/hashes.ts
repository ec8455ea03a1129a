import { keccak256 } from './bytes.js';
import { encodeDecision, encodeNetworkSection, encodeNetworkTypeSection, encodeProofContext } from './codec.js';
import { rootFromPath } from './merkle.js';
import type { BTPBlockHeader, EthProofContext, NetworkSection, NetworkTypeSectionDecision } from './types.js';

/** The NetworkSection a header commits to (its fields 4..8). */
export function networkSectionOf(h: BTPBlockHeader): NetworkSection {
  return {
    networkId: h.networkId,
    firstMessageSn: h.firstMessageSn,
    proofContextChanged: h.proofContextChanged,
    prev: h.prev,
    messageCount: h.messageCount,
    messagesRoot: h.messagesRoot,
  };
}

export function networkSectionHash(ns: NetworkSection): Uint8Array {
  return keccak256(encodeNetworkSection(ns));
}

export function headerNetworkSectionHash(h: BTPBlockHeader): Uint8Array {
  return networkSectionHash(networkSectionOf(h));
}

/** NextProofContextHash = H(ProofContext bytes). */
export function proofContextHash(pc: EthProofContext): Uint8Array {
  return keccak256(encodeProofContext(pc));
}

/** NetworkSectionsRoot from the header's path; null on a malformed path. */
export function headerNetworkSectionsRoot(h: BTPBlockHeader): Uint8Array | null {
  return rootFromPath(headerNetworkSectionHash(h), h.networkSectionToRoot ?? []);
}

export function decisionHash(d: NetworkTypeSectionDecision): Uint8Array {
  return keccak256(encodeDecision(d));
}

/**
 * The hash validators sign for a header: H(NetworkTypeSectionDecision) with
 * NTSHash = H([NextProofContextHash, NetworkSectionsRoot]) (btp2-solidity
 * BlockUpdateLib.getNetworkTypeSectionDecisionHash).
 */
export function headerDecisionHash(
  h: BTPBlockHeader,
  srcNetworkUid: string,
  networkTypeId: number,
  nsHash: Uint8Array = headerNetworkSectionHash(h),
): Uint8Array | null {
  const nsRoot = rootFromPath(nsHash, h.networkSectionToRoot ?? []);
  if (nsRoot === null) return null;
  const ntsHash = keccak256(encodeNetworkTypeSection({ nextProofContextHash: h.nextProofContextHash, networkSectionsRoot: nsRoot }));
  return decisionHash({ srcNetworkUid, dstNetworkTypeId: networkTypeId, height: h.mainHeight, round: h.round, networkTypeSectionHash: ntsHash });
}

import { BridgeError } from '../../errors.js';
import { compareBytes, equalBytes, keccak256, toHex } from './bytes.js';
import { encodeHeader, encodeNetworkTypeSection, encodeProofContext, encodeRelayMessage } from './codec.js';
import { decisionHash, networkSectionHash, proofContextHash } from './hashes.js';
import { buildMessageProof, messagesRoot } from './merkle.js';
import {
  RELAY_BLOCK_UPDATE,
  RELAY_MESSAGE_PROOF,
  type BTPBlockHeader,
  type BlockUpdate,
  type EthProof,
  type NetworkSection,
  type NetworkTypeSection,
  type NetworkTypeSectionDecision,
  type RelayMessage,
} from './types.js';

/**
 * Builds fednode's BTP blocks. fednode's network type has one network, so
 * NetworkSectionsRoot = H(NetworkSection) and NetworkSectionToRoot is empty;
 * Round is always 0 (no proposer, no voting round: DESIGN.md §2).
 */

/** What a node must remember between blocks. */
export interface BtpChainState {
  networkId: number;
  /** H(NetworkSection) of the last block; null before the first block. */
  lastNetworkSectionHash: Uint8Array | null;
  nextMessageSn: number;
  /** The set that signs the next block, in ProofContext order. */
  validators: Uint8Array[];
}

export interface BuildBlockInput {
  srcNetworkUid: string;
  networkTypeId: number;
  height: number;
  round?: number;
  messages: readonly Uint8Array[];
  /** The set that signs the blocks after this one, when it changes here. */
  nextValidators?: readonly Uint8Array[];
}

export interface BuiltBlock {
  header: BTPBlockHeader;
  headerBytes: Uint8Array;
  networkSection: NetworkSection;
  networkSectionHash: Uint8Array;
  networkTypeSection: NetworkTypeSection;
  decision: NetworkTypeSectionDecision;
  /** What every validator of `state.validators` signs. */
  decisionHash: Uint8Array;
  messages: Uint8Array[];
  nextState: BtpChainState;
}

/** Ascending address order, the canonical ProofContext order (DESIGN.md §2 "Validator set changes"). */
export function sortValidators(addresses: readonly Uint8Array[]): Uint8Array[] {
  return [...addresses].sort(compareBytes);
}

function checkValidatorSet(set: readonly Uint8Array[], what: string): void {
  if (set.length === 0) throw new BridgeError({ code: 'BTP_INVALID_VALIDATOR_SET', which: what, reason: 'empty' });
  for (let i = 0; i < set.length; i++) {
    if (set[i]!.length !== 20) throw new BridgeError({ code: 'BTP_INVALID_VALIDATOR_SET', which: what, reason: 'address length', index: i });
    if (i > 0 && compareBytes(set[i - 1]!, set[i]!) >= 0) {
      throw new BridgeError({ code: 'BTP_INVALID_VALIDATOR_SET', which: what, reason: 'not strictly ascending', index: i });
    }
  }
}

function sameSet(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => equalBytes(x, b[i]!));
}

/**
 * The BTP block for one height, or null when there is nothing to carry (no
 * message and no validator-set change, DESIGN.md §2 step 2).
 */
export function buildBlock(state: BtpChainState, input: BuildBlockInput): BuiltBlock | null {
  checkValidatorSet(state.validators, 'current');
  const isFirst = state.lastNetworkSectionHash === null;
  const changed = input.nextValidators !== undefined && !sameSet(input.nextValidators, state.validators);
  if (changed) checkValidatorSet(input.nextValidators!, 'next');
  if (input.messages.length === 0 && !changed && !isFirst) return null;

  const nextSet = changed ? [...input.nextValidators!] : [...state.validators];
  const pcChanged = changed || isFirst;
  const nextPc = { validators: nextSet };
  const messages = [...input.messages];
  const networkSection: NetworkSection = {
    networkId: state.networkId,
    firstMessageSn: state.nextMessageSn,
    proofContextChanged: pcChanged,
    prev: state.lastNetworkSectionHash,
    messageCount: messages.length,
    messagesRoot: messages.length === 0 ? null : messagesRoot(messages),
  };
  const nsHash = networkSectionHash(networkSection);
  const npcHash = proofContextHash(nextPc);
  const header: BTPBlockHeader = {
    mainHeight: input.height,
    round: input.round ?? 0,
    nextProofContextHash: npcHash,
    networkSectionToRoot: [],
    ...networkSection,
    nextProofContext: pcChanged ? encodeProofContext(nextPc) : null,
  };
  const networkTypeSection: NetworkTypeSection = { nextProofContextHash: npcHash, networkSectionsRoot: nsHash };
  const decision: NetworkTypeSectionDecision = {
    srcNetworkUid: input.srcNetworkUid,
    dstNetworkTypeId: input.networkTypeId,
    height: input.height,
    round: header.round,
    networkTypeSectionHash: keccak256(encodeNetworkTypeSection(networkTypeSection)),
  };
  return {
    header,
    headerBytes: encodeHeader(header),
    networkSection,
    networkSectionHash: nsHash,
    networkTypeSection,
    decision,
    decisionHash: decisionHash(decision),
    messages,
    nextState: {
      networkId: state.networkId,
      lastNetworkSectionHash: nsHash,
      nextMessageSn: state.nextMessageSn + messages.length,
      validators: nextSet,
    },
  };
}

/**
 * ETH Proof in ProofContext order from signatures collected per signer
 * (keys: lowercase `0x` address). Missing signers get nil.
 */
export function assembleProof(validators: readonly Uint8Array[], bySigner: ReadonlyMap<string, Uint8Array>): EthProof {
  return { signatures: validators.map((v) => bySigner.get(toHex(v)) ?? null) };
}

/**
 * Splits a block's delivery into relay messages no larger than `maxBytes`:
 * the first carries the BlockUpdate and as many messages as fit, the others
 * MessageProofs over consecutive ranges.
 */
export function buildRelayMessages(blockUpdate: BlockUpdate, messages: readonly Uint8Array[], maxBytes: number): RelayMessage[] {
  const update = { type: RELAY_BLOCK_UPDATE, blockUpdate } as const;
  const size = (rm: RelayMessage): number => encodeRelayMessage(rm).length;
  const first: RelayMessage = { items: [update] };
  if (size(first) > maxBytes) throw new BridgeError({ code: 'BTP_RELAY_TOO_LARGE', what: 'BlockUpdate', maxBytes });
  const out: RelayMessage[] = [];
  let withUpdate = true;
  let from = 0;
  while (from < messages.length) {
    const relayFor = (to: number): RelayMessage => {
      const proof = { type: RELAY_MESSAGE_PROOF, messageProof: buildMessageProof(messages, from, to) } as const;
      return { items: withUpdate ? [update, proof] : [proof] };
    };
    // largest `to` that fits: binary search, sizes grow with the range
    let lo = from;
    let hi = messages.length;
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      if (size(relayFor(mid)) <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    if (lo === from) {
      if (!withUpdate) throw new BridgeError({ code: 'BTP_RELAY_TOO_LARGE', what: 'message', index: from, maxBytes });
      out.push(first);
      withUpdate = false;
      continue;
    }
    out.push(relayFor(lo));
    withUpdate = false;
    from = lo;
  }
  if (out.length === 0) out.push(first);
  return out;
}

import { BridgeError } from '../../errors.js';
import { equalBytes, equalNullable, toHex } from './bytes.js';
import { decodeHeader, decodeProofContext, decodeRelayMessage } from './codec.js';
import { headerDecisionHash, headerNetworkSectionHash, proofContextHash } from './hashes.js';
import { computeMessageProof } from './merkle.js';
import { defaultBackend, type Secp256k1Backend } from './secp256k1.js';
import { recoverSigner } from './sign.js';
import type { BTPBlockHeader, EthProof, MessageProof, RelayMessage } from './types.js';

/**
 * A BTP message verifier (BMV) for the eth network type, pure: no I/O, no
 * clock. It applies the rules of btp2-solidity's BtpMessageVerifier, made
 * stricter where the reference is loose (see docs/BTP.md "Verifier rules"):
 * every signature is checked (no early stop at quorum) and invalid ones are
 * ignored; a message proof must start exactly at the next undelivered message;
 * ProofContextChanged, NextProofContext and NextProofContextHash must agree.
 */

/** `majority`: votes > N/2 (N/2+1 by count, Terra-Bridge); `twoThirds`: votes > 2N/3 (reference BMV). */
export type QuorumRule = 'majority' | 'twoThirds' | ((validators: number, votes: number) => boolean);

export interface VerifierConfig {
  /** SrcNetworkUID signed in every decision, e.g. `0x1.btc`. */
  srcNetworkUid: string;
  /** DstNetworkTypeID signed in every decision. */
  networkTypeId: number;
  quorum: QuorumRule;
  backend: Secp256k1Backend;
}

export const DEFAULT_QUORUM: QuorumRule = 'majority';

export function verifierConfig(opts: Pick<VerifierConfig, 'srcNetworkUid' | 'networkTypeId'> & Partial<VerifierConfig>): VerifierConfig {
  return { quorum: DEFAULT_QUORUM, backend: defaultBackend(), ...opts };
}

export interface VerifierState {
  networkId: number;
  height: number;
  networkSectionHash: Uint8Array;
  messagesRoot: Uint8Array | null;
  messageCount: number;
  /** SN of the first message under `messagesRoot`. */
  firstMessageSn: number;
  /** SN of the next message to deliver. */
  nextMessageSn: number;
  validators: Uint8Array[];
  /** H(ProofContext of `validators`), what an unchanged header's NextProofContextHash must equal. */
  proofContextHash: Uint8Array;
}

export interface VerifiedBlock {
  height: number;
  decisionHash: Uint8Array;
  /** Validators (current set, in ProofContext order) whose signatures are valid. */
  signers: Uint8Array[];
  signerIndexes: number[];
  validatorsChanged: boolean;
}

export interface RelayResult {
  state: VerifierState;
  messages: Uint8Array[];
  blocks: VerifiedBlock[];
}

export type VerifierErrorCode =
  | 'BTP_INVALID_FIRST_HEADER'
  | 'BTP_EMPTY_RELAY_MESSAGE'
  | 'BTP_UNEXPECTED_SN'
  | 'BTP_UNEXPECTED_BLOCK_UPDATE'
  | 'BTP_INVALID_NETWORK_ID'
  | 'BTP_INVALID_PREV'
  | 'BTP_INVALID_HEIGHT'
  | 'BTP_SN_NOT_VERIFIABLE'
  | 'BTP_SN_ALREADY_VERIFIED'
  | 'BTP_INVALID_HEADER'
  | 'BTP_INVALID_PROOF_CONTEXT'
  | 'BTP_PROOF_LENGTH_MISMATCH'
  | 'BTP_LACK_QUORUM'
  | 'BTP_UNEXPECTED_MESSAGE_PROOF'
  | 'BTP_INVALID_MESSAGE_PROOF';

function fail(code: VerifierErrorCode, context: Record<string, unknown> = {}): never {
  throw new BridgeError({ code, ...context });
}

export function hasQuorum(rule: QuorumRule, validators: number, votes: number): boolean {
  if (rule === 'majority') return votes * 2 > validators;
  if (rule === 'twoThirds') return votes * 3 > validators * 2;
  return rule(validators, votes);
}

/** Validators of a NextProofContext, checked against the header's NextProofContextHash. */
function nextValidators(h: BTPBlockHeader): { validators: Uint8Array[]; hash: Uint8Array } {
  if (h.nextProofContext === null) fail('BTP_INVALID_PROOF_CONTEXT', { height: h.mainHeight, reason: 'missing NextProofContext' });
  const pc = decodeProofContext(h.nextProofContext);
  if (pc.validators.length === 0) fail('BTP_INVALID_PROOF_CONTEXT', { height: h.mainHeight, reason: 'empty validator set' });
  const seen = new Set<string>();
  for (const v of pc.validators) {
    const k = toHex(v);
    if (seen.has(k)) fail('BTP_INVALID_PROOF_CONTEXT', { height: h.mainHeight, reason: 'duplicate validator', validator: k });
    seen.add(k);
  }
  const hash = proofContextHash(pc);
  if (!equalBytes(hash, h.nextProofContextHash)) {
    fail('BTP_INVALID_PROOF_CONTEXT', { height: h.mainHeight, reason: 'NextProofContextHash mismatch' });
  }
  return { validators: pc.validators, hash };
}

function checkHeaderShape(h: BTPBlockHeader): void {
  if ((h.messageCount === 0) !== (h.messagesRoot === null)) {
    fail('BTP_INVALID_HEADER', { height: h.mainHeight, reason: 'MessageCount and MessagesRoot disagree' });
  }
  if (h.proofContextChanged !== (h.nextProofContext !== null)) {
    fail('BTP_INVALID_HEADER', { height: h.mainHeight, reason: 'ProofContextChanged and NextProofContext disagree' });
  }
}

/**
 * State from the first trusted header (the BMV's constructor argument): it must
 * carry a NextProofContext.
 */
export function initVerifierState(first: BTPBlockHeader | Uint8Array): VerifierState {
  const h = first instanceof Uint8Array ? decodeHeader(first) : first;
  if (h.nextProofContext === null) fail('BTP_INVALID_FIRST_HEADER', { reason: 'no NextProofContext' });
  checkHeaderShape(h);
  const next = nextValidators(h);
  return {
    networkId: h.networkId,
    height: h.mainHeight,
    networkSectionHash: headerNetworkSectionHash(h),
    messagesRoot: h.messagesRoot,
    messageCount: h.messageCount,
    firstMessageSn: h.firstMessageSn,
    nextMessageSn: h.firstMessageSn,
    validators: next.validators,
    proofContextHash: next.hash,
  };
}

export function remainingMessageCount(s: VerifierState): number {
  return s.messageCount - (s.nextMessageSn - s.firstMessageSn);
}

/**
 * Checks every signature of `proof` against `validators` (ProofContext order);
 * invalid or foreign signatures are skipped, never counted.
 */
export function checkEthProof(
  decision: Uint8Array,
  proof: EthProof,
  validators: readonly Uint8Array[],
  config: Pick<VerifierConfig, 'quorum' | 'backend'>,
): { signers: Uint8Array[]; signerIndexes: number[] } {
  if (proof.signatures.length !== validators.length) {
    fail('BTP_PROOF_LENGTH_MISMATCH', { signatures: proof.signatures.length, validators: validators.length });
  }
  const signers: Uint8Array[] = [];
  const signerIndexes: number[] = [];
  for (let i = 0; i < validators.length; i++) {
    const sig = proof.signatures[i];
    if (sig === null || sig === undefined) continue;
    const who = recoverSigner(decision, sig, config.backend);
    if (who !== null && equalBytes(who, validators[i]!)) {
      signers.push(validators[i]!);
      signerIndexes.push(i);
    }
  }
  if (!hasQuorum(config.quorum, validators.length, signers.length)) {
    fail('BTP_LACK_QUORUM', { validators: validators.length, votes: signers.length });
  }
  return { signers, signerIndexes };
}

function applyBlockUpdate(s: VerifierState, h: BTPBlockHeader, proof: EthProof, config: VerifierConfig): VerifiedBlock {
  if (remainingMessageCount(s) !== 0) fail('BTP_UNEXPECTED_BLOCK_UPDATE', { remaining: remainingMessageCount(s) });
  if (h.networkId !== s.networkId) fail('BTP_INVALID_NETWORK_ID', { expected: s.networkId, got: h.networkId });
  if (!equalNullable(h.prev, s.networkSectionHash)) fail('BTP_INVALID_PREV', { height: h.mainHeight });
  if (h.mainHeight <= s.height) fail('BTP_INVALID_HEIGHT', { height: h.mainHeight, current: s.height });
  if (h.firstMessageSn > s.nextMessageSn) fail('BTP_SN_NOT_VERIFIABLE', { expected: s.nextMessageSn, got: h.firstMessageSn });
  if (h.firstMessageSn < s.nextMessageSn) fail('BTP_SN_ALREADY_VERIFIED', { expected: s.nextMessageSn, got: h.firstMessageSn });
  checkHeaderShape(h);
  let next: { validators: Uint8Array[]; hash: Uint8Array } | null = null;
  if (h.proofContextChanged) {
    next = nextValidators(h);
  } else if (!equalBytes(h.nextProofContextHash, s.proofContextHash)) {
    fail('BTP_INVALID_PROOF_CONTEXT', { height: h.mainHeight, reason: 'NextProofContextHash differs from the current set' });
  }
  const nsHash = headerNetworkSectionHash(h);
  const decision = headerDecisionHash(h, config.srcNetworkUid, config.networkTypeId, nsHash);
  if (decision === null) fail('BTP_INVALID_HEADER', { height: h.mainHeight, reason: 'malformed NetworkSectionToRoot' });
  const { signers, signerIndexes } = checkEthProof(decision, proof, s.validators, config);

  s.height = h.mainHeight;
  s.networkSectionHash = nsHash;
  if (next !== null) {
    s.validators = next.validators;
    s.proofContextHash = next.hash;
  }
  if (h.messagesRoot !== null) {
    s.messagesRoot = h.messagesRoot;
    s.messageCount = h.messageCount;
    s.firstMessageSn = h.firstMessageSn;
  }
  return { height: h.mainHeight, decisionHash: decision, signers, signerIndexes, validatorsChanged: next !== null };
}

function applyMessageProof(s: VerifierState, mp: MessageProof, out: Uint8Array[]): void {
  const remaining = remainingMessageCount(s);
  if (remaining === 0 || s.messagesRoot === null) fail('BTP_UNEXPECTED_MESSAGE_PROOF', { nextMessageSn: s.nextMessageSn });
  const r = computeMessageProof(mp);
  if (r === null) fail('BTP_INVALID_MESSAGE_PROOF', { reason: 'malformed proof' });
  if (!equalBytes(r.root, s.messagesRoot) || r.leafCount !== s.messageCount) {
    fail('BTP_INVALID_MESSAGE_PROOF', { reason: 'root or leaf count mismatch' });
  }
  if (r.offset !== s.nextMessageSn - s.firstMessageSn) {
    fail('BTP_INVALID_MESSAGE_PROOF', { reason: 'range does not start at the next message', offset: r.offset });
  }
  out.push(...mp.messages);
  s.nextMessageSn += mp.messages.length;
}

function cloneState(s: VerifierState): VerifierState {
  return { ...s, validators: [...s.validators] };
}

/**
 * Applies one relay message atomically: returns the new state (the input is
 * not modified) with the messages it delivers, or throws a BridgeError.
 * `expectSn`, when given, is the BMC's sequence for this relay message
 * (btp2-solidity: `_sn - sequenceOffset` must equal the next message SN).
 */
export function verifyRelayMessage(
  state: VerifierState,
  relay: RelayMessage | Uint8Array,
  config: VerifierConfig,
  expectSn?: number,
): RelayResult {
  const rm = relay instanceof Uint8Array ? decodeRelayMessage(relay) : relay;
  if (rm.items.length === 0) fail('BTP_EMPTY_RELAY_MESSAGE');
  if (expectSn !== undefined && expectSn !== state.nextMessageSn) {
    fail('BTP_UNEXPECTED_SN', { expected: state.nextMessageSn, got: expectSn });
  }
  const s = cloneState(state);
  const messages: Uint8Array[] = [];
  const blocks: VerifiedBlock[] = [];
  for (const item of rm.items) {
    if (item.type === 1) blocks.push(applyBlockUpdate(s, item.blockUpdate.header, item.blockUpdate.proof, config));
    else applyMessageProof(s, item.messageProof, messages);
  }
  return { state: s, messages, blocks };
}

/** Convenience wrapper that keeps the state between relay messages. */
export class BtpVerifier {
  private current: VerifierState;

  constructor(
    first: BTPBlockHeader | Uint8Array,
    readonly config: VerifierConfig,
  ) {
    this.current = initVerifierState(first);
  }

  get state(): VerifierState {
    return cloneState(this.current);
  }

  verify(relay: RelayMessage | Uint8Array, expectSn?: number): RelayResult {
    const result = verifyRelayMessage(this.current, relay, this.config, expectSn);
    this.current = result.state;
    return { ...result, state: cloneState(result.state) };
  }
}

/** JSON view of a state (what `fednode btp verify` prints). */
export function verifierStateToJson(s: VerifierState): Record<string, unknown> {
  return {
    height: s.height,
    messagesRoot: s.messagesRoot === null ? null : toHex(s.messagesRoot),
    nextMessageSn: s.nextMessageSn,
    messageCount: s.messageCount,
    remainMessageCount: remainingMessageCount(s),
    networkSectionHash: toHex(s.networkSectionHash),
    validators: s.validators.map(toHex),
  };
}

import { BridgeError } from '../../errors.js';
import { utf8ToBytes } from './bytes.js';
import {
  asBigInt,
  asBytes,
  asBytesOrNil,
  asList,
  asListOrNil,
  asString,
  asUint,
  intItem,
  rlpDecode,
  rlpEncode,
  type RlpItem,
  type RlpList,
} from './rlp.js';
import {
  RELAY_BLOCK_UPDATE,
  RELAY_MESSAGE_PROOF,
  type BTPBlockHeader,
  type BTPMessage,
  type BlockUpdate,
  type EthProof,
  type EthProofContext,
  type FeeInfo,
  type MerkleNode,
  type MessageProof,
  type MessageProofNode,
  type NetworkSection,
  type NetworkTypeSection,
  type NetworkTypeSectionDecision,
  type RelayItem,
  type RelayMessage,
} from './types.js';

/** Hashes (keccak256) and addresses have fixed sizes in the eth network type. */
export const HASH_LEN = 32;
export const ADDRESS_LEN = 20;
export const SIGNATURE_LEN = 65;

// ---- item builders (structure -> RlpItem) ----

function updateNumber(firstMessageSn: number, changed: boolean): bigint {
  // UpdateNumber = FirstMessageSN << 1 | ProofContextChanged (btp2_extension.md "UpdateNumber")
  return (BigInt(firstMessageSn) << 1n) | (changed ? 1n : 0n);
}

function merkleNodesItem(nodes: MerkleNode[] | null): RlpItem {
  return nodes === null ? null : nodes.map((n) => [intItem(n.dir), n.value]);
}

export function headerItem(h: BTPBlockHeader): RlpList {
  return [
    intItem(h.mainHeight),
    intItem(h.round),
    h.nextProofContextHash,
    merkleNodesItem(h.networkSectionToRoot),
    intItem(h.networkId),
    intItem(updateNumber(h.firstMessageSn, h.proofContextChanged)),
    h.prev,
    intItem(h.messageCount),
    h.messagesRoot,
    h.nextProofContext,
  ];
}

export function networkSectionItem(ns: NetworkSection): RlpList {
  return [
    intItem(ns.networkId),
    intItem(updateNumber(ns.firstMessageSn, ns.proofContextChanged)),
    ns.prev,
    intItem(ns.messageCount),
    ns.messagesRoot,
  ];
}

function proofNodesItem(nodes: MessageProofNode[] | null): RlpItem {
  return nodes === null ? null : nodes.map((n) => [intItem(n.leafCount), n.hash]);
}

function messageProofItem(mp: MessageProof): RlpList {
  return [proofNodesItem(mp.left), [...mp.messages], proofNodesItem(mp.right)];
}

function feeInfoItem(f: FeeInfo | null): RlpItem {
  return f === null ? null : [utf8ToBytes(f.network), f.values.map((v) => intItem(v))];
}

// ---- encoders ----

export function encodeHeader(h: BTPBlockHeader): Uint8Array {
  return rlpEncode(headerItem(h));
}

export function encodeNetworkSection(ns: NetworkSection): Uint8Array {
  return rlpEncode(networkSectionItem(ns));
}

export function encodeNetworkTypeSection(nts: NetworkTypeSection): Uint8Array {
  return rlpEncode([nts.nextProofContextHash, nts.networkSectionsRoot]);
}

export function encodeDecision(d: NetworkTypeSectionDecision): Uint8Array {
  return rlpEncode([utf8ToBytes(d.srcNetworkUid), intItem(d.dstNetworkTypeId), intItem(d.height), intItem(d.round), d.networkTypeSectionHash]);
}

export function encodeProofContext(pc: EthProofContext): Uint8Array {
  return rlpEncode([[...pc.validators]]);
}

export function encodeProof(p: EthProof): Uint8Array {
  return rlpEncode([[...p.signatures]]);
}

export function encodeMerklePath(path: MerkleNode[]): Uint8Array {
  return rlpEncode(merkleNodesItem(path));
}

export function encodeMessageProof(mp: MessageProof): Uint8Array {
  return rlpEncode(messageProofItem(mp));
}

/** BlockUpdate = RLP([header bytes, proof bytes]) (btp2-solidity BlockUpdateLib.decode). */
export function encodeBlockUpdate(bu: BlockUpdate): Uint8Array {
  return rlpEncode([encodeHeader(bu.header), encodeProof(bu.proof)]);
}

/** RelayMessage = [[ [type, RLP(item)] ... ]] (btp2-solidity RelayMessageLib). */
export function encodeRelayMessage(rm: RelayMessage): Uint8Array {
  return rlpEncode([rm.items.map((it) => [intItem(it.type), encodeRelayItemPayload(it)])]);
}

function encodeRelayItemPayload(it: RelayItem): Uint8Array {
  return it.type === RELAY_BLOCK_UPDATE ? encodeBlockUpdate(it.blockUpdate) : encodeMessageProof(it.messageProof);
}

export function encodeBTPMessage(m: BTPMessage): Uint8Array {
  return rlpEncode([
    utf8ToBytes(m.src),
    utf8ToBytes(m.dst),
    utf8ToBytes(m.svc),
    intItem(m.sn),
    m.payload,
    intItem(m.nsn),
    feeInfoItem(m.feeInfo),
  ]);
}

// ---- decoders: strict, canonical, typed errors only ----

function splitUpdateNumber(item: RlpItem | undefined, what: string): { firstMessageSn: number; proofContextChanged: boolean } {
  const un = asUint(item, what);
  return { firstMessageSn: Math.floor(un / 2), proofContextChanged: un % 2 === 1 };
}

function dirOf(item: RlpItem | undefined, what: string): 0 | 1 {
  const d = asUint(item, what);
  if (d !== 0 && d !== 1) throw new BridgeError({ code: 'RLP_WRONG_TYPE', field: what, expected: 'Dir 0 or 1' });
  return d;
}

function merkleNodesFrom(item: RlpItem | undefined, what: string): MerkleNode[] | null {
  const list = asListOrNil(item, what);
  if (list === null) return null;
  return list.map((n, i) => {
    const pair = asList(n, `${what}[${i}]`, 2);
    return { dir: dirOf(pair[0], `${what}[${i}].dir`), value: asBytesOrNil(pair[1], `${what}[${i}].value`, HASH_LEN) };
  });
}

export function headerFromItem(item: RlpItem): BTPBlockHeader {
  const l = asList(item, 'BTPBlockHeader', 10);
  return {
    mainHeight: asUint(l[0], 'MainHeight'),
    round: asUint(l[1], 'Round'),
    nextProofContextHash: asBytes(l[2], 'NextProofContextHash', HASH_LEN),
    networkSectionToRoot: merkleNodesFrom(l[3], 'NetworkSectionToRoot'),
    networkId: asUint(l[4], 'NetworkID'),
    ...splitUpdateNumber(l[5], 'UpdateNumber'),
    prev: asBytesOrNil(l[6], 'Prev', HASH_LEN),
    messageCount: asUint(l[7], 'MessageCount'),
    messagesRoot: asBytesOrNil(l[8], 'MessagesRoot', HASH_LEN),
    nextProofContext: asBytesOrNil(l[9], 'NextProofContext'),
  };
}

export function decodeHeader(data: Uint8Array): BTPBlockHeader {
  return headerFromItem(rlpDecode(data));
}

export function decodeNetworkSection(data: Uint8Array): NetworkSection {
  const l = asList(rlpDecode(data), 'NetworkSection', 5);
  return {
    networkId: asUint(l[0], 'NetworkID'),
    ...splitUpdateNumber(l[1], 'UpdateNumber'),
    prev: asBytesOrNil(l[2], 'Prev', HASH_LEN),
    messageCount: asUint(l[3], 'MessageCount'),
    messagesRoot: asBytesOrNil(l[4], 'MessagesRoot', HASH_LEN),
  };
}

export function decodeNetworkTypeSection(data: Uint8Array): NetworkTypeSection {
  const l = asList(rlpDecode(data), 'NetworkTypeSection', 2);
  return {
    nextProofContextHash: asBytes(l[0], 'NextProofContextHash', HASH_LEN),
    networkSectionsRoot: asBytes(l[1], 'NetworkSectionsRoot', HASH_LEN),
  };
}

export function decodeDecision(data: Uint8Array): NetworkTypeSectionDecision {
  const l = asList(rlpDecode(data), 'NetworkTypeSectionDecision', 5);
  return {
    srcNetworkUid: asString(l[0], 'SrcNetworkUID'),
    dstNetworkTypeId: asUint(l[1], 'DstNetworkTypeID'),
    height: asUint(l[2], 'Height'),
    round: asUint(l[3], 'Round'),
    networkTypeSectionHash: asBytes(l[4], 'NTSHash', HASH_LEN),
  };
}

export function decodeProofContext(data: Uint8Array): EthProofContext {
  const outer = asList(rlpDecode(data), 'ProofContext', 1);
  const list = asList(outer[0], 'ProofContext.validators');
  return { validators: list.map((v, i) => asBytes(v, `validators[${i}]`, ADDRESS_LEN)) };
}

export function decodeProof(data: Uint8Array): EthProof {
  const outer = asList(rlpDecode(data), 'Proof', 1);
  const list = asList(outer[0], 'Proof.signatures');
  return { signatures: list.map((s, i) => asBytesOrNil(s, `signatures[${i}]`)) };
}

export function decodeMerklePath(data: Uint8Array): MerkleNode[] {
  return merkleNodesFrom(asList(rlpDecode(data), 'MerklePath'), 'MerklePath') ?? [];
}

function proofNodesFrom(item: RlpItem | undefined, what: string): MessageProofNode[] | null {
  const list = asListOrNil(item, what);
  if (list === null) return null;
  return list.map((n, i) => {
    const pair = asList(n, `${what}[${i}]`, 2);
    const leafCount = asUint(pair[0], `${what}[${i}].leafCount`);
    if (leafCount === 0) throw new BridgeError({ code: 'RLP_WRONG_TYPE', field: `${what}[${i}].leafCount`, expected: '> 0' });
    return { leafCount, hash: asBytes(pair[1], `${what}[${i}].hash`, HASH_LEN) };
  });
}

export function messageProofFromItem(item: RlpItem): MessageProof {
  const l = asList(item, 'MessageProof', 3);
  return {
    left: proofNodesFrom(l[0], 'ProofInLeft'),
    messages: asList(l[1], 'Messages').map((m, i) => asBytes(m, `messages[${i}]`)),
    right: proofNodesFrom(l[2], 'ProofInRight'),
  };
}

export function decodeMessageProof(data: Uint8Array): MessageProof {
  return messageProofFromItem(rlpDecode(data));
}

export function decodeBlockUpdate(data: Uint8Array): BlockUpdate {
  const l = asList(rlpDecode(data), 'BlockUpdate', 2);
  return {
    header: decodeHeader(asBytes(l[0], 'BlockUpdate.header')),
    proof: decodeProof(asBytes(l[1], 'BlockUpdate.proof')),
  };
}

export function decodeRelayMessage(data: Uint8Array): RelayMessage {
  const outer = asList(rlpDecode(data), 'RelayMessage', 1);
  const list = asList(outer[0], 'RelayMessage.items');
  return {
    items: list.map((it, i): RelayItem => {
      const pair = asList(it, `items[${i}]`, 2);
      const type = asUint(pair[0], `items[${i}].type`);
      const payload = asBytes(pair[1], `items[${i}].payload`);
      if (type === RELAY_BLOCK_UPDATE) return { type, blockUpdate: decodeBlockUpdate(payload) };
      if (type === RELAY_MESSAGE_PROOF) return { type, messageProof: decodeMessageProof(payload) };
      throw new BridgeError({ code: 'RLP_WRONG_TYPE', field: `items[${i}].type`, expected: '1 or 2', got: type });
    }),
  };
}

export function decodeBTPMessage(data: Uint8Array): BTPMessage {
  const l = asList(rlpDecode(data), 'BTPMessage', 7);
  let feeInfo: FeeInfo | null = null;
  if (l[6] !== null) {
    const f = asList(l[6], 'feeInfo', 2);
    feeInfo = { network: asString(f[0], 'feeInfo.network'), values: asList(f[1], 'feeInfo.values').map((v, i) => asBigInt(v, `feeInfo.values[${i}]`)) };
  }
  return {
    src: asString(l[0], 'src'),
    dst: asString(l[1], 'dst'),
    svc: asString(l[2], 'svc'),
    sn: asBigInt(l[3], 'sn'),
    payload: asBytes(l[4], 'payload'),
    nsn: asBigInt(l[5], 'nsn'),
    feeInfo,
  };
}

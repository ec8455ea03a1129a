import { BridgeError, isBridgeError } from '../../errors.js';
import { toHex } from './bytes.js';
import {
  decodeBTPMessage,
  decodeBlockUpdate,
  decodeDecision,
  decodeHeader,
  decodeMerklePath,
  decodeMessageProof,
  decodeNetworkSection,
  decodeNetworkTypeSection,
  decodeProof,
  decodeProofContext,
  decodeRelayMessage,
} from './codec.js';
import { rlpDecode, type RlpItem } from './rlp.js';
import type {
  BTPBlockHeader,
  BTPMessage,
  BlockUpdate,
  EthProof,
  EthProofContext,
  MerkleNode,
  MessageProof,
  MessageProofNode,
  RelayMessage,
} from './types.js';

/** JSON views of BTP structures, for operators (`fednode btp decode`) and logs. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** No C0/C1 control characters except tab and newline. */
function isPrintable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

/** UTF-8 text when it is all printable, else `0x` hex. */
export function displayBytes(b: Uint8Array): string {
  if (b.length > 0) {
    try {
      const s = utf8.decode(b);
      if (isPrintable(s)) return s;
    } catch {
      // not UTF-8
    }
  }
  return toHex(b);
}

const hexOrNull = (b: Uint8Array | null): Json => (b === null ? null : toHex(b));

function pathJson(p: MerkleNode[] | null): Json {
  return p === null ? null : p.map((n) => ({ dir: n.dir, value: hexOrNull(n.value) }));
}

function nodesJson(p: MessageProofNode[] | null): Json {
  return p === null ? null : p.map((n) => ({ leafCount: n.leafCount, hash: toHex(n.hash) }));
}

export function proofContextJson(pc: EthProofContext): Json {
  return { validators: pc.validators.map(toHex) };
}

export function headerJson(h: BTPBlockHeader): Json {
  let npc: Json = null;
  if (h.nextProofContext !== null) {
    try {
      npc = proofContextJson(decodeProofContext(h.nextProofContext));
    } catch (err) {
      if (!isBridgeError(err)) throw err;
      npc = { raw: toHex(h.nextProofContext), error: err.code };
    }
  }
  return {
    mainHeight: h.mainHeight,
    round: h.round,
    nextProofContextHash: toHex(h.nextProofContextHash),
    networkSectionToRoot: pathJson(h.networkSectionToRoot),
    networkId: h.networkId,
    firstMessageSn: h.firstMessageSn,
    proofContextChanged: h.proofContextChanged,
    prev: hexOrNull(h.prev),
    messageCount: h.messageCount,
    messagesRoot: hexOrNull(h.messagesRoot),
    nextProofContext: npc,
  };
}

export function proofJson(p: EthProof): Json {
  return { signatures: p.signatures.map(hexOrNull) };
}

/** Payload view hook: lets a caller render a service's payloads (e.g. the `btc` records). */
export type PayloadView = (svc: string, payload: Uint8Array) => Json | undefined;

/** A message that is a BTPMessage (fednode's are) is shown decoded too. */
function btpMessageOrNull(m: Uint8Array, view?: PayloadView): Json {
  try {
    return btpMessageJson(decodeBTPMessage(m), view);
  } catch (err) {
    if (!isBridgeError(err)) throw err;
    return null;
  }
}

export function messageProofJson(mp: MessageProof, view?: PayloadView): Json {
  const decoded = mp.messages.map((m) => btpMessageOrNull(m, view));
  return {
    proofInLeft: nodesJson(mp.left),
    messages: mp.messages.map(displayBytes),
    ...(decoded.some((d) => d !== null) ? { btpMessages: decoded } : {}),
    proofInRight: nodesJson(mp.right),
  };
}

export function blockUpdateJson(bu: BlockUpdate): Json {
  return { header: headerJson(bu.header), proof: proofJson(bu.proof) };
}

export function relayMessageJson(rm: RelayMessage, view?: PayloadView): Json {
  return rm.items.map((it) =>
    it.type === 1
      ? { type: 'BlockUpdate', ...(blockUpdateJson(it.blockUpdate) as { [k: string]: Json }) }
      : { type: 'MessageProof', ...(messageProofJson(it.messageProof, view) as { [k: string]: Json }) },
  );
}

export function btpMessageJson(m: BTPMessage, view?: PayloadView): Json {
  const record = view?.(m.svc, m.payload);
  return {
    src: m.src,
    dst: m.dst,
    svc: m.svc,
    sn: m.sn.toString(),
    payload: toHex(m.payload),
    ...(record === undefined ? {} : { record }),
    nsn: m.nsn.toString(),
    feeInfo: m.feeInfo === null ? null : { network: m.feeInfo.network, values: m.feeInfo.values.map(String) },
  };
}

export function rlpJson(item: RlpItem): Json {
  if (item === null) return null;
  if (item instanceof Uint8Array) return toHex(item);
  return item.map(rlpJson);
}

export const BTP_STRUCTURES = [
  'RelayMessage',
  'BlockUpdate',
  'BTPBlockHeader',
  'MessageProof',
  'BTPMessage',
  'NetworkTypeSectionDecision',
  'NetworkSection',
  'ProofContext',
  'Proof',
  'NetworkTypeSection',
  'MerklePath',
  'RLP',
] as const;
export type BtpStructure = (typeof BTP_STRUCTURES)[number];

const DECODERS: Record<BtpStructure, (b: Uint8Array, view?: PayloadView) => Json> = {
  RelayMessage: (b, view) => relayMessageJson(decodeRelayMessage(b), view),
  BlockUpdate: (b) => blockUpdateJson(decodeBlockUpdate(b)),
  BTPBlockHeader: (b) => headerJson(decodeHeader(b)),
  MessageProof: (b, view) => messageProofJson(decodeMessageProof(b), view),
  BTPMessage: (b, view) => btpMessageJson(decodeBTPMessage(b), view),
  NetworkTypeSectionDecision: (b) => {
    const d = decodeDecision(b);
    return { ...d, networkTypeSectionHash: toHex(d.networkTypeSectionHash) };
  },
  NetworkSection: (b) => {
    const ns = decodeNetworkSection(b);
    return { ...ns, prev: hexOrNull(ns.prev), messagesRoot: hexOrNull(ns.messagesRoot) };
  },
  ProofContext: (b) => proofContextJson(decodeProofContext(b)),
  Proof: (b) => proofJson(decodeProof(b)),
  NetworkTypeSection: (b) => {
    const nts = decodeNetworkTypeSection(b);
    return { nextProofContextHash: toHex(nts.nextProofContextHash), networkSectionsRoot: toHex(nts.networkSectionsRoot) };
  },
  MerklePath: (b) => pathJson(decodeMerklePath(b)),
  RLP: (b) => rlpJson(rlpDecode(b)),
};

/**
 * Decodes `bytes` as the given structure, or as the first structure that
 * accepts it (in the order of {@link BTP_STRUCTURES}, most specific first).
 * Throws the structure's BridgeError when a `type` is given and fails, or
 * the generic RLP error when nothing matches.
 */
export function decodeAny(bytes: Uint8Array, type?: BtpStructure, view?: PayloadView): { type: BtpStructure; value: Json } {
  if (type !== undefined) return { type, value: DECODERS[type](bytes, view) };
  for (const t of BTP_STRUCTURES) {
    try {
      return { type: t, value: DECODERS[t](bytes, view) };
    } catch (err) {
      if (!isBridgeError(err) || t === 'RLP') throw err;
    }
  }
  throw new BridgeError({ code: 'RLP_WRONG_TYPE', reason: 'no structure matched' });
}

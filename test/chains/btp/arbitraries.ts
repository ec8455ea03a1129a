import fc from 'fast-check';
import type { RlpItem } from '../../../src/chains/btp/rlp.js';
import type {
  BTPBlockHeader,
  BTPMessage,
  EthProof,
  EthProofContext,
  MerkleNode,
  MessageProof,
  MessageProofNode,
  RelayItem,
  RelayMessage,
} from '../../../src/chains/btp/types.js';

/** Random well-formed BTP structures for round-trip and fuzz tests. */
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
const address = fc.uint8Array({ minLength: 20, maxLength: 20 });
const uint = fc.nat({ max: 2 ** 40 });
const sn = fc.nat({ max: 2 ** 44 });

export const merkleNodeArb: fc.Arbitrary<MerkleNode> = fc.oneof(
  fc.record({ dir: fc.constantFrom(0 as const, 1 as const), value: hash }),
  fc.constant({ dir: 1 as const, value: null }),
);

export const headerArb: fc.Arbitrary<BTPBlockHeader> = fc.record({
  mainHeight: uint,
  round: fc.nat({ max: 1000 }),
  nextProofContextHash: hash,
  networkSectionToRoot: fc.option(fc.array(merkleNodeArb, { maxLength: 4 })),
  networkId: fc.nat({ max: 2 ** 31 }),
  firstMessageSn: sn,
  proofContextChanged: fc.boolean(),
  prev: fc.option(hash),
  messageCount: fc.nat({ max: 10_000 }),
  messagesRoot: fc.option(hash),
  nextProofContext: fc.option(fc.uint8Array({ maxLength: 120 })),
});

export const proofContextArb: fc.Arbitrary<EthProofContext> = fc.record({ validators: fc.array(address, { maxLength: 8 }) });

export const ethProofArb: fc.Arbitrary<EthProof> = fc.record({
  signatures: fc.array(fc.option(fc.uint8Array({ minLength: 65, maxLength: 65 })), { maxLength: 8 }),
});

const proofNodeArb: fc.Arbitrary<MessageProofNode> = fc.record({ leafCount: fc.integer({ min: 1, max: 64 }), hash });

export const messageProofArb: fc.Arbitrary<MessageProof> = fc.record({
  left: fc.option(fc.array(proofNodeArb, { maxLength: 4 })),
  messages: fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }),
  right: fc.option(fc.array(proofNodeArb, { maxLength: 4 })),
});

const relayItemArb: fc.Arbitrary<RelayItem> = fc.oneof(
  fc.record({ type: fc.constant(1 as const), blockUpdate: fc.record({ header: headerArb, proof: ethProofArb }) }),
  fc.record({ type: fc.constant(2 as const), messageProof: messageProofArb }),
);

export const relayMessageArb: fc.Arbitrary<RelayMessage> = fc.record({ items: fc.array(relayItemArb, { maxLength: 4 }) });

export const btpMessageArb: fc.Arbitrary<BTPMessage> = fc.record({
  src: fc.string(),
  dst: fc.string(),
  svc: fc.constantFrom('btc', 'bmc', 'xcall'),
  sn: fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
  payload: fc.uint8Array({ maxLength: 120 }),
  nsn: fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
  feeInfo: fc.option(fc.record({ network: fc.string(), values: fc.array(fc.bigInt({ min: 0n, max: 1n << 80n }), { maxLength: 4 }) })),
});

/** Any ICON-RLP item tree (bytes, nil, lists). */
export const rlpItemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof(
    { depthSize: 'small' },
    fc.uint8Array({ maxLength: 80 }),
    fc.constant(null),
    fc.array(tie('item'), { maxLength: 5 }),
  ),
})).item;


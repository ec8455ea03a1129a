import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBTPMessage,
  decodeDecision,
  decodeHeader,
  decodeMessageProof,
  decodeNetworkSection,
  decodeNetworkTypeSection,
  decodeProof,
  decodeProofContext,
  decodeRelayMessage,
  encodeBTPMessage,
  encodeDecision,
  encodeHeader,
  encodeMessageProof,
  encodeNetworkSection,
  encodeNetworkTypeSection,
  encodeProof,
  encodeProofContext,
  encodeRelayMessage,
} from '../../../src/chains/btp/codec.js';
import { networkSectionOf } from '../../../src/chains/btp/hashes.js';
import { decodeAny } from '../../../src/chains/btp/json.js';
import { btpMessageArb, ethProofArb, headerArb, messageProofArb, proofContextArb, relayMessageArb } from './arbitraries.js';
import { errorCode } from './helpers.js';

function roundTrip<T>(arb: fc.Arbitrary<T>, enc: (x: T) => Uint8Array, dec: (b: Uint8Array) => T, runs = 300): void {
  fc.assert(
    fc.property(arb, (x) => {
      const bytes = enc(x);
      const back = dec(bytes);
      expect(back).toEqual(x);
      expect(enc(back)).toEqual(bytes);
    }),
    { numRuns: runs },
  );
}

describe('structure codecs round-trip random values', () => {
  it('BTPBlockHeader', () => roundTrip(headerArb, encodeHeader, decodeHeader));
  it('NetworkSection', () => roundTrip(headerArb.map(networkSectionOf), encodeNetworkSection, decodeNetworkSection));
  it('NetworkTypeSection', () =>
    roundTrip(
      fc.record({ nextProofContextHash: fc.uint8Array({ minLength: 32, maxLength: 32 }), networkSectionsRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
      encodeNetworkTypeSection,
      decodeNetworkTypeSection,
    ));
  it('NetworkTypeSectionDecision', () =>
    roundTrip(
      fc.record({
        srcNetworkUid: fc.string(),
        dstNetworkTypeId: fc.nat(),
        height: fc.nat(),
        round: fc.nat(),
        networkTypeSectionHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      encodeDecision,
      decodeDecision,
    ));
  it('ETH ProofContext', () => roundTrip(proofContextArb, encodeProofContext, decodeProofContext));
  it('ETH Proof', () => roundTrip(ethProofArb, encodeProof, decodeProof));
  it('MessageProof', () => roundTrip(messageProofArb, encodeMessageProof, decodeMessageProof));
  it('RelayMessage', () => roundTrip(relayMessageArb, encodeRelayMessage, decodeRelayMessage, 200));
  it('BTPMessage', () => roundTrip(btpMessageArb, encodeBTPMessage, decodeBTPMessage));
});

describe('structure decoders reject wrong shapes with typed errors', () => {
  it('header with 9 fields, bad hash size, negative height, Dir 2', () => {
    const h = fc.sample(headerArb, 1)[0]!;
    const bytes = encodeHeader(h);
    expect(errorCode(() => decodeHeader(encodeNetworkSection(networkSectionOf(h))))).toBe('RLP_WRONG_TYPE');
    expect(errorCode(() => decodeHeader(encodeHeader({ ...h, nextProofContextHash: new Uint8Array(31) })))).toBe('RLP_WRONG_TYPE');
    expect(errorCode(() => decodeHeader(encodeHeader({ ...h, mainHeight: -1 })))).toBe('RLP_INT_RANGE');
    expect(errorCode(() => decodeHeader(encodeHeader({ ...h, networkSectionToRoot: [{ dir: 2 as 1, value: null }] })))).toBe('RLP_WRONG_TYPE');
    expect(errorCode(() => decodeHeader(bytes.subarray(0, bytes.length - 1)))).toBe('RLP_TRUNCATED');
  });
  it('relay message item of unknown type', () => {
    const rm = encodeRelayMessage({ items: [{ type: 3 as 2, messageProof: { left: null, messages: [], right: null } }] });
    expect(errorCode(() => decodeRelayMessage(rm))).toBe('RLP_WRONG_TYPE');
  });
  it('message proof node with zero leaves', () => {
    const mp = encodeMessageProof({ left: [{ leafCount: 0, hash: new Uint8Array(32) }], messages: [], right: null });
    expect(errorCode(() => decodeMessageProof(mp))).toBe('RLP_WRONG_TYPE');
  });
});

describe('decodeAny', () => {
  it('recognises each structure', () => {
    const rm = fc.sample(relayMessageArb.filter((r) => r.items.length > 0), 1)[0]!;
    expect(decodeAny(encodeRelayMessage(rm)).type).toBe('RelayMessage');
    const h = fc.sample(headerArb, 1)[0]!;
    expect(decodeAny(encodeHeader(h)).type).toBe('BTPBlockHeader');
    expect(decodeAny(encodeProofContext({ validators: [new Uint8Array(20)] })).type).toBe('ProofContext');
    expect(decodeAny(Uint8Array.of(0x83, 1, 2, 3)).type).toBe('RLP');
  });
});

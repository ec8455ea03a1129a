import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { assembleProof, buildBlock, buildRelayMessages, sortValidators } from '../../../src/chains/btp/builder.js';
import { decodeProofContext, encodeRelayMessage } from '../../../src/chains/btp/codec.js';
import { decisionHash, headerDecisionHash, headerNetworkSectionHash, proofContextHash } from '../../../src/chains/btp/hashes.js';
import { messagesRoot } from '../../../src/chains/btp/merkle.js';
import { BtpVerifier, verifierConfig, verifierStateToJson } from '../../../src/chains/btp/verifier.js';
import { nativeBackend } from '../../../src/chains/btp/secp256k1.js';
import { blockUpdate, errorCode, firstBlock, makeValidators, NID, NTID, proofFor, SRC } from './helpers.js';


describe('buildBlock', () => {
  const vs = makeValidators(4);
  const addrs = vs.map((v) => v.address);

  it('first block: ProofContext carried, no Prev, hashes consistent with the header', () => {
    const { block } = firstBlock(vs);
    const h = block.header;
    expect(h.prev).toBeNull();
    expect(h.proofContextChanged).toBe(true);
    expect(decodeProofContext(h.nextProofContext!).validators).toEqual(addrs);
    expect(h.nextProofContextHash).toEqual(proofContextHash({ validators: addrs }));
    expect(h.networkSectionToRoot).toEqual([]);
    expect(h.round).toBe(0);
    expect(h.messagesRoot).toBeNull();
    expect(block.networkSectionHash).toEqual(headerNetworkSectionHash(h));
    expect(block.decisionHash).toEqual(headerDecisionHash(h, SRC, NTID));
    expect(block.decisionHash).toEqual(decisionHash(block.decision));
    expect(block.nextState).toEqual({ networkId: NID, lastNetworkSectionHash: block.networkSectionHash, nextMessageSn: 0, validators: addrs });
  });

  it('messages: root, count, SN advance; an unchanged set does not set the flag', () => {
    const { state } = firstBlock(vs);
    const msgs = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)];
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: msgs, nextValidators: [...addrs] })!;
    expect(b.header.messagesRoot).toEqual(messagesRoot(msgs));
    expect(b.header.messageCount).toBe(3);
    expect(b.header.proofContextChanged).toBe(false);
    expect(b.nextState.nextMessageSn).toBe(3);
    const b2 = buildBlock(b.nextState, { srcNetworkUid: SRC, networkTypeId: NTID, height: 102, messages: [Uint8Array.of(4)] })!;
    expect(b2.header.firstMessageSn).toBe(3);
    expect(b2.header.prev).toEqual(b.networkSectionHash);
  });

  it('rejects unsorted, duplicate, empty or malformed validator sets', () => {
    const { state } = firstBlock(vs);
    const input = { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [] };
    expect(errorCode(() => buildBlock(state, { ...input, nextValidators: [...addrs].reverse() }))).toBe('BTP_INVALID_VALIDATOR_SET');
    expect(errorCode(() => buildBlock(state, { ...input, nextValidators: [addrs[0]!, addrs[0]!] }))).toBe('BTP_INVALID_VALIDATOR_SET');
    expect(errorCode(() => buildBlock(state, { ...input, nextValidators: [] }))).toBe('BTP_INVALID_VALIDATOR_SET');
    expect(errorCode(() => buildBlock(state, { ...input, nextValidators: [new Uint8Array(19)] }))).toBe('BTP_INVALID_VALIDATOR_SET');
    expect(errorCode(() => buildBlock({ ...state, validators: [] }, input))).toBe('BTP_INVALID_VALIDATOR_SET');
    expect(sortValidators([...addrs].reverse())).toEqual(addrs);
  });
});

describe('assembleProof and buildRelayMessages', () => {
  const vs = makeValidators(3);
  it('places signatures by signer, nil for the missing', () => {
    const sig = new Uint8Array(65).fill(9);
    const p = assembleProof(
      vs.map((v) => v.address),
      new Map([[toHex(vs[1]!.address), sig]]),
    );
    expect(p.signatures).toEqual([null, sig, null]);
  });

  it('refuses limits that cannot hold the BlockUpdate or a single message', () => {
    const { state } = firstBlock(vs);
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [new Uint8Array(300), new Uint8Array(3000)] })!;
    const bu = blockUpdate(b, proofFor(b, vs, vs));
    expect(errorCode(() => buildRelayMessages(bu, b.messages, 100))).toBe('BTP_RELAY_TOO_LARGE');
    expect(errorCode(() => buildRelayMessages(bu, b.messages, 1500))).toBe('BTP_RELAY_TOO_LARGE');
    // BlockUpdate alone first when even one message does not fit beside it
    const fits = buildRelayMessages(bu, b.messages.slice(0, 1), encodeRelayMessage({ items: [{ type: 1, blockUpdate: bu }] }).length + 10);
    expect(fits.map((r) => r.items.map((i) => i.type))).toEqual([[1], [2]]);
  });
});

describe('BtpVerifier wrapper', () => {
  it('keeps state between relay messages and reports it as JSON', () => {
    const vs = makeValidators(3);
    const { block, state } = firstBlock(vs);
    const v = new BtpVerifier(block.headerBytes, verifierConfig({ srcNetworkUid: SRC, networkTypeId: NTID, backend: nativeBackend }));
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 120, messages: [Uint8Array.of(0x41)] })!;
    const res = v.verify(buildRelayMessages(blockUpdate(b, proofFor(b, vs, vs)), b.messages, 10_000)[0]!);
    expect(res.messages).toEqual([Uint8Array.of(0x41)]);
    res.state.validators.length = 0; // callers get copies
    expect(verifierStateToJson(v.state)).toEqual({
      height: 120,
      messagesRoot: toHex(b.header.messagesRoot!),
      nextMessageSn: 1,
      messageCount: 1,
      remainMessageCount: 0,
      networkSectionHash: toHex(b.networkSectionHash),
      validators: vs.map((x) => toHex(x.address)),
    });
  });

  it('rejects a first header without a ProofContext', () => {
    const vs = makeValidators(3);
    const { state } = firstBlock(vs);
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [Uint8Array.of(1)] })!;
    expect(errorCode(() => new BtpVerifier(b.headerBytes, verifierConfig({ srcNetworkUid: SRC, networkTypeId: NTID })))).toBe('BTP_INVALID_FIRST_HEADER');
  });
});

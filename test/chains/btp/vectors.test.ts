import { describe, expect, it } from 'vitest';
import { fromHex, keccak256, toHex, utf8ToBytes } from '../../../src/chains/btp/bytes.js';
import { decodeHeader, decodeRelayMessage, encodeHeader, encodeRelayMessage } from '../../../src/chains/btp/codec.js';
import { merklePath, merkleRoot } from '../../../src/chains/btp/merkle.js';
import { bytesToInt, intToBytes, rlpDecode, rlpEncode } from '../../../src/chains/btp/rlp.js';
import { nativeBackend, nobleBackend } from '../../../src/chains/btp/secp256k1.js';
import { addressFromSecretKey } from '../../../src/chains/btp/sign.js';
import { BtpVerifier, remainingMessageCount, verifierConfig } from '../../../src/chains/btp/verifier.js';
import { loadPrimitives, loadScenario, parseVectorInt } from './vectors.js';

const prim = loadPrimitives();
const scenario = loadScenario();

describe('btp2-primitives vectors', () => {
  it('keccak256', () => {
    for (const v of prim.keccak256) expect(toHex(keccak256(utf8ToBytes(v.input_utf8)))).toBe('0x' + v.hash);
  });

  it.each([nobleBackend, nativeBackend])('Ethereum address from private key ($name)', (backend) => {
    for (const v of prim.ethAddressFromPrivateKey) {
      expect(toHex(addressFromSecretKey(fromHex(v.privateKey), backend))).toBe('0x' + v.address);
    }
  });

  it('ICON-RLP integers encode and decode', () => {
    for (const v of prim.rlpIntegers) {
      const value = parseVectorInt(v.value);
      expect(toHex(rlpEncode(intToBytes(value)))).toBe('0x' + v.rlp);
      const item = rlpDecode(fromHex(v.rlp));
      expect(item).toBeInstanceOf(Uint8Array);
      expect(bytesToInt(item as Uint8Array)).toBe(value);
    }
  });

  it('nil, empty bytes, empty list', () => {
    const byWhat = new Map(prim.rlpSpecial.map((s) => [s.what, s.rlp]));
    expect(toHex(rlpEncode(null))).toBe('0x' + byWhat.get('nil (byte string or list)'));
    expect(toHex(rlpEncode(new Uint8Array(0)))).toBe('0x' + byWhat.get('empty byte string'));
    expect(toHex(rlpEncode([]))).toBe('0x' + byWhat.get('empty list'));
    expect(rlpDecode(fromHex('f800'))).toBeNull();
    expect(rlpDecode(fromHex('c0'))).toEqual([]);
  });

  it('merkle root rules', () => {
    const h = [1, 2, 3, 4, 5, 6, 7].map((i) => keccak256(Uint8Array.of(i)));
    const k = (a: Uint8Array, b: Uint8Array): Uint8Array => keccak256(new Uint8Array([...a, ...b]));
    const [h1, h2, h3, h4, h5, h6, h7] = h as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    expect(merkleRoot([h1])).toEqual(h1);
    expect(merkleRoot([h1, h2])).toEqual(k(h1, h2));
    expect(merkleRoot([h1, h2, h3])).toEqual(k(k(h1, h2), h3));
    expect(merkleRoot([h1, h2, h3, h4, h5])).toEqual(k(k(k(h1, h2), k(h3, h4)), h5));
    expect(merkleRoot(h)).toEqual(k(k(k(h1, h2), k(h3, h4)), k(k(h5, h6), h7)));
  });

  it('merkle proof rule: index 4 of 5', () => {
    const h = [0, 1, 2, 3, 4].map((i) => keccak256(Uint8Array.of(i)));
    const k = (a: Uint8Array, b: Uint8Array): Uint8Array => keccak256(new Uint8Array([...a, ...b]));
    expect(merklePath(h, 4)).toEqual([
      { dir: 1, value: null },
      { dir: 1, value: null },
      { dir: 0, value: k(k(h[0]!, h[1]!), k(h[2]!, h[3]!)) },
    ]);
  });
});

describe('btp2-eth-bmv-scenario vector', () => {
  it('first header and every relay message re-encode byte-identically', () => {
    const first = fromHex(scenario.firstBlockUpdate);
    expect(encodeHeader(decodeHeader(first))).toEqual(first);
    for (const rm of scenario.relayMessages) {
      const bytes = fromHex(rm.hex);
      expect(toHex(encodeRelayMessage(decodeRelayMessage(bytes)))).toBe(rm.hex);
    }
  });

  for (const quorum of ['majority', 'twoThirds'] as const) {
    for (const backend of [nativeBackend, nobleBackend]) {
      it(`replays through the verifier (${quorum}, ${backend.name}) to expectFinalState`, () => {
        const config = verifierConfig({ srcNetworkUid: scenario.srcNetworkUID, networkTypeId: scenario.networkTypeID, quorum, backend });
        const v = new BtpVerifier(fromHex(scenario.firstBlockUpdate), config);
        expect(v.state.validators.map(toHex)).toEqual(scenario.initialValidators);
        for (const rm of scenario.relayMessages) {
          const res = v.verify(fromHex(rm.hex), rm.seq - scenario.sequenceOffset);
          expect(res.messages.map((m) => new TextDecoder().decode(m))).toEqual(rm.expectMessages);
          for (const b of res.blocks) expect(b.signers.length).toBeGreaterThan(0);
        }
        const s = v.state;
        const want = scenario.expectFinalState;
        expect(s.height).toBe(want.height);
        expect(s.messagesRoot === null ? null : toHex(s.messagesRoot)).toBe(want.messageRoot);
        expect(s.nextMessageSn).toBe(want.messageSn);
        expect(s.messageCount).toBe(want.messageCount);
        expect(remainingMessageCount(s)).toBe(want.remainMessageCount);
        expect(toHex(s.networkSectionHash)).toBe(want.networkSectionHash);
        expect(s.validators.map(toHex)).toEqual(want.validators);
      });
    }
  }
});

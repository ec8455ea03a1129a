import { decodeRlp as ethersDecode, encodeRlp as ethersEncode, getBytes, hexlify } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRlp, encodeRlp, type RlpItem } from '../../../src/node/p2p/rlp.js';

const item: fc.Arbitrary<RlpItem> = fc.letrec<{ node: RlpItem }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.uint8Array({ maxLength: 80 }),
    fc.array(tie('node'), { maxLength: 4 }),
  ),
})).node;

type Hexish = string | Hexish[];
const toHex = (i: RlpItem): Hexish => (i instanceof Uint8Array ? hexlify(i) : i.map(toHex));

describe('rlp', () => {
  it('encodes exactly like ethers and decodes back', () => {
    fc.assert(
      fc.property(item, (i) => {
        const mine = encodeRlp(i);
        expect(hexlify(mine)).toBe(ethersEncode(toHex(i) as never));
        expect(toHex(decodeRlp(mine) as RlpItem)).toEqual(toHex(i));
      }),
      { numRuns: 300 },
    );
  });

  it('handles long strings and lists (multi-byte lengths)', () => {
    for (const n of [55, 56, 255, 256, 70_000]) {
      const s = new Uint8Array(n).fill(7);
      expect(hexlify(encodeRlp(s))).toBe(ethersEncode(s));
      expect(decodeRlp(encodeRlp(s))).toEqual(s);
      // (ethers is quadratic on long lists: keep those short.)
      const l = Array.from({ length: Math.min(n, 300) }, () => new Uint8Array([1]));
      expect(hexlify(encodeRlp(l))).toBe(ethersEncode(l));
    }
  });

  it('rejects non-canonical and malformed encodings that ethers would accept or choke on', () => {
    const bad = [
      '0x8105', // single byte < 0x80 wrapped as a string
      '0xb800', // long form for a short string
      '0xb80100' + '00'.repeat(1), // long form with a leading zero length byte
      '0xf800', // long list form for an empty list
      '0x83aabb', // truncated
      '0xc3010203ff', // trailing byte
      '0xc2820102', // a child overruns its list
      '0x', // empty
    ];
    for (const h of bad) expect(decodeRlp(getBytes(h)), h).toBeUndefined();
    // Sanity: ethers reads the first one, proving strictness is ours to add.
    expect(ethersDecode('0x8105')).toBe('0x05');
  });

  it('returns plain Uint8Array copies even when given a Buffer', () => {
    const buf = Buffer.from(encodeRlp([new Uint8Array([1, 2, 3]), new Uint8Array(60).fill(9)]));
    const out = decodeRlp(buf) as Uint8Array[];
    for (const x of out) expect(Object.getPrototypeOf(x)).toBe(Uint8Array.prototype);
    buf.fill(0);
    expect(out[0]).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = decodeRlp(b);
        if (r !== undefined) expect(encodeRlp(r)).toEqual(b);
      }),
      { numRuns: 5_000 },
    );
  });
});

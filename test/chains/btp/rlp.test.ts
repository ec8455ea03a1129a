import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { fromHex } from '../../../src/chains/btp/bytes.js';
import { asBytes, asList, asUint, bytesToInt, intToBytes, rlpDecode, rlpEncode, type RlpItem } from '../../../src/chains/btp/rlp.js';
import { rlpItemArb } from './arbitraries.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isBridgeError(err)) return err.code;
    throw err;
  }
  return 'OK';
}

const decodeCode = (hex: string): string => codeOf(() => rlpDecode(fromHex(hex)));

describe('ICON-RLP decoder rejects malformed input with typed errors', () => {
  it.each([
    ['', 'RLP_TRUNCATED'],
    ['81', 'RLP_TRUNCATED'],
    ['83aabb', 'RLP_TRUNCATED'],
    ['b8', 'RLP_TRUNCATED'],
    ['b90100', 'RLP_TRUNCATED'],
    ['c3aabb', 'RLP_TRUNCATED'],
    ['c2c3', 'RLP_TRUNCATED'],
    ['f8', 'RLP_TRUNCATED'],
    ['0000', 'RLP_TRAILING_BYTES'],
    ['c0c0', 'RLP_TRAILING_BYTES'],
    ['f80000', 'RLP_TRAILING_BYTES'],
    ['8100', 'RLP_NON_CANONICAL'],
    ['817f', 'RLP_NON_CANONICAL'],
    ['b80100', 'RLP_NON_CANONICAL'],
    ['b801ff', 'RLP_NON_CANONICAL'],
    ['b90001' + '00', 'RLP_NON_CANONICAL'],
    ['f801c0', 'RLP_NON_CANONICAL'],
    ['f90000', 'RLP_NON_CANONICAL'],
  ])('%s -> %s', (hex, code) => {
    expect(decodeCode(hex)).toBe(code);
  });

  it('accepts the canonical forms next to those', () => {
    expect(rlpDecode(fromHex('8180'))).toEqual(Uint8Array.of(0x80));
    expect(rlpDecode(fromHex('f800'))).toBeNull();
    expect(rlpDecode(fromHex('b838' + '00'.repeat(56)))).toEqual(new Uint8Array(56));
    expect(rlpDecode(fromHex('f838' + '00'.repeat(56)))).toHaveLength(56);
  });

  it('bounds nesting depth', () => {
    const deep = new Uint8Array(200).fill(0xc0);
    // c0 c0 ... is not one item; build a real chain of single-element lists
    let item: RlpItem = [];
    for (let i = 0; i < 100; i++) item = [item];
    expect(codeOf(() => rlpDecode(rlpEncode(item)))).toBe('RLP_TOO_DEEP');
    expect(codeOf(() => rlpDecode(deep))).not.toBe('OK');
  });

  it('wrong types and integer rules', () => {
    expect(codeOf(() => asList(Uint8Array.of(1), 'x'))).toBe('RLP_WRONG_TYPE');
    expect(codeOf(() => asList([[], []], 'x', 3))).toBe('RLP_WRONG_TYPE');
    expect(codeOf(() => asBytes([], 'x'))).toBe('RLP_WRONG_TYPE');
    expect(codeOf(() => asBytes(null, 'x'))).toBe('RLP_WRONG_TYPE');
    expect(codeOf(() => asBytes(new Uint8Array(3), 'x', 32))).toBe('RLP_WRONG_TYPE');
    expect(codeOf(() => asUint(Uint8Array.of(0xff), 'x'))).toBe('RLP_INT_RANGE');
    expect(codeOf(() => bytesToInt(new Uint8Array(0)))).toBe('RLP_NON_CANONICAL');
    expect(codeOf(() => bytesToInt(Uint8Array.of(0, 1)))).toBe('RLP_NON_CANONICAL');
    expect(codeOf(() => bytesToInt(Uint8Array.of(0xff, 0xff)))).toBe('RLP_NON_CANONICAL');
    expect(bytesToInt(Uint8Array.of(0, 0x80))).toBe(128n);
    expect(bytesToInt(Uint8Array.of(0xff, 0x7f))).toBe(-129n);
  });
});

describe('ICON-RLP round trips (property)', () => {
  it('signed integers: bytes are minimal and decode back', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }), (v) => {
        const b = intToBytes(v);
        expect(bytesToInt(b)).toBe(v);
        if (b.length > 1) {
          // one byte shorter can not hold the value
          const lim = 1n << BigInt(8 * (b.length - 1) - 1);
          expect(v >= lim || v < -lim).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('item trees: decode(encode(x)) = x and encode(decode(b)) = b', () => {
    fc.assert(
      fc.property(rlpItemArb, (item) => {
        const enc = rlpEncode(item);
        const dec = rlpDecode(enc);
        expect(dec).toEqual(item);
        expect(rlpEncode(dec)).toEqual(enc);
      }),
      { numRuns: 1000 },
    );
  });
});

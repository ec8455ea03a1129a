import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, type BtcRecord } from '../../../src/chains/bitcoin/records.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';

const txid = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('btc service records', () => {
  it('packs DEPOSIT_MINT big-endian with no padding', () => {
    const r: BtcRecord = { type: 'deposit-mint', txid, vout: 0x01020304, amountSats: 0x0a0b0c0d0e0f1011n, epoch: 7, recipient: new Uint8Array(20).fill(0xee) };
    const b = encodeRecord(r);
    expect(b.length).toBe(1 + 32 + 4 + 8 + 4 + 20);
    expect(bytesToHex(b)).toBe('01' + bytesToHex(txid) + '01020304' + '0a0b0c0d0e0f1011' + '00000007' + 'ee'.repeat(20));
  });

  it('packs DEPOSIT_REFUND with a length-prefixed script, DEPOSIT_UNCLAIMED and PAYOUT_CONFIRMED', () => {
    const script = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(1));
    expect(bytesToHex(encodeRecord({ type: 'deposit-refund', txid, vout: 1, amountSats: 2n, epoch: 3, refundScript: script }))).toBe(
      '02' + bytesToHex(txid) + '00000001' + '0000000000000002' + '00000003' + '16' + bytesToHex(script),
    );
    expect(bytesToHex(encodeRecord({ type: 'deposit-unclaimed', txid, vout: 1, amountSats: 2n, epoch: 3 }))).toBe('03' + bytesToHex(txid) + '00000001' + '0000000000000002' + '00000003');
    expect(bytesToHex(encodeRecord({ type: 'payout-confirmed', txid, batchId: 258n, btcHeight: 500 }))).toBe('10' + bytesToHex(txid) + '0000000000000102' + '000001f4');
  });

  it('round-trips and refuses malformed bytes', () => {
    const arb: fc.Arbitrary<BtcRecord> = fc.oneof(
      fc.record({ type: fc.constant('deposit-mint' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat(), recipient: fc.uint8Array({ minLength: 20, maxLength: 20 }) }),
      fc.record({ type: fc.constant('deposit-refund' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat(), refundScript: fc.uint8Array({ minLength: 1, maxLength: 42 }) }),
      fc.record({ type: fc.constant('deposit-unclaimed' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat() }),
      fc.record({ type: fc.constant('payout-confirmed' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), batchId: fc.bigInt(0n, (1n << 64n) - 1n), btcHeight: fc.nat() }),
    );
    fc.assert(
      fc.property(arb, (r) => {
        const b = encodeRecord(r);
        expect(decodeRecord(b)).toEqual(r);
        expect(decodeRecord(Uint8Array.from([...b, 0]))).toBeUndefined();
        expect(decodeRecord(b.subarray(0, b.length - 1))).toBeUndefined();
      }),
    );
    expect(decodeRecord(Uint8Array.of(0x04))).toBeUndefined();
    expect(decodeRecord(new Uint8Array(0))).toBeUndefined();
  });
});

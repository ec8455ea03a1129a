import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, type BtcRecord } from '../../../src/chains/bitcoin/records.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { btcRecordView } from '../../../src/node/cli/commands/btp.js';

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

  it('sets the top bit of the deposit type byte for a P2SH-P2WSH output (0x81/0x82/0x83), layout unchanged', () => {
    const script = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(1));
    const base = { txid, vout: 1, amountSats: 2n, epoch: 3 } as const;
    const p2wsh = [
      encodeRecord({ type: 'deposit-mint', ...base, recipient: new Uint8Array(20).fill(0xee) }),
      encodeRecord({ type: 'deposit-refund', ...base, refundScript: script }),
      encodeRecord({ type: 'deposit-unclaimed', ...base }),
    ];
    const wrapped = [
      encodeRecord({ type: 'deposit-mint', ...base, recipient: new Uint8Array(20).fill(0xee), outputKind: 'p2sh-p2wsh' }),
      encodeRecord({ type: 'deposit-refund', ...base, refundScript: script, outputKind: 'p2sh-p2wsh' }),
      encodeRecord({ type: 'deposit-unclaimed', ...base, outputKind: 'p2sh-p2wsh' }),
    ];
    expect(wrapped.map((b) => b[0])).toEqual([0x81, 0x82, 0x83]);
    expect(p2wsh.map((b) => b[0])).toEqual([0x01, 0x02, 0x03]);
    // explicit 'p2wsh' encodes exactly like the default
    expect(encodeRecord({ type: 'deposit-unclaimed', ...base, outputKind: 'p2wsh' })).toEqual(p2wsh[2]);
    for (const [i, w] of wrapped.entries()) {
      expect(bytesToHex(w.subarray(1))).toBe(bytesToHex(p2wsh[i]!.subarray(1)));
      expect(decodeRecord(w)).toMatchObject({ outputKind: 'p2sh-p2wsh', epoch: 3 });
      expect(decodeRecord(p2wsh[i]!)).not.toHaveProperty('outputKind');
    }
    // the flag exists only on deposit records: 0x90 and 0x84 are unknown
    const payout = encodeRecord({ type: 'payout-confirmed', txid, batchId: 258n, btcHeight: 500 });
    expect(decodeRecord(Uint8Array.of(0x90, ...payout.subarray(1)))).toBeUndefined();
    expect(decodeRecord(Uint8Array.of(0x84, ...wrapped[2]!.subarray(1)))).toBeUndefined();
  });

  it('the `fednode btp decode` record view names the output kind of a P2SH-P2WSH deposit', () => {
    const b = encodeRecord({ type: 'deposit-mint', txid, vout: 1, amountSats: 2n, epoch: 3, recipient: new Uint8Array(20).fill(0xee), outputKind: 'p2sh-p2wsh' });
    expect(btcRecordView('btc', b)).toMatchObject({ type: 'deposit-mint', outputKind: 'p2sh-p2wsh', amountSats: '2' });
    expect(btcRecordView('btc', Uint8Array.of(0x84, ...b.subarray(1)))).toEqual({ error: 'malformed btc record' });
  });

  it('round-trips and refuses malformed bytes', () => {
    const kind = fc.option(fc.constant('p2sh-p2wsh' as const), { nil: undefined });
    const withKind = <T extends object>(r: T & { outputKind: 'p2sh-p2wsh' | undefined }): T => {
      const { outputKind, ...rest } = r;
      return (outputKind === undefined ? rest : { ...rest, outputKind }) as unknown as T;
    };
    const arb: fc.Arbitrary<BtcRecord> = fc.oneof(
      fc.record({ type: fc.constant('deposit-mint' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat(), recipient: fc.uint8Array({ minLength: 20, maxLength: 20 }), outputKind: kind }).map(withKind),
      fc.record({ type: fc.constant('deposit-refund' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat(), refundScript: fc.uint8Array({ minLength: 1, maxLength: 42 }), outputKind: kind }).map(withKind),
      fc.record({ type: fc.constant('deposit-unclaimed' as const), txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(), amountSats: fc.bigInt(0n, (1n << 64n) - 1n), epoch: fc.nat(), outputKind: kind }).map(withKind),
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

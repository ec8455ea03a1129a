import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction, opcodes, script as bscript } from 'bitcoinjs-lib';
import { decodeRecord, encodeRecord } from '../../../src/chains/bitcoin/records.js';
import { DEPOSIT_MAGIC, parseDepositMetadata } from '../../../src/chains/bitcoin/deposits.js';
import { parsePayoutOpReturn } from '../../../src/chains/bitcoin/payout.js';
import { concatBytes } from '../../../src/chains/bitcoin/bytes.js';

// `npm run fuzz`: the parsers that read attacker-controlled bytes never throw
// and only accept what re-encodes to the same bytes.
describe('bitcoin decoders under random input', () => {
  it('decodeRecord never throws and round-trips what it accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.tuple(fc.constantFrom(1, 2, 3, 16), fc.uint8Array({ minLength: 40, maxLength: 100 })).map(([t, b]) => Uint8Array.of(t, ...b))), (bytes) => {
        const r = decodeRecord(bytes);
        if (r !== undefined) expect(encodeRecord(r)).toEqual(bytes);
      }),
      { numRuns: 100_000 },
    );
  });

  it('deposit metadata and payout tags never throw on arbitrary OP_RETURN data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (data, magic) => {
        const payload = magic ? concatBytes(DEPOSIT_MAGIC, data) : data;
        const tx = new Transaction();
        tx.addInput(new Uint8Array(32), 0);
        tx.addOutput(bscript.compile([opcodes.OP_RETURN, payload.slice(0, 80)]), 0n);
        tx.addOutput(Uint8Array.of(opcodes.OP_RETURN, ...data.slice(0, 20)), 0n);
        const meta = parseDepositMetadata(tx);
        if (meta?.recipient) expect(meta.recipient).toHaveLength(20);
        for (const o of tx.outs) parsePayoutOpReturn(o.script);
      }),
      { numRuns: 50_000 },
    );
  });
});

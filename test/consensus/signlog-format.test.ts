import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isBridgeError } from '../../src/errors.js';
import { parseExport, planMerge, toExport, type SignLogContents } from '../../src/consensus/signlog-format.js';
import { checkBatchVersion, checkBtp, checkPayout, type ClosedBatchVersion } from '../../src/consensus/signlog-policy.js';

const hex = (n: number, prefix = '0x') => prefix + n.toString(16).padStart(64, '0');
const version = (batch: number, txid: number, inputs: number[]): ClosedBatchVersion => ({
  batchId: BigInt(batch),
  txid: hex(txid, ''),
  outpoints: inputs.map((i) => `${hex(i, '')}:0`),
  sighashes: inputs.map((i) => hex(batch * 1_000_000 + txid * 1000 + i)),
});

const contents: fc.Arbitrary<SignLogContents> = fc
  .record({
    heights: fc.uniqueArray(fc.nat({ max: 50 }), { maxLength: 8 }),
    batches: fc.uniqueArray(fc.nat({ max: 5 }), { maxLength: 3 }),
    bumps: fc.nat({ max: 2 }),
    sign: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
  })
  .map(({ heights, batches, bumps, sign }) => {
    const versions = batches.flatMap((b) => Array.from({ length: bumps + 1 }, (_, v) => version(b, b * 10 + v, [b * 3, b * 3 + 1])));
    const payouts = versions.flatMap((v, vi) =>
      v.sighashes.filter((_, i) => sign[(vi * 2 + i) % 12]).map((s) => ({ sighash: s, batchId: v.batchId, txid: v.txid, inputIndex: v.sighashes.indexOf(s), signedAt: 5 })),
    );
    return { btp: heights.map((h) => ({ height: h, decisionHash: hex(h + 7), signedAt: h })), batches: versions, payouts, halt: undefined };
  });

const empty: SignLogContents = { btp: [], batches: [], payouts: [], halt: undefined };

describe('sign-log policy', () => {
  it('one decision per height; only sighashes of closed versions; versions keep their inputs', () => {
    const e = { height: 1, decisionHash: hex(1), signedAt: 0 };
    expect(checkBtp(undefined, 1, hex(1))).toEqual({ ok: true, repeat: false });
    expect(checkBtp(e, 1, hex(1))).toEqual({ ok: true, repeat: true });
    expect(checkBtp(e, 1, hex(2))).toMatchObject({ ok: false, rule: 'btp-conflict' });
    const v1 = version(1, 1, [1, 2]);
    const bump = version(1, 2, [1, 2]);
    expect(checkBatchVersion([v1], bump)).toEqual({ ok: true, repeat: false });
    expect(checkBatchVersion([v1], version(1, 3, [1, 3]))).toMatchObject({ ok: false, rule: 'batch-inputs-differ' });
    expect(checkBatchVersion([v1], { ...v1, sighashes: [hex(1), hex(2)] })).toMatchObject({ ok: false, rule: 'batch-version-conflict' });
    expect(checkPayout([v1, bump], { batchId: 1n, txid: bump.txid, inputIndex: 1, sighash: bump.sighashes[1]! })).toEqual({ ok: true, repeat: false });
    expect(checkPayout([v1, bump], { batchId: 1n, txid: bump.txid, inputIndex: 1, sighash: v1.sighashes[1]! })).toMatchObject({ ok: false, rule: 'sighash-not-of-batch' });
    expect(checkPayout([v1], { batchId: 2n, txid: v1.txid, inputIndex: 0, sighash: v1.sighashes[0]! })).toMatchObject({ ok: false, rule: 'batch-not-closed' });
  });
});

describe('sign-log interchange format (property)', () => {
  it('export -> parse is lossless; importing into an empty log adds everything; into itself merges everything', () => {
    fc.assert(
      fc.property(contents, (c) => {
        const doc = toExport(c);
        const back = parseExport(JSON.parse(JSON.stringify(doc)));
        expect(toExport(back)).toEqual(doc);
        const fresh = planMerge(empty, back);
        expect(fresh.conflicts).toEqual([]);
        expect(fresh.add.btp.length + fresh.add.batches.length + fresh.add.payouts.length).toBe(c.btp.length + c.batches.length + c.payouts.length);
        const self = planMerge(c, back);
        expect(self.conflicts).toEqual([]);
        expect(self.identical).toBe(c.btp.length + c.batches.length + c.payouts.length);
      }),
      { numRuns: 60 },
    );
  });

  it('any changed decision at a known height is a conflict (property)', () => {
    fc.assert(
      fc.property(contents.filter((c) => c.btp.length > 0), fc.nat(), (c, pick) => {
        const e = c.btp[pick % c.btp.length]!;
        const incoming = { ...empty, btp: [{ ...e, decisionHash: hex(999_999) }] };
        expect(planMerge(c, incoming).conflicts).toEqual([{ kind: 'btp', key: String(e.height), reason: expect.any(String) }]);
      }),
      { numRuns: 30 },
    );
  });

  it('rejects malformed documents with SIGNLOG_BAD_EXPORT', () => {
    const doc = toExport(empty);
    for (const bad of [{ ...doc, format: 'x' }, { ...doc, extra: 1 }, { ...doc, btp: [{ height: -1, decisionHash: hex(1), signedAt: 0 }] }, { ...doc, batches: [{ batchId: '18446744073709551616', txid: hex(1, ''), outpoints: [`${hex(1, '')}:0`], sighashes: [hex(1)] }] }]) {
      let err: unknown;
      try {
        parseExport(bad);
      } catch (e) {
        err = e;
      }
      expect(isBridgeError(err, 'SIGNLOG_BAD_EXPORT')).toBe(true);
    }
  });
});

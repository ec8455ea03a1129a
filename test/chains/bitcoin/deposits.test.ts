import { describe, expect, it } from 'vitest';
import { Transaction, payments } from 'bitcoinjs-lib';
import {
  classifyDeposits,
  encodeDepositOpReturn,
  extractBlockRecords,
  federationViewAt,
  parseDepositMetadata,
  UNKNOWN_BATCH_ID,
  type FederationView,
} from '../../../src/chains/bitcoin/deposits.js';
import { payoutOpReturn } from '../../../src/chains/bitcoin/payout.js';
import { bytesToHex } from '../../../src/chains/bitcoin/bytes.js';
import { encodeRecord } from '../../../src/chains/bitcoin/records.js';
import { script as bscript } from 'bitcoinjs-lib';
import { testFederation } from '../../fixtures/bitcoin/regtest.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

const cur = testFederation(3, 2, 2);
const prev = testFederation(3, 2, 1);
const ancient = testFederation(3, 2, 0);
const view: FederationView = { depositScripts: [cur.script, prev.script], allScripts: [cur.script, prev.script, ancient.script], minDepositSats: 10_000n };
const recipient = new Uint8Array(20).fill(0xab);
const refund = payments.p2wpkh({ pubkey: testKeys(1, 'refund')[0]!.publicKey }).output!;
const other = payments.p2wpkh({ pubkey: testKeys(1, 'other')[0]!.publicKey }).output!;

function tx(outs: [Uint8Array, bigint][], input?: { witness?: Uint8Array[]; script?: Uint8Array }): Transaction {
  const t = new Transaction();
  t.addInput(new Uint8Array(32).fill(7), 0, 0xffffffff, input?.script);
  if (input?.witness) t.setWitness(0, input.witness);
  for (const [s, v] of outs) t.addOutput(s, v);
  return t;
}

describe('deposit OP_RETURN', () => {
  it('is magic ‖ recipient [‖ len ‖ refund script], at most 80 bytes', () => {
    const s = encodeDepositOpReturn({ recipient, refundScript: refund });
    expect(bytesToHex(s)).toBe('6a' + '2f' + '464e4401' + 'ab'.repeat(20) + '16' + bytesToHex(refund));
    expect(parseDepositMetadata(tx([[s, 0n]]))).toEqual({ recipient, refundScript: refund });
    expect(parseDepositMetadata(tx([[encodeDepositOpReturn({ recipient }), 0n]]))).toEqual({ recipient, refundScript: undefined });
    expect(parseDepositMetadata(tx([[encodeDepositOpReturn({ refundScript: refund }), 0n]]))).toEqual({ recipient: undefined, refundScript: refund });
    expect(() => encodeDepositOpReturn({ recipient, refundScript: Uint8Array.of(0x51) })).toThrow(/BTC_DEPOSIT_BAD_REFUND_SCRIPT/);
  });

  it('treats wrong lengths and non-standard refund scripts as no metadata', () => {
    const bad = (data: number[]) => parseDepositMetadata(tx([[bscript.compile([0x6a, Uint8Array.from(data)]), 0n]]));
    expect(bad([0x46, 0x4e, 0x44, 0x01, ...recipient.slice(1)])).toBeUndefined();
    expect(bad([0x46, 0x4e, 0x44, 0x01, ...recipient, 3, 0x51, 0x51])).toBeUndefined();
    expect(bad([0x46, 0x4e, 0x44, 0x01, ...recipient, 2, 0x51, 0x51])).toBeUndefined();
    expect(bad([0x46, 0x4e, 0x44, 0x02, ...recipient])).toBeUndefined();
  });
});

describe('classifyDeposits', () => {
  const meta = encodeDepositOpReturn({ recipient, refundScript: refund });

  it('mints a deposit to the current or a windowed old script, P2WSH or P2SH-P2WSH, one record per output', () => {
    const t = tx([[other, 5n], [cur.script.p2wshOutput, 50_000n], [meta, 0n], [prev.script.p2shP2wshOutput, 20_000n], [ancient.script.p2wshOutput, 30_000n]]);
    const d = classifyDeposits(t, view);
    expect(d.map((x) => [x.vout, x.epoch, x.kind, x.record.type, x.reason])).toEqual([
      [1, 2, 'p2wsh', 'deposit-mint', 'ok'],
      [3, 1, 'p2sh-p2wsh', 'deposit-mint', 'ok'],
    ]);
    // the record carries the kind too: 0x80 on the type byte for P2SH-P2WSH (PROTOCOL.md §3)
    expect(d.map((x) => 'outputKind' in x.record ? x.record.outputKind : undefined)).toEqual([undefined, 'p2sh-p2wsh']);
    expect(d.map((x) => encodeRecord(x.record)[0])).toEqual([0x01, 0x81]);
    const r = d[0]!.record;
    expect(r.type === 'deposit-mint' && bytesToHex(r.recipient)).toBe(bytesToHex(recipient));
    expect(bytesToHex(r.txid)).toBe(bytesToHex(t.getHash()));
  });

  it('refunds below-minimum deposits with a refund script, else leaves them unclaimed', () => {
    expect(classifyDeposits(tx([[cur.script.p2wshOutput, 9_999n], [meta, 0n]]), view).map((x) => [x.record.type, x.reason])).toEqual([['deposit-refund', 'below-minimum']]);
    expect(classifyDeposits(tx([[cur.script.p2wshOutput, 9_999n], [encodeDepositOpReturn({ recipient }), 0n]]), view).map((x) => [x.record.type, x.reason])).toEqual([['deposit-unclaimed', 'below-minimum']]);
    expect(classifyDeposits(tx([[cur.script.p2wshOutput, 10_000n], [encodeDepositOpReturn({ refundScript: refund }), 0n]]), view).map((x) => [x.record.type, x.reason])).toEqual([['deposit-refund', 'no-recipient']]);
    expect(classifyDeposits(tx([[cur.script.p2wshOutput, 10_000n]]), view).map((x) => [x.record.type, x.reason])).toEqual([['deposit-unclaimed', 'no-metadata']]);
  });

  it('never treats outputs of a federation transaction (any epoch, either kind) as deposits', () => {
    const native = tx([[cur.script.p2wshOutput, 50_000n], [meta, 0n]], { witness: [new Uint8Array(0), ancient.script.witnessScript] });
    expect(classifyDeposits(native, view)).toEqual([]);
    const wrapped = tx([[cur.script.p2wshOutput, 50_000n], [meta, 0n]], { witness: [ancient.script.witnessScript], script: bscript.compile([ancient.script.p2shRedeemScript]) });
    expect(classifyDeposits(wrapped, view)).toEqual([]);
    const viaLedger = tx([[cur.script.p2wshOutput, 50_000n], [meta, 0n]]);
    expect(classifyDeposits(viaLedger, { ...view, isFederationOutpoint: (txid, vout) => txid === '07'.repeat(32) && vout === 0 })).toEqual([]);
    // With a ledger, the ledger alone decides: a look-alike witness on an unknown outpoint is a deposit.
    expect(classifyDeposits(native, { ...view, isFederationOutpoint: () => false })).toHaveLength(1);
    // The same witness script behind a scriptSig that is not its redeem push is not a federation spend.
    const forged = tx([[cur.script.p2wshOutput, 50_000n], [meta, 0n]], { witness: [ancient.script.witnessScript], script: Uint8Array.of(0x51) });
    expect(classifyDeposits(forged, view)).toHaveLength(1);
  });
});

describe('extractBlockRecords', () => {
  it('lists deposits and payout confirmations in transaction then output order', () => {
    const coinbase = new Transaction();
    coinbase.addInput(new Uint8Array(32), 0xffffffff);
    coinbase.addOutput(cur.script.p2wshOutput, 1n);
    const dep1 = tx([[cur.script.p2wshOutput, 20_000n], [encodeDepositOpReturn({ recipient }), 0n], [cur.script.p2shP2wshOutput, 30_000n]]);
    const payout = tx([[cur.script.p2wshOutput, 1_000n], [other, 1_000n], [payoutOpReturn(12n), 0n]], { witness: [cur.script.witnessScript] });
    const untagged = tx([[other, 1_000n]], { witness: [prev.script.witnessScript] });
    const dep2 = tx([[prev.script.p2wshOutput, 5n]]);
    const records = extractBlockRecords([coinbase, dep1, payout, untagged, dep2], 600, view);
    expect(records.map((r) => [r.type, 'vout' in r ? r.vout : r.btcHeight])).toEqual([
      ['deposit-mint', 0],
      ['deposit-mint', 2],
      ['payout-confirmed', 600],
      ['payout-confirmed', 600],
      ['deposit-unclaimed', 0],
    ]);
    expect(records.map((r) => encodeRecord(r)[0])).toEqual([0x01, 0x81, 0x10, 0x10, 0x03]);
    expect(records[2]!.type === 'payout-confirmed' && records[2]!.batchId).toBe(12n);
    expect(records[3]!.type === 'payout-confirmed' && records[3]!.batchId).toBe(UNKNOWN_BATCH_ID);
  });
});

describe('federationViewAt', () => {
  const epochs = [
    { script: prev.script, activationHeight: 100 },
    { script: ancient.script, activationHeight: 10 },
    { script: cur.script, activationHeight: 200 },
  ];
  const at = (h: number) => federationViewAt(h, epochs, { oldAddressWindow: 6, minDepositSats: 1n }).depositScripts.map((s) => s.epoch);

  it('honours the current script and the previous ones inside the old-address window', () => {
    expect(at(5)).toEqual([]);
    expect(at(10)).toEqual([0]);
    expect(at(105)).toEqual([1, 0]);
    expect(at(106)).toEqual([1]);
    expect(at(205)).toEqual([2, 1]);
    expect(at(206)).toEqual([2]);
    expect(federationViewAt(206, epochs, { oldAddressWindow: 6, minDepositSats: 1n }).allScripts).toHaveLength(3);
  });
});

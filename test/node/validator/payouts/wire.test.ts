import { describe, expect, it } from 'vitest';
import { encodeBTPMessage } from '../../../../src/chains/btp/codec.js';
import { toHex } from '../../../../src/chains/btp/bytes.js';
import { encodeRecord } from '../../../../src/chains/bitcoin/records.js';
import { currentEpochValidators, depositOutpointsOf } from '../../../../src/node/validator/payouts/wire.js';
import { epochOf, randomHash, snapshot, validators } from '../../../consensus/fixtures.js';

const msg = (payload: Uint8Array, sn: bigint): Uint8Array =>
  encodeBTPMessage({ src: 'btp://0x10.btc/federation', dst: 'btp://0x7a69.eth/0x01', svc: 'btc', sn, payload, nsn: 0n, feeInfo: null });

describe('payout wiring helpers', () => {
  it('extracts the deposit outpoints of a BTP block (display txids), skipping payout confirmations', () => {
    const t1 = randomHash('w1');
    const t2 = randomHash('w2');
    const base = { amountSats: 10_000n, epoch: 0, outputKind: 'p2wsh' as const };
    const messages = [
      msg(encodeRecord({ type: 'deposit-mint', txid: t1, vout: 1, recipient: new Uint8Array(20).fill(1), ...base }), 0n),
      msg(encodeRecord({ type: 'payout-confirmed', txid: randomHash('w3'), batchId: 1n, btcHeight: 5 }), 1n),
      msg(encodeRecord({ type: 'deposit-refund', txid: t2, vout: 0, refundScript: Uint8Array.of(0x51), ...base, outputKind: 'p2sh-p2wsh' }), 2n),
      msg(encodeRecord({ type: 'deposit-unclaimed', txid: t2, vout: 3, ...base }), 3n),
    ];
    const hexOf = (b: Uint8Array): string => Buffer.from(b).reverse().toString('hex');
    expect(depositOutpointsOf(messages)).toEqual([
      { txid: hexOf(t1), vout: 1 },
      { txid: hexOf(t2), vout: 0 },
      { txid: hexOf(t2), vout: 3 },
    ]);
  });

  it('takes the keepers from the newest activated epoch of the home view', () => {
    const a = validators(3, 'wire-a');
    const b = validators(4, 'wire-b');
    expect(currentEpochValidators(undefined)).toBeUndefined();
    const snap = snapshot([epochOf(0, a, 0, 100), epochOf(1, b, 50, 200), epochOf(2, a, 90)], 1_000);
    expect(currentEpochValidators(snap)).toEqual(b.map((v) => toHex(v.address)));
  });
});

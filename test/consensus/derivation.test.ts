import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBTPMessage, decodeProofContext } from '../../src/chains/btp/codec.js';
import { toHex } from '../../src/chains/btp/bytes.js';
import { decodeRecord } from '../../src/chains/bitcoin/records.js';
import { UNKNOWN_BATCH_ID } from '../../src/chains/bitcoin/deposits.js';
import { isBridgeError } from '../../src/errors.js';
import {
  derivationStateFromJson,
  derivationStateToJson,
  deriveHeight,
  initialDerivationState,
  type DerivationState,
  type ObservedBlock,
} from '../../src/consensus/derivation.js';
import { outpointKey } from '../../src/consensus/ledger.js';
import type { HomeSnapshot } from '../../src/consensus/home-state.js';
import { CONFIG, P2WPKH, coinbase, depositMeta, epochOf, genesisChain, payoutTag, randomHash, snapshot, tx, validators, type Out } from './fixtures.js';

const T0 = 1_700_000_000;
const vals = validators(4);
const vals2 = validators(5, 'val-epoch1');
const e0 = epochOf(0, vals, 0, 100);
const RESERVE_HASH = randomHash('reserve');
const reserveKey = outpointKey(Buffer.from(RESERVE_HASH).reverse().toString('hex'), 0);

function start(nextHeight = 101): DerivationState {
  return initialDerivationState({
    chain: genesisChain(vals, 100).state,
    nextHeight,
    activations: [[0, 100]],
    ledger: [[reserveKey, { amountSats: 100_000n, epoch: 0, kind: 'p2wsh', height: 100 }]],
  });
}

const alice = new Uint8Array(20).fill(0xa1);
const blk = (height: number, txs: ReturnType<typeof tx>[], medianTime = T0): ObservedBlock => ({ height, hash: `${height}`.padStart(64, '0'), transactions: [coinbase(height), ...txs], medianTime });
const snap = (extra: HomeSnapshot['epochs'] = []): HomeSnapshot => snapshot([e0, ...extra], T0, 3600);
const opts = { now: T0 + 10 };

describe('BTP block derivation', () => {
  it('turns a deposit into one btc-service BTPMessage with sequential SN, and skips empty heights', () => {
    const dep = tx([{ hash: randomHash(), index: 0 }], [{ script: e0.script.p2wshOutput, value: 50_000n }, depositMeta(alice), { script: P2WPKH(1), value: 1_000n }]);
    const d1 = deriveHeight(start(), blk(101, [dep]), snap(), CONFIG, opts);
    expect(d1.block).not.toBeNull();
    expect(d1.block!.header.mainHeight).toBe(101);
    expect(d1.block!.header.round).toBe(0);
    expect(d1.block!.header.firstMessageSn).toBe(0);
    expect(d1.block!.header.proofContextChanged).toBe(false);
    const m = decodeBTPMessage(d1.block!.messages[0]!);
    expect([m.src, m.dst, m.svc, m.sn, m.nsn, m.feeInfo]).toEqual([CONFIG.srcBtpAddress, CONFIG.dstBtpAddress, 'btc', 0n, 0n, null]);
    const rec = decodeRecord(m.payload);
    expect(rec).toMatchObject({ type: 'deposit-mint', vout: 0, amountSats: 50_000n, epoch: 0 });
    expect(d1.state.ledger.has(outpointKey(dep.getId(), 0))).toBe(true);

    const d2 = deriveHeight(d1.state, blk(102, [tx([{ hash: randomHash(), index: 0 }], [{ script: P2WPKH(2), value: 5n }])]), snap(), CONFIG, opts);
    expect(d2.block).toBeNull();
    expect(d2.state.chain).toBe(d1.state.chain);
    expect(d2.state.nextHeight).toBe(103);

    const dep2 = tx([{ hash: randomHash(), index: 1 }], [depositMeta(alice), { script: e0.script.p2shP2wshOutput, value: 20_000n }, { script: e0.script.p2wshOutput, value: 9_999n }]);
    const d3 = deriveHeight(d2.state, blk(103, [dep2]), snap(), CONFIG, opts);
    expect(d3.block!.header.firstMessageSn).toBe(1);
    expect(d3.block!.header.prev).toEqual(d1.block!.networkSectionHash);
    const recs = d3.block!.messages.map((x) => decodeBTPMessage(x));
    expect(recs.map((x) => x.sn)).toEqual([1n, 2n]);
    // below the minimum without a refund script: unclaimed, never minted
    expect(recs.map((x) => decodeRecord(x.payload)!.type)).toEqual(['deposit-mint', 'deposit-unclaimed']);
  });

  it('reports a federation transaction as one payout confirmation; its outputs to federation scripts are never deposits', () => {
    const payout = tx(
      [{ hash: RESERVE_HASH, index: 0 }],
      [{ script: e0.script.p2wshOutput, value: 60_000n }, { script: P2WPKH(3), value: 39_000n }, depositMeta(alice), payoutTag(7n)],
    );
    // A later transaction in the same block spends the fresh change: still a federation transaction.
    const spendChange = tx([{ hash: payout.getHash(), index: 0 }], [{ script: e0.script.p2shP2wshOutput, value: 59_000n }]);
    const d = deriveHeight(start(), blk(101, [payout, spendChange]), snap(), CONFIG, opts);
    const recs = d.block!.messages.map((x) => decodeRecord(decodeBTPMessage(x).payload)!);
    expect(recs).toEqual([
      { type: 'payout-confirmed', txid: Uint8Array.from(payout.getHash()), batchId: 7n, btcHeight: 101 },
      { type: 'payout-confirmed', txid: Uint8Array.from(spendChange.getHash()), batchId: UNKNOWN_BATCH_ID, btcHeight: 101 },
    ]);
    expect(d.state.ledger.has(reserveKey)).toBe(false);
    expect(d.state.ledger.has(outpointKey(payout.getId(), 0))).toBe(false);
    expect(d.state.ledger.get(outpointKey(spendChange.getId(), 0))).toMatchObject({ amountSats: 59_000n, kind: 'p2sh-p2wsh' });
  });

  it('keeps a sweep to the next epoch\'s script in the ledger (never a deposit, even before activation)', () => {
    const e1 = epochOf(1, vals2, T0 + 1e6);
    const sweep = tx([{ hash: RESERVE_HASH, index: 0 }], [{ script: e1.script.p2wshOutput, value: 99_000n }, payoutTag(8n)]);
    const stray = tx([{ hash: randomHash(), index: 0 }], [{ script: e1.script.p2wshOutput, value: 50_000n }, depositMeta(alice)]);
    const d = deriveHeight(start(), blk(101, [sweep, stray]), snap([e1]), CONFIG, opts);
    expect(d.records.map((r) => r.type)).toEqual(['payout-confirmed']);
    expect(d.state.ledger.get(outpointKey(sweep.getId(), 0))).toMatchObject({ epoch: 1, amountSats: 99_000n });
    // paying the not-yet-active epoch's address is not a deposit
    expect(d.state.ledger.has(outpointKey(stray.getId(), 0))).toBe(false);
  });

  it('carries NextProofContext on the last block before activation, then derives with the new set and honours the old address for the window', () => {
    const T1 = T0 + 1000;
    const e1 = epochOf(1, vals2, T1);
    const s = snap([e1]);
    const a = deriveHeight(start(), blk(101, [], T1 - 1), s, CONFIG, { now: T1 });
    expect(a.block).toBeNull();
    const b = deriveHeight(a.state, blk(102, [], T1), s, CONFIG, { now: T1 });
    expect(b.activation).toEqual({ epoch: 1, height: 103 });
    expect(b.block!.header.proofContextChanged).toBe(true);
    expect(decodeProofContext(b.block!.header.nextProofContext!).validators.map(toHex)).toEqual(e1.validators.map(toHex));
    expect(b.block!.nextState.validators).toEqual(e1.validators);
    // Block 102 is still signed by the old set (builder: state.validators), the next ones by the new.
    expect(b.state.chain.validators.map(toHex)).toEqual(vals2.map((v) => v.addressHex));

    const oldDep = () => tx([{ hash: randomHash(), index: 0 }], [{ script: e0.script.p2wshOutput, value: 30_000n }, depositMeta(alice)]);
    let st = b.state;
    const counts: number[] = [];
    for (let h = 103; h < 103 + 8; h++) {
      const d = deriveHeight(st, blk(h, [oldDep()], T1 + h), s, CONFIG, { now: T1 + 200 });
      counts.push(d.records.length);
      st = d.state;
    }
    // window 6: old script honoured at heights 103..108, not from 109 on
    expect(counts).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
  });

  it('refuses an activation it should already have made (set frozen too late), and a snapshot that disagrees', () => {
    const e1 = epochOf(1, vals2, T0);
    const a = deriveHeight(start(), blk(101, [], T0 + 1), snap(), CONFIG, opts);
    expect(() => deriveHeight(a.state, blk(102, [], T0 + 2), snap([e1]), CONFIG, opts)).toThrow(expect.objectContaining({ code: 'CONSENSUS_ACTIVATION_MISSED' }));
    const wrong = epochOf(1, vals2, T0, 150);
    expect(() => deriveHeight(start(), blk(101, [], T0 + 1), snap([wrong]), CONFIG, opts)).toThrow(expect.objectContaining({ code: 'CONSENSUS_ACTIVATION_MISMATCH' }));
  });

  it('refuses to derive from a home view older than the scheduling margin, or one behind the chain', () => {
    const s = snap();
    let err: unknown;
    try {
      deriveHeight(start(), blk(101, []), s, CONFIG, { now: T0 + 3601 });
    } catch (e) {
      err = e;
    }
    expect(isBridgeError(err, 'CONSENSUS_HOME_VIEW_STALE')).toBe(true);
    expect(() => deriveHeight(start(), blk(101, [], T0 + 3601), s, CONFIG, { now: T0 })).toThrow(expect.objectContaining({ code: 'CONSENSUS_HOME_VIEW_BEHIND_CHAIN' }));
    expect(() => deriveHeight(start(), blk(102, []), s, CONFIG, opts)).toThrow(expect.objectContaining({ code: 'CONSENSUS_HEIGHT_OUT_OF_ORDER' }));
    // exactly at the margin is still fresh
    expect(deriveHeight(start(), blk(101, [], T0 + 3600), s, CONFIG, { now: T0 + 3600 }).height).toBe(101);
  });
});

// ---- property: independent validators derive identical bytes ----

type TxSpec =
  | { kind: 'deposit'; amount: number; p2sh: boolean; meta: 'mint' | 'none' | 'refund' | 'zero' }
  | { kind: 'spend'; pick: number; change: boolean; tag: number | null }
  | { kind: 'other' };

const txSpec: fc.Arbitrary<TxSpec> = fc.oneof(
  fc.record({ kind: fc.constant('deposit' as const), amount: fc.integer({ min: 1_000, max: 200_000 }), p2sh: fc.boolean(), meta: fc.constantFrom('mint' as const, 'none' as const, 'refund' as const, 'zero' as const) }),
  fc.record({ kind: fc.constant('spend' as const), pick: fc.nat(), change: fc.boolean(), tag: fc.option(fc.nat({ max: 1000 })) }),
  fc.constant({ kind: 'other' as const }),
);

/** Builds the blocks from specs; spends pick from the ledger as the first validator derives it. */
function buildChain(specs: TxSpec[][], seed: number): { blocks: ObservedBlock[]; finalBytes: string[] } {
  let st = start();
  const blocks: ObservedBlock[] = [];
  const bytes: string[] = [];
  specs.forEach((txs, i) => {
    const h = 101 + i;
    const built = txs.map((sp, j) => {
      const fresh = { hash: randomHash(`p-${seed}-${h}-${j}`), index: j };
      if (sp.kind === 'deposit') {
        const outs: Out[] = [{ script: sp.p2sh ? e0.script.p2shP2wshOutput : e0.script.p2wshOutput, value: BigInt(sp.amount) }];
        if (sp.meta === 'mint') outs.push(depositMeta(alice));
        if (sp.meta === 'refund') outs.push(depositMeta(new Uint8Array(20), P2WPKH(9)));
        if (sp.meta === 'zero') outs.push(depositMeta(new Uint8Array(20)));
        return tx([fresh], outs);
      }
      if (sp.kind === 'spend') {
        const keys = [...st.ledger.keys()].sort();
        const k = keys[sp.pick % Math.max(keys.length, 1)];
        if (k === undefined) return tx([fresh], [{ script: P2WPKH(4), value: 1n }]);
        const [txid, vout] = k.split(':');
        const outs: Out[] = [{ script: sp.change ? e0.script.p2wshOutput : P2WPKH(5), value: 1_000n }];
        if (sp.tag !== null) outs.push(payoutTag(BigInt(sp.tag)));
        return tx([{ hash: Uint8Array.from(Buffer.from(txid!, 'hex').reverse()), index: Number(vout) }], outs);
      }
      return tx([fresh], [{ script: P2WPKH(6), value: 2n }]);
    });
    const b = blk(h, built);
    blocks.push(b);
    const d = deriveHeight(st, b, snap(), CONFIG, opts);
    if (d.block) bytes.push(toHex(d.block.headerBytes) + toHex(d.block.decisionHash) + d.block.messages.map(toHex).join(''));
    st = d.state;
  });
  return { blocks, finalBytes: bytes };
}

describe('derivation determinism (property)', () => {
  it('two independently built validator states derive identical bytes, whatever order the home data and ledger arrived in', () => {
    fc.assert(
      fc.property(fc.array(fc.array(txSpec, { maxLength: 5 }), { minLength: 1, maxLength: 8 }), fc.integer(), fc.nat({ max: 7 }), (specs, seed, restartAt) => {
        const { blocks, finalBytes } = buildChain(specs, seed);
        // Validator B: epochs listed in another order, validators given shuffled to the sorter, state
        // serialised and restored mid-way (a restart), ledger rebuilt from JSON in reverse order.
        const e1 = epochOf(1, vals2, T0 + 1e9);
        const sB: HomeSnapshot = { viewTime: T0 - 5, schedulingMarginSeconds: 3600, epochs: [e1, epochOf(0, [...vals].reverse(), 0, 100)] };
        let st = start();
        const bytes: string[] = [];
        blocks.forEach((b, i) => {
          if (i === restartAt) {
            const j = derivationStateToJson(st);
            j.ledger.reverse();
            st = derivationStateFromJson(JSON.parse(JSON.stringify(j)) as typeof j);
          }
          const d = deriveHeight(st, b, sB, CONFIG, opts);
          if (d.block) bytes.push(toHex(d.block.headerBytes) + toHex(d.block.decisionHash) + d.block.messages.map(toHex).join(''));
          st = d.state;
        });
        expect(bytes).toEqual(finalBytes);
      }),
      { numRuns: 60 },
    );
  });
});

import { Transaction } from 'bitcoinjs-lib';
import { describe, expect, it } from 'vitest';
import { buildPayout, buildSweep, bumpPayoutFee, DEFAULT_PAYOUT_LIMITS, type FederationUtxo, type PayoutPlan } from '../../../../src/chains/bitcoin/payout.js';
import { federationScript, type FederationScript } from '../../../../src/chains/bitcoin/scripts.js';
import { bytesToHex } from '../../../../src/chains/bitcoin/bytes.js';
import { feeFor } from '../../../../src/chains/bitcoin/weight.js';
import { outpointKey, type LedgerEntry } from '../../../../src/consensus/ledger.js';
import { isBridgeError } from '../../../../src/errors.js';
import { rederiveVersion } from '../../../../src/node/validator/payouts/rederive.js';
import { parseFederationScript } from '../../../../src/node/validator/payouts/script-parse.js';
import type { BatchView, VersionTxView } from '../../../../src/node/validator/payouts/types.js';
import { P2WPKH, epochOf, randomHash, validators } from '../../../consensus/fixtures.js';

const vals = validators(4, 'rederive');
const e0 = epochOf(0, vals, 0, 100).script;
const e1 = epochOf(1, vals.slice(0, 3), 0, 200).script;
const scripts = new Map<number, FederationScript>([[0, e0], [1, e1]]);
const hex = (tag: string): string => bytesToHex(randomHash(tag));

const reserve: FederationUtxo = { txid: hex('r'), vout: 0, amountSats: 200_000n, height: 110, script: e1, kind: 'p2wsh' };
const deposits: FederationUtxo[] = [
  { txid: hex('d1'), vout: 1, amountSats: 150_000n, height: 120, script: e0, kind: 'p2sh-p2wsh' },
  { txid: hex('d2'), vout: 0, amountSats: 90_000n, height: 105, script: e1, kind: 'p2wsh' },
  { txid: hex('d3'), vout: 2, amountSats: 70_000n, height: 120, script: e1, kind: 'p2sh-p2wsh' },
];
const withdrawals = [
  { id: 7n, amountSats: 120_000n, outputScript: P2WPKH(1) },
  { id: 5n, amountSats: 60_000n, outputScript: P2WPKH(2) },
  { id: 9n, amountSats: 30_000n, outputScript: Uint8Array.of(0xa9, 0x14, ...new Uint8Array(20).fill(3), 0x87) },
];
const limits = { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 2_000n };
const plan = buildPayout({ batchId: 4n, reserve, deposits, withdrawals, changeScript: e1, limits });

function viewOf(p: PayoutPlan, over: Partial<BatchView> = {}): BatchView {
  return {
    batchId: p.batchId,
    kind: 'payout',
    latestVersion: 0n,
    approvedVersion: undefined,
    confirmed: false,
    changeEpoch: 1,
    feeRateCandidates: [2_000n],
    versionFees: [p.feeSats],
    inputs: p.inputs.map((u) => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind })),
    withdrawals: p.paid.map((w) => w.withdrawal).reverse(),
    closedAtBlock: 1,
    ...over,
  };
}
const txOf = (t: Transaction): VersionTxView => ({ txid: t.getId(), unsignedTx: t.toBuffer() });
const ledger = new Map<string, LedgerEntry>([reserve, ...deposits].map((u) => [outpointKey(u.txid, u.vout), { amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind, height: u.height }]));
const lookup = (k: string): LedgerEntry | undefined => ledger.get(k);
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return isBridgeError(e) ? e.code : String(e);
  }
};

describe('re-derivation of a closed batch from the contract view', () => {
  it('matches the contract transaction byte for byte, P2SH-P2WSH inputs (scriptSig in the txid) included', () => {
    expect(plan.inputs.map((u) => u.kind)).toContain('p2sh-p2wsh');
    const r = rederiveVersion({ view: viewOf(plan), version: 0n, contractTx: txOf(plan.tx!), scripts });
    expect(r.txid).toBe(plan.txid);
    expect(r.tx.toHex()).toBe(plan.tx!.toHex());
    expect(r.tx.ins.some((i) => i.script.length === 35)).toBe(true);
    // with the node's ledger: heights give the canonical order and it still matches
    const r2 = rederiveVersion({ view: viewOf(plan), version: 0n, contractTx: txOf(plan.tx!), scripts, ledger: lookup });
    expect(r2.inputs.map((u) => u.height)).toEqual([110, 105, 120, 120]);
  });

  it('matches a payout without a reserve and a fee-bumped version', () => {
    const p = buildPayout({ batchId: 1n, reserve: undefined, deposits, withdrawals, changeScript: e0, limits });
    const v = viewOf(p, { changeEpoch: 0 });
    expect(rederiveVersion({ view: v, version: 0n, contractTx: txOf(p.tx!), scripts, ledger: lookup }).txid).toBe(p.txid);
    const b1 = bumpPayoutFee({ plan: p, feeRateSatPerKvB: 5_000n, maxExtraFeeSats: 100_000n });
    const b2 = bumpPayoutFee({ plan: b1, feeRateSatPerKvB: 5_000n, maxExtraFeeSats: 100_000n });
    const vb = { ...v, latestVersion: 2n, versionFees: [p.feeSats, b1.feeSats, b2.feeSats] };
    expect(rederiveVersion({ view: vb, version: 2n, contractTx: txOf(b2.tx!), scripts }).txid).toBe(b2.txid);
    expect(rederiveVersion({ view: vb, version: 1n, contractTx: txOf(b1.tx!), scripts }).txid).toBe(b1.txid);
    // version 2 claimed with version 1's bytes
    expect(code(() => rederiveVersion({ view: vb, version: 2n, contractTx: txOf(b1.tx!), scripts }))).toBe('PAYOUT_TX_MISMATCH');
    // the fee rate of version 0 is found among the candidates (the rate may have changed in the closing block)
    expect(rederiveVersion({ view: { ...v, feeRateCandidates: [7_000n, 2_000n] }, version: 0n, contractTx: txOf(p.tx!), scripts }).txid).toBe(p.txid);
    expect(code(() => rederiveVersion({ view: { ...v, feeRateCandidates: [7_000n] }, version: 0n, contractTx: txOf(p.tx!), scripts }))).toBe('PAYOUT_TX_MISMATCH');
    // a bump below the BIP-125 increment, one above the node's fee policy, one that leaves dust change
    const tooSmall = { ...vb, latestVersion: 1n, versionFees: [p.feeSats, p.feeSats + 1n] };
    expect(code(() => rederiveVersion({ view: tooSmall, version: 1n, contractTx: txOf(b1.tx!), scripts }))).toBe('PAYOUT_REDERIVATION_FAILED');
    expect(code(() => rederiveVersion({ view: vb, version: 1n, contractTx: txOf(b1.tx!), scripts, maxBumpFeeRateSatPerKvB: 3_000n }))).toBe('PAYOUT_REDERIVATION_FAILED');
    const dust = { ...vb, latestVersion: 1n, versionFees: [p.feeSats, p.feeSats + p.changeSats] };
    expect(code(() => rederiveVersion({ view: dust, version: 1n, contractTx: txOf(b1.tx!), scripts }))).toBe('PAYOUT_REDERIVATION_FAILED');
  });

  it('a rate recovered from the estimate (floor(1000 × estFee / vsize), what the adapter offers) builds the same bytes', () => {
    for (const rate of [1_000n, 1_337n, 2_000n, 9_999n, 25_000n]) {
      const p = buildPayout({ batchId: 9n, reserve, deposits, withdrawals, changeScript: e1, limits: { ...limits, feeRateSatPerKvB: rate } });
      const estFee = feeFor(p.estimatedVsize, rate);
      const recovered = (1000n * estFee) / BigInt(p.estimatedVsize);
      const v = { ...viewOf(p), feeRateCandidates: [recovered], versionFees: [p.feeSats] };
      expect(rederiveVersion({ view: v, version: 0n, contractTx: txOf(p.tx!), scripts }).txid).toBe(p.txid);
    }
  });

  it('matches a sweep', () => {
    const s = buildSweep({ batchId: 3n, utxos: deposits.filter((d) => d.script === e1), toScript: e0, limits, maxFeeSats: 10_000n });
    const v: BatchView = { ...viewOf(plan), batchId: 3n, kind: 'sweep', changeEpoch: 0, withdrawals: [], inputs: s.inputs.map((u) => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, epoch: 1, kind: u.kind })) };
    expect(rederiveVersion({ view: v, version: 0n, contractTx: { txid: s.txid, unsignedTx: s.tx.toBuffer() }, scripts, ledger: lookup }).txid).toBe(s.txid);
  });

  it('matches a sweep as closeSweep orders it: the reserve first although it is the newest input, then the old deposits in UTXO order', () => {
    // after a rotation the reserve is the change of the last payout (newest), the old deposits predate it
    const newest: FederationUtxo = { ...reserve, height: 130 };
    const d4: FederationUtxo = { txid: hex('d4'), vout: 3, amountSats: 80_000n, height: 100, script: e0, kind: 'p2wsh' };
    const old = [deposits[0]!, d4];
    const sweepLedger = new Map<string, LedgerEntry>([newest, ...old].map((u) => [outpointKey(u.txid, u.vout), { amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind, height: u.height }]));
    // buildSweep alone puts the reserve last (UTXO order): the contract's transaction has it first
    const s = buildSweep({ batchId: 6n, utxos: [newest, ...old], toScript: e1, limits, maxFeeSats: 10_000n });
    expect(s.inputs.map((u) => u.txid)).toEqual([d4.txid, deposits[0]!.txid, newest.txid]);
    const contractTx = s.tx.clone();
    contractTx.ins = [s.tx.ins[2]!, s.tx.ins[0]!, s.tx.ins[1]!];
    const inputView = (u: FederationUtxo): BatchView['inputs'][number] => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind });
    const v: BatchView = { ...viewOf(plan), batchId: 6n, kind: 'sweep', changeEpoch: 1, withdrawals: [], versionFees: [s.feeSats], feeRateCandidates: [(1000n * s.feeSats) / BigInt(s.estimatedVsize)], inputs: [newest, d4, deposits[0]!].map(inputView) };
    const r = rederiveVersion({ view: v, version: 0n, contractTx: txOf(contractTx), scripts, ledger: (k) => sweepLedger.get(k) });
    expect(r.txid).toBe(contractTx.getId());
    // the inputs keep the ledger's data (the reserve's real height and script): what signing takes
    expect(r.inputs.map((u) => [u.txid, u.height, u.script.epoch])).toEqual([[newest.txid, 130, 1], [d4.txid, 100, 0], [deposits[0]!.txid, 120, 0]]);
    // the old deposits out of UTXO order behind the reserve: refused
    const wrong = s.tx.clone();
    wrong.ins = [s.tx.ins[2]!, s.tx.ins[1]!, s.tx.ins[0]!];
    const vWrong = { ...v, inputs: [newest, deposits[0]!, d4].map(inputView) };
    expect(code(() => rederiveVersion({ view: vWrong, version: 0n, contractTx: txOf(wrong), scripts, ledger: (k) => sweepLedger.get(k) }))).toBe('PAYOUT_TX_MISMATCH');
  });

  it('refuses any byte difference: an output value, a sequence, the locktime, a scriptSig, the input order', () => {
    const mutate = (f: (t: Transaction) => void): VersionTxView => {
      const t = plan.tx!.clone();
      f(t);
      return txOf(t);
    };
    const cases: VersionTxView[] = [
      mutate((t) => (t.outs[1]!.value += 1n)),
      mutate((t) => (t.outs[0]!.value -= 1n)),
      mutate((t) => (t.ins[0]!.sequence = 0xffffffff)),
      mutate((t) => (t.locktime = 1)),
      mutate((t) => (t.ins.find((i) => i.script.length > 0)!.script = new Uint8Array(0))),
      mutate((t) => ([t.ins[1], t.ins[2]] = [t.ins[2]!, t.ins[1]!])),
    ];
    for (const c of cases) expect(code(() => rederiveVersion({ view: viewOf(plan), version: 0n, contractTx: c, scripts }))).toBe('PAYOUT_TX_MISMATCH');
    // a txid that does not belong to the bytes
    expect(code(() => rederiveVersion({ view: viewOf(plan), version: 0n, contractTx: { txid: hex('other'), unsignedTx: plan.tx!.toBuffer() }, scripts }))).toBe('PAYOUT_TX_MISMATCH');
  });

  it('refuses a view whose inputs the ledger contradicts, defers unknown inputs, refuses a wrong input order', () => {
    const v = viewOf(plan);
    const wrongAmount = { ...v, inputs: v.inputs.map((i, k) => (k === 1 ? { ...i, amountSats: i.amountSats + 1n } : i)) };
    expect(code(() => rederiveVersion({ view: wrongAmount, version: 0n, contractTx: txOf(plan.tx!), scripts, ledger: lookup }))).toBe('PAYOUT_INPUT_MISMATCH');
    const wrongKind = { ...v, inputs: v.inputs.map((i) => ({ ...i, kind: 'p2wsh' as const })) };
    expect(code(() => rederiveVersion({ view: wrongKind, version: 0n, contractTx: txOf(plan.tx!), scripts, ledger: lookup }))).toBe('PAYOUT_INPUT_MISMATCH');
    expect(code(() => rederiveVersion({ view: v, version: 0n, contractTx: txOf(plan.tx!), scripts, ledger: () => undefined }))).toBe('PAYOUT_INPUT_UNKNOWN');
    // The contract orders the deposits differently (and its tx follows its own order): the node's heights say otherwise.
    const swapped = [plan.inputs[0]!, plan.inputs[2]!, plan.inputs[1]!, plan.inputs[3]!];
    const t = plan.tx!.clone();
    [t.ins[1], t.ins[2]] = [t.ins[2]!, t.ins[1]!];
    const vs = { ...v, inputs: swapped.map((u) => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind })) };
    expect(code(() => rederiveVersion({ view: vs, version: 0n, contractTx: txOf(t), scripts, ledger: lookup }))).toBe('PAYOUT_TX_MISMATCH');
  });

  it('refuses withdrawals the builder would not pay, a missing epoch script, and a missing fee rate', () => {
    const v = viewOf(plan);
    // one more withdrawal that ends below dust after its fee share: the builder would refund it, not pay it
    const dust = { ...v, withdrawals: [...v.withdrawals, { id: 11n, amountSats: 547n, outputScript: P2WPKH(4) }] };
    expect(code(() => rederiveVersion({ view: dust, version: 0n, contractTx: txOf(plan.tx!), scripts }))).toBe('PAYOUT_REDERIVATION_FAILED');
    // one more payable withdrawal the contract's transaction does not pay
    const extra = { ...v, withdrawals: [...v.withdrawals, { id: 11n, amountSats: 5_000n, outputScript: P2WPKH(4) }] };
    expect(code(() => rederiveVersion({ view: extra, version: 0n, contractTx: txOf(plan.tx!), scripts }))).toBe('PAYOUT_TX_MISMATCH');
    expect(code(() => rederiveVersion({ view: v, version: 0n, contractTx: txOf(plan.tx!), scripts: new Map([[0, e0]]) }))).toBe('PAYOUT_VIEW_INCOMPLETE');
    expect(code(() => rederiveVersion({ view: { ...v, latestVersion: 1n }, version: 1n, contractTx: txOf(plan.tx!), scripts }))).toBe('PAYOUT_VIEW_INCOMPLETE');
    expect(code(() => rederiveVersion({ view: { ...v, feeRateCandidates: [] }, version: 0n, contractTx: txOf(plan.tx!), scripts }))).toBe('PAYOUT_VIEW_INCOMPLETE');
  });
});

describe('federation script parsing', () => {
  it('round-trips multisig and thresh scripts with their epoch', () => {
    for (const s of [e0, e1]) expect(parseFederationScript(s.witnessScript, s.epoch).witnessScript).toEqual(s.witnessScript);
    const big = validators(17, 'rederive-thresh');
    const t = federationScript({ keys: big.map((v) => v.key.publicKey), threshold: 9, epoch: 300 });
    expect(t.template).toBe('thresh');
    const parsed = parseFederationScript(t.witnessScript, 300);
    expect(parsed.keys).toHaveLength(17);
    expect(parsed.threshold).toBe(9);
  });

  it('refuses another epoch, unsorted keys and foreign scripts', () => {
    expect(code(() => parseFederationScript(e0.witnessScript, 1))).toBe('PAYOUT_BAD_EPOCH_SCRIPT');
    const ws = Uint8Array.from(e0.witnessScript);
    // swap the first two keys (after `OP_0 OP_DROP <m>`: keys start at byte 3, 34 bytes per push)
    const k1 = ws.slice(3, 37);
    ws.set(ws.slice(37, 71), 3);
    ws.set(k1, 37);
    expect(code(() => parseFederationScript(ws, 0))).toBe('PAYOUT_BAD_EPOCH_SCRIPT');
    expect(code(() => parseFederationScript(P2WPKH(1)))).toBe('PAYOUT_BAD_EPOCH_SCRIPT');
  });
});

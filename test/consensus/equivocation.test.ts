import { describe, expect, it } from 'vitest';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { toHex } from '../../src/chains/btp/bytes.js';
import { buildPayout, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { assemblePayout, payoutSighashes, signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import { bip143Digest } from '../../src/chains/bitcoin/sighash.js';
import { evidenceFromSignature, findUnapprovedSpendEvidence, verifyBitcoinEquivocation } from '../../src/consensus/equivocation.js';
import { outpointKey, type LedgerEntry } from '../../src/consensus/ledger.js';
import { P2WPKH, epochOf, randomHash, validators } from './fixtures.js';

const vals = validators(3, 'equiv');
const e0 = epochOf(0, vals, 0, 100);
const utxo = (tag: string, amount: bigint, height: number): FederationUtxo => ({ txid: Buffer.from(randomHash(tag)).toString('hex'), vout: 0, amountSats: amount, height, script: e0.script, kind: 'p2wsh' });
const inputs = [utxo('eq-a', 300_000n, 100), utxo('eq-b', 200_000n, 101)];
const plan = buildPayout({ batchId: 5n, reserve: inputs[0], deposits: [inputs[1]!], withdrawals: [{ id: 1n, amountSats: 100_000n, outputScript: P2WPKH(1) }], changeScript: e0.script, limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 1_000n } });
const ledger = new Map<string, LedgerEntry>(plan.inputs.map((u) => [outpointKey(u.txid, u.vout), { amountSats: u.amountSats, epoch: 0, kind: u.kind, height: u.height }]));
const sighashes = payoutSighashes(plan.tx!, plan.inputs).map(toHex);
const signers = [0, 2];

function signed() {
  const collected = new Map<number, Map<number, Uint8Array>>();
  for (const i of signers) {
    for (const s of signPayoutInputs(plan.tx!, plan.inputs, vals[i]!.key.privateKey)) {
      if (!collected.has(s.inputIndex)) collected.set(s.inputIndex, new Map());
      collected.get(s.inputIndex)!.set(s.keyIndex, s.signature.der);
    }
  }
  return assemblePayout(plan.tx!, plan.inputs, collected);
}

const ctx = (approved: string[]) => ({
  isApprovedSighash: (h: Uint8Array) => approved.includes(toHex(h)),
  isFederationOutpoint: (txid: string, vout: number) => ledger.has(outpointKey(txid, vout)),
});

describe('Bitcoin equivocation evidence', () => {
  it('finds every validator signature of a federation spend no closed batch produced, and the evidence verifies', () => {
    const tx = signed();
    const ev = findUnapprovedSpendEvidence(tx, ledger, () => e0.script, () => false, nobleBackend);
    expect(ev).toHaveLength(signers.length * plan.inputs.length);
    const keys = new Set(ev.map((e) => toHex(e.validatorKey)));
    expect(keys).toEqual(new Set(signers.map((i) => toHex(vals[i]!.key.publicKey))));
    for (const e of ev) expect(verifyBitcoinEquivocation(e, ctx([]), nobleBackend)).toBe(true);
    // The contract's view decides: an approved sighash is no evidence.
    expect(verifyBitcoinEquivocation(ev[0]!, ctx(sighashes), nobleBackend)).toBe(false);
    expect(findUnapprovedSpendEvidence(tx, ledger, () => e0.script, (h) => sighashes.includes(toHex(h)), nobleBackend)).toEqual([]);
    // Tampering with the preimage or naming another key breaks it.
    const bad = Uint8Array.from(ev[0]!.preimage);
    bad[bad.length - 20] = bad[bad.length - 20]! ^ 1;
    expect(verifyBitcoinEquivocation({ ...ev[0]!, preimage: bad }, ctx([]), nobleBackend)).toBe(false);
    expect(verifyBitcoinEquivocation({ ...ev[0]!, validatorKey: vals[1]!.key.publicKey }, ctx([]), nobleBackend)).toBe(false);
    // An outpoint that is not the federation's is not evidence.
    expect(verifyBitcoinEquivocation(ev[0]!, { ...ctx([]), isFederationOutpoint: () => false }, nobleBackend)).toBe(false);
  });

  it('accepts a gossiped signature with its preimage as evidence only when it is valid and unapproved', () => {
    const d = bip143Digest(plan.tx!, 0, e0.script.witnessScript, plan.inputs[0]!.amountSats);
    const s = signPayoutInputs(plan.tx!, plan.inputs, vals[1]!.key.privateKey)[0]!;
    const sig65 = Uint8Array.of(...s.signature.compact, s.signature.recovery);
    expect(evidenceFromSignature(d.preimage, sig65, vals[1]!.key.publicKey, ctx([]), nobleBackend)).toBeDefined();
    expect(evidenceFromSignature(d.preimage, sig65, vals[0]!.key.publicKey, ctx([]), nobleBackend)).toBeUndefined();
    expect(evidenceFromSignature(d.preimage, sig65, vals[1]!.key.publicKey, ctx([toHex(d.sighash)]), nobleBackend)).toBeUndefined();
    expect(evidenceFromSignature(d.preimage.subarray(1), sig65, vals[1]!.key.publicKey, ctx([]), nobleBackend)).toBeUndefined();
  });
});

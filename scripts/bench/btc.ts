/**
 * `npm run bench:btc`: size and fee of federation payouts.
 * For 8-of-15 (multisig) and 34-of-67 (thresh) scripts, batches of 1, 10, 50
 * and 100 P2WPKH withdrawals spending one reserve P2WSH input are built,
 * signed by a quorum and measured (real signatures, real witness bytes), and
 * the vbytes one more deposit input adds are measured the same way.
 * Writes bench/results/btc.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { payments } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { federationScript, type FederationScript } from '../../src/chains/bitcoin/scripts.js';
import { buildPayout, type FederationUtxo, type PayoutPlan, type Withdrawal } from '../../src/chains/bitcoin/payout.js';
import { bip143Sighash } from '../../src/chains/bitcoin/sighash.js';
import { signSighash } from '../../src/chains/bitcoin/signer.js';
import { assembleWitness } from '../../src/chains/bitcoin/witness.js';
import { finalizeTransaction } from '../../src/chains/bitcoin/witness.js';
import type { FederationOutputKind } from '../../src/chains/bitcoin/weight.js';

const FEE_RATE_SAT_PER_KVB = 10_000n; // 10 sat/vB
const BATCHES = [1, 10, 50, 100] as const;
const GOAL_VB_PER_WITHDRAWAL_AT_50 = 40;

interface Federation {
  label: '8-of-15' | '34-of-67';
  script: FederationScript;
  privateKeys: Uint8Array[]; // script order
}

function federation(label: Federation['label'], m: number, n: number): Federation {
  const keys = Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`bench/${label}/${i}`)));
  const script = federationScript({ keys: keys.map((k) => secp256k1.getPublicKey(k, true)), threshold: m, epoch: 1 });
  const privateKeys = script.keys.map((pk) => keys.find((k) => Buffer.from(secp256k1.getPublicKey(k, true)).equals(Buffer.from(pk)))!);
  return { label, script, privateKeys };
}

function utxo(f: Federation, i: number, kind: FederationOutputKind): FederationUtxo {
  return { txid: Buffer.from(sha256(Uint8Array.of(i))).toString('hex'), vout: 0, amountSats: 10_000_000_000n, height: 1000 + i, script: f.script, kind };
}

function withdrawals(count: number): Withdrawal[] {
  return Array.from({ length: count }, (_, i) => ({
    id: BigInt(i + 1),
    amountSats: 1_000_000n,
    outputScript: payments.p2wpkh({ hash: sha256(Uint8Array.of(i, i >> 8)).slice(0, 20) }).output!,
  }));
}

/** Signs every input with the first m keys and returns the final transaction's vsize. */
function signedVsize(f: Federation, plan: PayoutPlan): number {
  const tx = plan.tx!;
  const witnesses = plan.inputs.map((u, i) => {
    const sighash = bip143Sighash(tx, i, u.script.witnessScript, u.amountSats);
    const sigs = new Map(f.privateKeys.slice(0, f.script.threshold).map((k, j) => [j, signSighash(sighash, k).der] as const));
    return assembleWitness(u.script, sigs);
  });
  return finalizeTransaction(tx, witnesses).virtualSize();
}

function plan(f: Federation, count: number, deposits: FederationUtxo[]): PayoutPlan {
  return buildPayout({
    batchId: 1n,
    reserve: utxo(f, 0, 'p2wsh'),
    deposits,
    withdrawals: withdrawals(count),
    changeScript: f.script,
    limits: { feeRateSatPerKvB: FEE_RATE_SAT_PER_KVB, maxInputs: 10, maxWithdrawals: 1000, maxWeight: 400_000 },
  });
}

interface Row {
  script: Federation['label'];
  withdrawals: number;
  vbytes: number;
  vbytesPerWithdrawal: number;
  estimatedVbytes: number;
  feeSats: number;
  feeSatsPerWithdrawal: number;
  extraDepositInputVbytes: { p2wsh: number; p2shP2wsh: number };
}

const rows: Row[] = [];
for (const f of [federation('8-of-15', 8, 15), federation('34-of-67', 34, 67)]) {
  const base = signedVsize(f, plan(f, 10, []));
  const extra = {
    p2wsh: signedVsize(f, plan(f, 10, [utxo(f, 1, 'p2wsh')])) - base,
    p2shP2wsh: signedVsize(f, plan(f, 10, [utxo(f, 1, 'p2sh-p2wsh')])) - base,
  };
  for (const b of BATCHES) {
    const p = plan(f, b, []);
    if (p.paid.length !== b) throw new Error(`batch ${b} did not fit`);
    const vbytes = signedVsize(f, p);
    rows.push({
      script: f.label,
      withdrawals: b,
      vbytes,
      vbytesPerWithdrawal: Math.round((vbytes / b) * 100) / 100,
      estimatedVbytes: p.estimatedVsize,
      feeSats: Number(p.feeSats),
      feeSatsPerWithdrawal: Math.round(Number(p.feeSats) / b),
      extraDepositInputVbytes: extra,
    });
  }
}

const out = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results/btc.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(rows, null, 2) + '\n');

console.log(`fee rate ${Number(FEE_RATE_SAT_PER_KVB) / 1000} sat/vB; signed with a quorum of real low-S signatures; one reserve P2WSH input`);
console.table(rows.map((r) => ({ script: r.script, withdrawals: r.withdrawals, vbytes: r.vbytes, 'vB/withdrawal': r.vbytesPerWithdrawal, 'estimated vB': r.estimatedVbytes, 'fee sat/withdrawal': r.feeSatsPerWithdrawal })));
console.table(Object.fromEntries([...new Set(rows.map((r) => r.script))].map((s) => [s, rows.find((r) => r.script === s)!.extraDepositInputVbytes])));
const at50 = rows.find((r) => r.script === '8-of-15' && r.withdrawals === 50)!;
console.log(`goal ≤ ${GOAL_VB_PER_WITHDRAWAL_AT_50} vB/withdrawal at batch 50 with 8-of-15: ${at50.vbytesPerWithdrawal} → ${at50.vbytesPerWithdrawal <= GOAL_VB_PER_WITHDRAWAL_AT_50 ? 'met' : 'MISSED'}`);
console.log(`wrote ${out}`);

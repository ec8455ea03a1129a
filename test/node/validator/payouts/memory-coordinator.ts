import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Transaction } from 'bitcoinjs-lib';
import { buildPayout, bumpPayoutFee, DEFAULT_PAYOUT_LIMITS, type FederationUtxo, type PayoutPlan, type Withdrawal } from '../../../../src/chains/bitcoin/payout.js';
import { payoutSighashes } from '../../../../src/chains/bitcoin/payout-signing.js';
import { concatBytes, equalBytes } from '../../../../src/chains/bitcoin/bytes.js';
import type { FederationScript } from '../../../../src/chains/bitcoin/scripts.js';
import type { SubmissionHandle, SubmitRequest } from '../../../../src/chains/ethereum/sender/sender.js';
import type { SubmissionRecord } from '../../../../src/chains/ethereum/sender/store.js';
import { addressOfKey } from '../../../../src/node/validator/payouts/sigs.js';
import type { BatchView, EncodedCall, KeeperView, PayoutContract, VersionTxView, WitnessRecord, WitnessSig } from '../../../../src/node/validator/payouts/types.js';

/**
 * An in-memory stand-in for the PayoutCoordinator, for the pipeline's
 * state-machine tests (the real contract is exercised by the EVM test): one
 * batch in flight, payouts built with the protocol builder, `WitnessSig`s
 * verified with one recovery each against the input's script key, quorum per
 * input, `BatchApproved` at quorum. Calls arrive as JSON "calldata" through
 * {@link MemorySender}.
 */
interface Batch {
  id: bigint;
  plans: PayoutPlan[];
  feeRates: bigint[];
  changeEpoch: number;
  approved: bigint | undefined;
  confirmed: boolean;
  /** Bytes the contract publishes per version (a faulty contract may publish other bytes). */
  published: Transaction[];
  records: WitnessRecord[];
  /** per version, per input: key indices recorded */
  have: Map<bigint, Set<number>[]>;
}

export class MemoryCoordinator implements PayoutContract {
  readonly address = '0x00000000000000000000000000000000000c0de1';
  readonly calls: { fn: string; from: string; args: unknown }[] = [];
  utxos: FederationUtxo[] = [];
  queue: Withdrawal[] = [];
  feeRate = 2_000n;
  bumpDue = false;
  /** Makes `closeBatch` publish altered bytes (a faulty or malicious contract). */
  tamper: ((t: Transaction) => void) | undefined;
  readonly batches = new Map<bigint, Batch>();
  nextBatchId = 1n;

  constructor(readonly scripts: Map<number, FederationScript>, readonly currentEpoch: number) {}

  // ---- PayoutContract (views) ----
  async keeperView(): Promise<KeeperView> {
    const inFlight = [...this.batches.values()].find((b) => !b.confirmed)?.id;
    return { inFlight, nextBatchId: this.nextBatchId, queuedWithdrawals: this.queue.length, importBacklog: this.pendingHeights.length, importedHeights: this.importedHeights, closeDue: inFlight === undefined && this.queue.length > 0 && this.pendingHeights.length === 0, bumpDue: this.bumpDue && inFlight !== undefined };
  }

  async batch(id: bigint): Promise<BatchView | undefined> {
    const b = this.batches.get(id);
    if (b === undefined) return undefined;
    const p = b.plans[0]!;
    return {
      batchId: id, kind: 'payout', latestVersion: BigInt(b.plans.length - 1), approvedVersion: b.approved, confirmed: b.confirmed,
      changeEpoch: b.changeEpoch, feeRateCandidates: [b.feeRates[0]!], versionFees: b.plans.map((p) => p.feeSats), closedAtBlock: 1,
      inputs: p.inputs.map((u) => ({ txid: u.txid, vout: u.vout, amountSats: u.amountSats, epoch: u.script.epoch!, kind: u.kind })),
      withdrawals: p.paid.map((w) => w.withdrawal),
    };
  }

  async versionTx(id: bigint, version: bigint): Promise<VersionTxView> {
    const t = this.batches.get(id)!.published[Number(version)]!;
    return { txid: t.getId(), unsignedTx: t.toBuffer() };
  }

  /** Makes `sighashes` report other hashes than the published transaction's (a faulty contract). */
  tamperSighashes = false;

  async sighashes(id: bigint, version: bigint): Promise<Uint8Array[]> {
    const b = this.batches.get(id)!;
    const hs = payoutSighashes(b.published[Number(version)]!, b.plans[0]!.inputs);
    if (this.tamperSighashes) hs[0] = new Uint8Array(32).fill(9);
    return hs;
  }

  async epochScript(epoch: number): Promise<Uint8Array> {
    return this.scripts.get(epoch)!.witnessScript;
  }

  async witnessRecords(id: bigint): Promise<WitnessRecord[]> {
    return [...(this.batches.get(id)?.records ?? [])];
  }

  async depositHeights(from: number, max: number): Promise<{ height: number; count: number }[]> {
    return this.pendingHeights.slice(from - this.importedHeights, from - this.importedHeights + max).map((h) => ({ height: h.height, count: h.utxos.length }));
  }
  encodeImportDeposits(heights: readonly Uint8Array[]): EncodedCall {
    return { to: this.address, data: JSON.stringify({ fn: 'importDeposits', heights: heights.map(hexOf) }) };
  }
  encodeCloseBatch(): EncodedCall {
    return { to: this.address, data: JSON.stringify({ fn: 'closeBatch' }) };
  }
  encodeBumpFee(batchId: bigint): EncodedCall {
    return { to: this.address, data: JSON.stringify({ fn: 'bumpFee', batchId: batchId.toString() }) };
  }
  encodeSubmitSignatures(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall {
    return { to: this.address, data: JSON.stringify({ fn: 'submitSignatures', batchId: batchId.toString(), version: version.toString(), sigs: sigs.map(sigJson) }) };
  }
  encodeSubmitSignature(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall {
    return { to: this.address, data: JSON.stringify({ fn: 'submitSignature', batchId: batchId.toString(), version: version.toString(), sigs: sigs.map(sigJson) }) };
  }

  // ---- transactions ----
  execute(from: string, data: string): void {
    const c = JSON.parse(data) as { fn: string; batchId?: string; version?: string; sigs?: SigJson[] };
    this.calls.push({ fn: c.fn, from, args: c });
    if (c.fn === 'closeBatch') this.closeBatch();
    else if (c.fn === 'importDeposits') this.importDeposits((c as unknown as { heights: string[] }).heights);
    else if (c.fn === 'bumpFee') this.bumpFee(BigInt(c.batchId!));
    else this.submit(BigInt(c.batchId!), BigInt(c.version!), c.sigs!.map(sigFromJson), c.fn === 'submitSignature' ? from : undefined);
  }

  closeBatch(): void {
    if ([...this.batches.values()].some((b) => !b.confirmed)) throw new Error('BatchInFlight');
    const change = this.scripts.get(this.currentEpoch)!;
    const plan = buildPayout({ batchId: this.nextBatchId, reserve: undefined, deposits: this.utxos, withdrawals: this.queue, changeScript: change, limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: this.feeRate } });
    if (plan.tx === null) throw new Error('NothingToPay');
    const published = plan.tx.clone();
    this.tamper?.(published);
    this.batches.set(this.nextBatchId, { id: this.nextBatchId, plans: [plan], feeRates: [this.feeRate], changeEpoch: this.currentEpoch, approved: undefined, confirmed: false, published: [published], records: [], have: new Map() });
    const paid = new Set(plan.paid.map((w) => w.withdrawal.id));
    this.queue = this.queue.filter((w) => !paid.has(w.id));
    this.nextBatchId++;
  }

  /** Deposits recorded by the BSH at BTP heights, waiting for `importDeposits`. */
  pendingHeights: { height: number; utxos: FederationUtxo[] }[] = [];
  importedHeights = 0;

  /** The contract's check: per height, exactly its outpoints as `txid ‖ vout u32 BE`, strictly ascending. */
  importDeposits(blobs: string[]): void {
    blobs.forEach((hex, k) => {
      const h = this.pendingHeights[k]!;
      const expected = [...h.utxos]
        .map((u) => Buffer.concat([Buffer.from(u.txid, 'hex').reverse(), Buffer.from([0, 0, 0, u.vout])]))
        .sort(Buffer.compare)
        .map((b) => b.toString('hex'))
        .join('');
      if (hex !== expected) throw new Error(`ImportMismatch at ${h.height}`);
    });
    const done = this.pendingHeights.splice(0, blobs.length);
    for (const h of done) this.utxos.push(...h.utxos);
    this.importedHeights += blobs.length;
  }

  bumpFee(id: bigint): void {
    const b = this.batches.get(id)!;
    const rate = this.feeRate * 2n;
    const p = bumpPayoutFee({ plan: b.plans[b.plans.length - 1]!, feeRateSatPerKvB: rate, maxExtraFeeSats: 1_000_000n });
    b.plans.push(p);
    b.feeRates.push(rate);
    b.published.push(p.tx!.clone());
    this.bumpDue = false;
  }

  /** `submitter` set: one validator's own signatures (`submitSignature`); else many validators'. */
  submit(id: bigint, version: bigint, sigs: WitnessSig[], submitter: string | undefined): void {
    const b = this.batches.get(id)!;
    const plan = b.plans[Number(version)]!;
    const hashes = payoutSighashes(plan.tx!, plan.inputs);
    const have = b.have.get(version) ?? plan.inputs.map(() => new Set<number>());
    b.have.set(version, have);
    const byValidator = new Map<string, WitnessSig[]>();
    for (const s of sigs) {
      const key = plan.inputs[s.input]!.script.keys[s.keyIndex]!;
      const sig = new secp256k1.Signature(bytesToBig(s.r), bytesToBig(s.s)).addRecoveryBit(s.recid);
      const pub = sig.recoverPublicKey(hashes[s.input]!).toBytes(true);
      if (!equalBytes(pub, key)) throw new Error('BadSignature');
      const v = addressOfKey(key);
      if (submitter !== undefined && v !== submitter) throw new Error('NotYourSignature');
      if (have[s.input]!.has(s.keyIndex)) continue;
      have[s.input]!.add(s.keyIndex);
      byValidator.set(v, [...(byValidator.get(v) ?? []), s]);
    }
    for (const [validator, list] of byValidator) b.records.push({ batchId: id, version, validator, sigs: list });
    if ((b.approved === undefined || version > b.approved) && plan.inputs.every((u, i) => have[i]!.size >= u.script.threshold)) b.approved = version;
  }

  confirm(id: bigint): void {
    this.batches.get(id)!.confirmed = true;
  }
}

type SigJson = { input: number; keyIndex: number; recid: number; r: string; s: string };
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sigJson = (s: WitnessSig): SigJson => ({ input: s.input, keyIndex: s.keyIndex, recid: s.recid, r: hexOf(s.r), s: hexOf(s.s) });
const sigFromJson = (j: SigJson): WitnessSig => ({ input: j.input, keyIndex: j.keyIndex, recid: j.recid, r: Buffer.from(j.r, 'hex'), s: Buffer.from(j.s, 'hex') });
const bytesToBig = (b: Uint8Array): bigint => BigInt('0x' + hexOf(b));
export const sig65Of = (s: WitnessSig): Uint8Array => concatBytes(s.r, s.s, Uint8Array.of(s.recid));

/**
 * A TxSender stand-in with the real one's key semantics: one submission per
 * key, `alreadyDone` asked before "sending", the call applied to the
 * coordinator at once. Reverts are recorded, not thrown.
 */
export class MemorySender {
  readonly keys = new Map<string, SubmissionRecord['state']>();
  readonly reverts: { key: string; error: string }[] = [];

  constructor(readonly from: string, readonly coordinator: MemoryCoordinator) {}

  async submit(req: SubmitRequest): Promise<SubmissionHandle> {
    let state = this.keys.get(req.key);
    if (state === undefined) {
      if (req.alreadyDone && (await req.alreadyDone())) {
        state = 'skipped';
      } else {
        try {
          this.coordinator.execute(this.from, req.data!);
          state = 'confirmed';
        } catch (e) {
          state = 'reverted';
          this.reverts.push({ key: req.key, error: (e as Error).message });
        }
      }
      this.keys.set(req.key, state);
    }
    const record = { key: req.key, state } as SubmissionRecord;
    return { key: req.key, record: () => record, wait: async () => (state === 'reverted' ? Promise.reject(new Error('reverted')) : record) };
  }
}

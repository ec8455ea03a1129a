import { z } from 'zod';
import { BridgeError } from '../errors.js';
import type { SigningHalt } from './safety.js';
import { checkBatchVersion, checkPayout, type BtpSignEntry, type ClosedBatchVersion, type PayoutSignEntry } from './signlog-policy.js';

/**
 * The sign-log interchange format (`fednode signlog export|import`,
 * docs/CONSENSUS.md §4.3): one JSON document, versioned, every list sorted
 * so that equal logs export to equal bytes.
 */
export const SIGNLOG_FORMAT = 'fednode-signlog';
export const SIGNLOG_FORMAT_VERSION = 1;

export interface SignLogContents {
  readonly btp: readonly BtpSignEntry[];
  readonly batches: readonly ClosedBatchVersion[];
  readonly payouts: readonly PayoutSignEntry[];
  readonly halt: SigningHalt | undefined;
}

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const txid = z.string().regex(/^[0-9a-f]{64}$/);
const u64 = z.string().regex(/^(0|[1-9][0-9]{0,19})$/).refine((s) => BigInt(s) < 1n << 64n, 'u64');
const nat = z.number().int().nonnegative();

const schema = z.object({
  format: z.literal(SIGNLOG_FORMAT),
  version: z.literal(SIGNLOG_FORMAT_VERSION),
  btp: z.array(z.object({ height: nat, decisionHash: hex32, btcBlockHash: txid.optional(), signedAt: nat }).strict()),
  batches: z.array(
    z.object({ batchId: u64, txid, outpoints: z.array(z.string().regex(/^[0-9a-f]{64}:[0-9]+$/)).min(1), sighashes: z.array(hex32).min(1) }).strict(),
  ),
  payouts: z.array(z.object({ sighash: hex32, batchId: u64, txid, inputIndex: nat, signedAt: nat }).strict()),
  halt: z
    .object({ reason: z.enum(['reorg', 'operator']), height: nat, signedHeight: nat.optional(), detail: z.string().optional(), at: nat })
    .strict()
    .nullable(),
}).strict();

export type SignLogExport = z.infer<typeof schema>;

export function toExport(c: SignLogContents): SignLogExport {
  return {
    format: SIGNLOG_FORMAT,
    version: SIGNLOG_FORMAT_VERSION,
    // Explicit field order: equal logs export to equal bytes.
    btp: [...c.btp]
      .sort((a, b) => a.height - b.height)
      .map((e) => ({ height: e.height, decisionHash: e.decisionHash, ...(e.btcBlockHash !== undefined ? { btcBlockHash: e.btcBlockHash } : {}), signedAt: e.signedAt })),
    batches: [...c.batches]
      .sort((a, b) => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : a.txid < b.txid ? -1 : a.txid > b.txid ? 1 : 0))
      .map((v) => ({ batchId: v.batchId.toString(), txid: v.txid, outpoints: [...v.outpoints], sighashes: [...v.sighashes] })),
    payouts: [...c.payouts]
      .sort((a, b) => (a.sighash < b.sighash ? -1 : a.sighash > b.sighash ? 1 : 0))
      .map((p) => ({ sighash: p.sighash, batchId: p.batchId.toString(), txid: p.txid, inputIndex: p.inputIndex, signedAt: p.signedAt })),
    halt:
      c.halt === undefined
        ? null
        : {
            reason: c.halt.reason,
            height: c.halt.height,
            ...(c.halt.signedHeight !== undefined ? { signedHeight: c.halt.signedHeight } : {}),
            ...(c.halt.detail !== undefined ? { detail: c.halt.detail } : {}),
            at: c.halt.at,
          },
  };
}

/** Parses and validates a document; throws `SIGNLOG_BAD_EXPORT` naming the first problem. */
export function parseExport(json: unknown): SignLogContents {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new BridgeError({ code: 'SIGNLOG_BAD_EXPORT', path: issue?.path.join('.'), problem: issue?.message });
  }
  const d = r.data;
  return {
    btp: d.btp.map((e) => ({ ...e })),
    batches: d.batches.map((v) => ({ ...v, batchId: BigInt(v.batchId) })),
    payouts: d.payouts.map((p) => ({ ...p, batchId: BigInt(p.batchId) })),
    halt: d.halt === null ? undefined : d.halt,
  };
}

export interface MergePlan {
  /** Entries to write (not yet present). */
  readonly add: { btp: BtpSignEntry[]; batches: ClosedBatchVersion[]; payouts: PayoutSignEntry[]; halt: SigningHalt | undefined };
  /** Entries already present with identical contents. */
  readonly identical: number;
  readonly conflicts: readonly { kind: 'btp' | 'batch' | 'payout'; key: string; reason: string }[];
}

/**
 * What importing `incoming` into `existing` would do: identical entries
 * merge, new ones are added, conflicting ones (a second decision for a
 * height, a batch version with other inputs, a payout signature outside its
 * batch) are listed and the import must be refused as a whole.
 */
export function planMerge(existing: SignLogContents, incoming: SignLogContents): MergePlan {
  const conflicts: { kind: 'btp' | 'batch' | 'payout'; key: string; reason: string }[] = [];
  let identical = 0;
  const btpByHeight = new Map(existing.btp.map((e) => [e.height, e]));
  const addBtp: BtpSignEntry[] = [];
  for (const e of incoming.btp) {
    const have = btpByHeight.get(e.height);
    if (have === undefined) {
      btpByHeight.set(e.height, e);
      addBtp.push(e);
    } else if (have.decisionHash === e.decisionHash) identical++;
    else conflicts.push({ kind: 'btp', key: String(e.height), reason: `signed ${have.decisionHash}, import has ${e.decisionHash}` });
  }
  const versions = new Map<bigint, ClosedBatchVersion[]>();
  for (const v of existing.batches) versions.set(v.batchId, [...(versions.get(v.batchId) ?? []), v]);
  const addBatches: ClosedBatchVersion[] = [];
  for (const v of incoming.batches) {
    const known = versions.get(v.batchId) ?? [];
    const r = checkBatchVersion(known, v);
    if (!r.ok) conflicts.push({ kind: 'batch', key: `${v.batchId}:${v.txid}`, reason: r.rule });
    else if (r.repeat) identical++;
    else {
      versions.set(v.batchId, [...known, v]);
      addBatches.push(v);
    }
  }
  const payouts = new Map(existing.payouts.map((p) => [p.sighash, p]));
  const addPayouts: PayoutSignEntry[] = [];
  for (const p of incoming.payouts) {
    const have = payouts.get(p.sighash);
    if (have !== undefined) {
      if (have.batchId === p.batchId && have.txid === p.txid && have.inputIndex === p.inputIndex) identical++;
      else conflicts.push({ kind: 'payout', key: p.sighash, reason: 'same sighash recorded for another batch input' });
      continue;
    }
    const r = checkPayout(versions.get(p.batchId) ?? [], p);
    if (!r.ok) conflicts.push({ kind: 'payout', key: p.sighash, reason: r.rule });
    else {
      payouts.set(p.sighash, p);
      addPayouts.push(p);
    }
  }
  // A halt is never dropped by an import; an imported one is adopted when the log has none.
  const halt = existing.halt === undefined ? incoming.halt : undefined;
  return { add: { btp: addBtp, batches: addBatches, payouts: addPayouts, halt }, identical, conflicts };
}

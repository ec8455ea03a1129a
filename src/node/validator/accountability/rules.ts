/**
 * The pure half of the accountability duties (docs/ACCOUNTABILITY.md): which missed-duty reports
 * are due and whose turn it is, whether this node must record its own signature, and whether a
 * piece of equivocation evidence is worth submitting. No I/O, no clock: home block numbers and
 * chain reads are arguments.
 */
import { decodeDecision } from '../../../chains/btp/codec.js';
import { verifyBtpEquivocation, type BtpEquivocationEvidence } from '../../../consensus/equivocation.js';
import { rotationOrder } from '../../../consensus/quorum.js';

export type DutyKind = 'block' | 'batch';

/** A duty as the slasher judges it, read from the chain. */
export interface DutyView {
  kind: DutyKind;
  /** BTP height or batch id. */
  id: bigint;
  /** Home block after which the report is allowed (`reportMissed*` reverts `DutyNotDue` up to it). */
  deadline: bigint;
  settled: boolean;
  /** The validators with the duty, in set order (BMV ProofContext / registry epoch order, ascending). */
  validators: readonly string[];
  /** Bit i set = validator i did its duty. */
  signed: bigint;
}

export type KeeperDecision =
  | { action: 'drop'; reason: 'settled' | 'nobody-missing' }
  | { action: 'wait'; until: bigint; reason: 'not-due' | 'not-our-turn' }
  | { action: 'report'; missing: string[]; position: number };

export const isSigned = (signed: bigint, i: number): boolean => ((signed >> BigInt(i)) & 1n) === 1n;

export function missingOf(v: Pick<DutyView, 'validators' | 'signed'>): string[] {
  return v.validators.filter((_, i) => !isSigned(v.signed, i));
}

/**
 * The keeper rotation of a duty: the validators that *did* the duty (they are online — the missing
 * ones are the likely offline ones), in set order starting at `id mod n` (the submitter rotation of
 * src/consensus/quorum.ts), then the missing validators, so that even a federation whose only
 * live nodes are missing some duty still reports it eventually. Addresses lowercase.
 */
export function keeperRotation(v: Pick<DutyView, 'id' | 'validators' | 'signed'>): string[] {
  const lower = v.validators.map((a) => a.toLowerCase());
  const did = lower.filter((_, i) => isSigned(v.signed, i));
  const missed = lower.filter((_, i) => !isSigned(v.signed, i));
  return [...rotationOrder(did, v.id), ...rotationOrder(missed, v.id)];
}

/**
 * What `self` does about a duty at home block `head`: position j of the rotation may report from
 * `deadline + 1 + j · takeoverBlocks` (home blocks are the clock every node shares). A node that is
 * not in the set comes after everyone (any keeper may report).
 */
export function keeperDecision(v: DutyView, self: string, head: bigint, takeoverBlocks: number): KeeperDecision {
  if (v.settled) return { action: 'drop', reason: 'settled' };
  const missing = missingOf(v);
  if (missing.length === 0) return { action: 'drop', reason: 'nobody-missing' };
  const due = v.deadline + 1n;
  if (head < due) return { action: 'wait', until: due, reason: 'not-due' };
  const order = keeperRotation(v);
  const idx = order.indexOf(self.toLowerCase());
  const position = idx < 0 ? order.length : idx;
  const from = due + BigInt(position) * BigInt(Math.max(0, takeoverBlocks));
  if (head < from) return { action: 'wait', until: from, reason: 'not-our-turn' };
  return { action: 'report', missing, position };
}

/** This node's own bit in an accepted BTP block. */
export type DefenceDecision =
  | { action: 'none'; reason: 'not-in-set' | 'already-recorded' }
  | { action: 'record'; index: number }
  | { action: 'too-late'; index: number; windowEnd: bigint };

/**
 * Whether `self` must call the BMV's `recordSignature(height, index, sig)`: it is in the block's
 * set, its bit is unset, and the window (`acceptedAt + signatureWindow`, inclusive) is still open.
 */
export function defenceDecision(
  block: { validators: readonly string[]; signers: bigint; acceptedAt: bigint },
  self: string,
  signatureWindow: bigint,
  head: bigint,
): DefenceDecision {
  const index = block.validators.findIndex((a) => a.toLowerCase() === self.toLowerCase());
  if (index < 0) return { action: 'none', reason: 'not-in-set' };
  if (isSigned(block.signers, index)) return { action: 'none', reason: 'already-recorded' };
  const windowEnd = block.acceptedAt + signatureWindow;
  // The transaction lands in a later block than `head`: leave one block of margin.
  if (head + 1n > windowEnd) return { action: 'too-late', index, windowEnd };
  return { action: 'record', index };
}

export type EvidenceCheck = { ok: true } | { ok: false; reason: 'invalid' | 'foreign-network' };

/**
 * Local checks before BTP equivocation evidence is sent: it verifies (both signatures by the
 * validator over different decisions at one height), and both decisions are this federation's
 * (SrcNetworkUID and NetworkTypeID; `verifyBtpEquivocation` leaves that to its caller, the
 * contract refuses it as `ForeignDecision`).
 */
export function checkBtpEvidence(e: BtpEquivocationEvidence, network: { srcNetworkUid: string; networkTypeId: number }): EvidenceCheck {
  if (!verifyBtpEquivocation(e)) return { ok: false, reason: 'invalid' };
  try {
    for (const d of [e.first.decision, e.second.decision]) {
      const dec = decodeDecision(d);
      if (dec.srcNetworkUid !== network.srcNetworkUid || dec.dstNetworkTypeId !== network.networkTypeId) return { ok: false, reason: 'foreign-network' };
    }
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  return { ok: true };
}

/** Idempotency keys of the sender (one transaction per duty / piece of evidence, forever). */
export const submissionKey = {
  missedBlock: (height: bigint): string => `slasher:missed-block:${height}`,
  missedBatch: (batchId: bigint): string => `slasher:missed-batch:${batchId}`,
  btpEquivocation: (validator: string, height: number | bigint): string => `slasher:btp-equivocation:${validator.toLowerCase()}:${height}`,
  bitcoinEquivocation: (validator: string, sighash: string): string => `slasher:btc-equivocation:${validator.toLowerCase()}:${sighash.toLowerCase()}`,
  recordSignature: (height: bigint): string => `bmv:record-signature:${height}`,
};

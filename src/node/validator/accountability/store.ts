/**
 * Open duties the keeper still watches, persisted so a restart (whose event cursor has moved past
 * the `BlockAccepted` / `BatchApproved` that created them) does not forget them.
 *
 *   accountability-duties     key: `block:<20-digit height>` | `batch:<20-digit id>`   value: {kind, id}
 *   accountability-evidence   key: the evidence's sender key (`submissionKey`)          value: StoredEvidence
 *
 * Evidence is kept until it was handed to the sender (which persists its own record) or refused
 * for good, so evidence taken from the aggregator survives a restart.
 */
import { getBytes, hexlify, keccak256 } from 'ethers';
import { bitcoinEvidenceToJson, btpEvidenceToJson, type BitcoinEquivocationEvidence, type BtpEquivocationEvidence } from '../../../consensus/equivocation.js';
import type { NodeDb } from '../../db/database.js';
import type { DutyKind } from './rules.js';

export type StoredEvidence = { kind: 'btp'; e: ReturnType<typeof btpEvidenceToJson> } | { kind: 'bitcoin'; e: ReturnType<typeof bitcoinEvidenceToJson> };
export type PendingEvidence = { btp: BtpEquivocationEvidence; bitcoin?: undefined } | { bitcoin: BitcoinEquivocationEvidence; btp?: undefined };

export function evidenceToStored(p: PendingEvidence): StoredEvidence {
  return p.btp !== undefined ? { kind: 'btp', e: btpEvidenceToJson(p.btp) } : { kind: 'bitcoin', e: bitcoinEvidenceToJson(p.bitcoin) };
}

export function evidenceFromStored(s: StoredEvidence): PendingEvidence {
  if (s.kind === 'btp') {
    const e = s.e;
    return { btp: { validator: getBytes(e.validator), height: e.height, first: { decision: getBytes(e.decisionA), signature: getBytes(e.signatureA) }, second: { decision: getBytes(e.decisionB), signature: getBytes(e.signatureB) } } };
  }
  return { bitcoin: { validatorKey: getBytes(s.e.validatorKey), preimage: getBytes(s.e.preimage), signature: getBytes(s.e.signature) } };
}

export const evidenceId = (p: PendingEvidence): string =>
  p.btp !== undefined ? `btp:${hexlify(p.btp.validator)}:${p.btp.height}` : `bitcoin:${hexlify(p.bitcoin.validatorKey)}:${keccak256(p.bitcoin.preimage)}`;

type Sub = ReturnType<NodeDb['sublevel']>;
export type DutyOp = { type: 'put'; sublevel: Sub; key: string; value: unknown } | { type: 'del'; sublevel: Sub; key: string };

export interface DutyRef {
  kind: DutyKind;
  id: bigint;
}

export const dutyKey = (d: DutyRef): string => `${d.kind}:${d.id.toString().padStart(20, '0')}`;

export class DutyStore {
  readonly #db: NodeDb | undefined;
  readonly #sub: Sub | undefined;
  readonly #ev: Sub | undefined;

  constructor(db: NodeDb | undefined) {
    this.#db = db;
    this.#sub = db === undefined ? undefined : (db.sublevel<string, unknown>('accountability-duties', { valueEncoding: 'json' }) as unknown as Sub);
    this.#ev = db === undefined ? undefined : (db.sublevel<string, unknown>('accountability-evidence', { valueEncoding: 'json' }) as unknown as Sub);
  }

  putEvidence(p: PendingEvidence): DutyOp[] {
    return this.#ev === undefined ? [] : [{ type: 'put', sublevel: this.#ev, key: evidenceId(p), value: evidenceToStored(p) }];
  }

  delEvidence(p: PendingEvidence): DutyOp[] {
    return this.#ev === undefined ? [] : [{ type: 'del', sublevel: this.#ev, key: evidenceId(p) }];
  }

  async loadEvidence(): Promise<PendingEvidence[]> {
    if (this.#ev === undefined) return [];
    const out: PendingEvidence[] = [];
    for await (const v of (this.#ev as unknown as { values(): AsyncIterable<StoredEvidence> }).values()) out.push(evidenceFromStored(v));
    return out;
  }

  get persistent(): boolean {
    return this.#sub !== undefined;
  }

  put(d: DutyRef): DutyOp[] {
    return this.#sub === undefined ? [] : [{ type: 'put', sublevel: this.#sub, key: dutyKey(d), value: { kind: d.kind, id: d.id.toString() } }];
  }

  del(d: DutyRef): DutyOp[] {
    return this.#sub === undefined ? [] : [{ type: 'del', sublevel: this.#sub, key: dutyKey(d) }];
  }

  async commit(ops: DutyOp[]): Promise<void> {
    if (this.#db === undefined || ops.length === 0) return;
    await this.#db.batch(ops);
  }

  async load(): Promise<DutyRef[]> {
    if (this.#sub === undefined) return [];
    const out: DutyRef[] = [];
    for await (const v of (this.#sub as unknown as { values(): AsyncIterable<{ kind: DutyRef['kind']; id: string }> }).values()) out.push({ kind: v.kind, id: BigInt(v.id) });
    return out;
  }
}

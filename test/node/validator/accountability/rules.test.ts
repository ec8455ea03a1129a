import { describe, expect, it } from 'vitest';
import { Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { encodeDecision } from '../../../../src/chains/btp/codec.js';
import { signDecision } from '../../../../src/chains/btp/sign.js';
import type { BtpEquivocationEvidence } from '../../../../src/consensus/equivocation.js';
import { checkBtpEvidence, defenceDecision, keeperDecision, keeperRotation, missingOf, submissionKey, type DutyView } from '../../../../src/node/validator/accountability/rules.js';

const addr = (i: number): string => `0x${(i + 1).toString(16).padStart(40, '0')}`;
const set = [0, 1, 2, 3].map(addr);
const duty = (o: Partial<DutyView> = {}): DutyView => ({ kind: 'block', id: 10n, deadline: 100n, settled: false, validators: set, signed: 0b0111n, ...o });

describe('keeper decision', () => {
  it('drops a settled duty or one nobody missed, waits before the deadline', () => {
    expect(keeperDecision(duty({ settled: true }), set[0]!, 500n, 5)).toEqual({ action: 'drop', reason: 'settled' });
    expect(keeperDecision(duty({ signed: 0b1111n }), set[0]!, 500n, 5)).toEqual({ action: 'drop', reason: 'nobody-missing' });
    // reportMissedBlock reverts DutyNotDue while block.number <= deadline: due from deadline + 1.
    expect(keeperDecision(duty(), set[2]!, 100n, 5)).toEqual({ action: 'wait', until: 101n, reason: 'not-due' });
  });

  it('rotates over the validators that did the duty, starting at id mod n, one takeover apart', () => {
    // did: [v0, v1, v2]; id 10 mod 3 = 1 → v1, v2, v0; then the missing v3.
    expect(keeperRotation(duty())).toEqual([set[1], set[2], set[0], set[3]]);
    expect(keeperRotation(duty({ id: 12n }))).toEqual([set[0], set[1], set[2], set[3]]);
    const at = (self: string, head: bigint) => keeperDecision(duty(), self, head, 5);
    expect(at(set[1]!, 101n)).toEqual({ action: 'report', missing: [set[3]], position: 0 });
    expect(at(set[2]!, 101n)).toEqual({ action: 'wait', until: 106n, reason: 'not-our-turn' });
    expect(at(set[2]!, 106n)).toMatchObject({ action: 'report', position: 1 });
    expect(at(set[0]!, 110n)).toEqual({ action: 'wait', until: 111n, reason: 'not-our-turn' });
    expect(at(set[0]!, 111n)).toMatchObject({ action: 'report', position: 2 });
    // The missing validator itself reports last, and a non-member after everyone.
    expect(at(set[3]!, 115n)).toMatchObject({ action: 'wait', until: 116n });
    expect(at(addr(9), 120n)).toMatchObject({ action: 'wait', until: 121n });
    expect(at(addr(9), 121n)).toMatchObject({ action: 'report', position: 4 });
  });

  it('exactly one validator may report at the first due block, whatever the bitmap', () => {
    for (let signed = 0n; signed < 15n; signed++) {
      for (const id of [0n, 1n, 2n, 3n, 7n]) {
        const v = duty({ signed, id });
        const reporters = set.filter((s) => keeperDecision(v, s, 101n, 3).action === 'report');
        expect(reporters).toHaveLength(1);
        expect(missingOf(v)).toHaveLength(4 - [0, 1, 2, 3].filter((i) => (signed >> BigInt(i)) & 1n).length);
      }
    }
  });

  it('compares addresses without regard to case', () => {
    const upper = duty({ validators: set.map((a) => a.toUpperCase().replace('0X', '0x')) });
    expect(keeperDecision(upper, set[1]!, 101n, 5)).toMatchObject({ action: 'report', position: 0 });
  });
});

describe('own defence', () => {
  const block = { validators: set, signers: 0b1011n, acceptedAt: 50n };
  it('records when our bit is unset and the window is open, not when set or not a member', () => {
    expect(defenceDecision(block, set[2]!, 100n, 60n)).toEqual({ action: 'record', index: 2 });
    expect(defenceDecision(block, set[2]!, 100n, 149n)).toEqual({ action: 'record', index: 2 });
    expect(defenceDecision(block, set[1]!, 100n, 60n)).toEqual({ action: 'none', reason: 'already-recorded' });
    expect(defenceDecision(block, addr(7), 100n, 60n)).toEqual({ action: 'none', reason: 'not-in-set' });
  });
  it('is too late when the next block is past acceptedAt + signatureWindow', () => {
    expect(defenceDecision(block, set[2]!, 100n, 150n)).toEqual({ action: 'too-late', index: 2, windowEnd: 150n });
  });
});

describe('BTP evidence checks', () => {
  const key = getBytes(keccak256(toUtf8Bytes('accountability-byzantine')));
  const validator = getBytes(new Wallet(keccak256(toUtf8Bytes('accountability-byzantine'))).address);
  const network = { srcNetworkUid: '0x10.btc', networkTypeId: 2 };
  const decision = (nts: string, src = network.srcNetworkUid, height = 7) =>
    encodeDecision({ srcNetworkUid: src, dstNetworkTypeId: 2, height, round: 0, networkTypeSectionHash: getBytes(keccak256(toUtf8Bytes(nts))) });
  const signed = (d: Uint8Array) => ({ decision: d, signature: signDecision(getBytes(keccak256(d)), key) });
  const ev = (a: Uint8Array, b: Uint8Array): BtpEquivocationEvidence => ({ validator, height: 7, first: signed(a), second: signed(b) });

  it('accepts two signed decisions of this federation at one height', () => {
    expect(checkBtpEvidence(ev(decision('a'), decision('b')), network)).toEqual({ ok: true });
  });
  it('refuses another federation\'s decisions (the TS verifier does not check src/ntid), and invalid evidence', () => {
    expect(checkBtpEvidence(ev(decision('a', '0x11.btc'), decision('b', '0x11.btc')), network)).toEqual({ ok: false, reason: 'foreign-network' });
    expect(checkBtpEvidence(ev(decision('a'), decision('b')), { ...network, networkTypeId: 3 })).toEqual({ ok: false, reason: 'foreign-network' });
    expect(checkBtpEvidence(ev(decision('a'), decision('a')), network)).toEqual({ ok: false, reason: 'invalid' });
    expect(checkBtpEvidence(ev(decision('a'), decision('b', network.srcNetworkUid, 8)), network)).toEqual({ ok: false, reason: 'invalid' });
    const e = ev(decision('a'), decision('b'));
    expect(checkBtpEvidence({ ...e, validator: getBytes(addr(1)) }, network)).toEqual({ ok: false, reason: 'invalid' });
  });
});

describe('submission keys', () => {
  it('are one per duty or piece of evidence, case-insensitive in addresses', () => {
    expect(submissionKey.missedBlock(5n)).not.toBe(submissionKey.missedBatch(5n));
    expect(submissionKey.btpEquivocation('0xAB', 3)).toBe(submissionKey.btpEquivocation('0xab', 3n));
    expect(submissionKey.recordSignature(9n)).toBe('bmv:record-signature:9');
  });
});

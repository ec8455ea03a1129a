import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildRelayMessages } from '../../src/chains/btp/builder.js';
import { encodeDecision } from '../../src/chains/btp/codec.js';
import { keccak256, toHex } from '../../src/chains/btp/bytes.js';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { signDecision } from '../../src/chains/btp/sign.js';
import { initVerifierState, verifierConfig, verifyRelayMessage } from '../../src/chains/btp/verifier.js';
import { createMetrics } from '../../src/node/metrics.js';
import { BtpAggregator, type Attestation } from '../../src/consensus/btp-aggregator.js';
import { deriveHeight, initialDerivationState } from '../../src/consensus/derivation.js';
import { btpEvidenceToJson, verifyBtpEquivocation } from '../../src/consensus/equivocation.js';
import { createConsensusMetrics } from '../../src/consensus/metrics.js';
import { CONFIG, coinbase, depositMeta, epochOf, genesisChain, randomHash, snapshot, tx, validators } from './fixtures.js';

const T0 = 1_700_000_000;
const vals = validators(4);
const e0 = epochOf(0, vals, 0, 100);
const genesis = genesisChain(vals, 100);

function derived() {
  const dep = tx([{ hash: randomHash('agg-dep'), index: 0 }], [{ script: e0.script.p2wshOutput, value: 50_000n }, depositMeta(new Uint8Array(20).fill(7))]);
  const st = initialDerivationState({ chain: genesis.state, nextHeight: 101, activations: [[0, 100]] });
  return deriveHeight(st, { height: 101, hash: '00'.repeat(32), transactions: [coinbase(101), dep], medianTime: T0 }, snapshot([e0], T0), CONFIG, { now: T0 }).block!;
}

const block = derived();
const H = 101;
const att = (i: number, hash = block.decisionHash): Attestation => ({ height: H, decisionHash: hash, signature: signDecision(hash, vals[i]!.key.privateKey, nobleBackend) });
const timing = { collectAfterQuorumMs: 200, takeoverTimeoutMs: 5_000 };

function aggregator(metrics?: ReturnType<typeof createConsensusMetrics>) {
  const a = new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, timing, backend: nobleBackend, ...(metrics ? { metrics } : {}) });
  return a;
}
const openArgs = (startedAt = 0) => ({ validators: genesis.state.validators, decisionHash: block.decisionHash, decision: encodeDecision(block.decision), startedAt });

describe('BTP signature aggregation', () => {
  it('reaches quorum at N/2+1, keeps collecting until the deadline, and its proof passes the BTP verifier', async () => {
    const factory = createMetrics({ defaultMetrics: false });
    const agg = aggregator(createConsensusMetrics(factory));
    agg.open(H, openArgs(500), 1_000);
    expect(agg.add(att(0), 1_000)).toBe('counted');
    expect(agg.add(att(1), 1_010)).toBe('counted');
    expect(agg.tick(1_010)).toEqual([]);
    expect(agg.add(att(2), 1_500)).toBe('counted');
    expect(agg.tick(1_500).map((e) => e.type)).toEqual(['quorum']);
    expect(agg.phase(H, 1_699)).toBe('quorum');
    expect(agg.tick(1_699)).toEqual([]);
    const fin = agg.tick(1_700);
    expect(fin).toHaveLength(1);
    expect(fin[0]).toMatchObject({ type: 'final', at: 1_700 });
    if (fin[0]!.type === 'final') expect(fin[0]!.missing.map(toHex)).toEqual([vals[3]!.addressHex]);

    const relay = buildRelayMessages({ header: block.header, proof: agg.proof(H)! }, block.messages, 1 << 20);
    const res = verifyRelayMessage(initVerifierState(genesis.headerBytes), relay[0]!, verifierConfig({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, backend: nobleBackend }));
    expect(res.blocks[0]!.signers.map(toHex).sort()).toEqual([0, 1, 2].map((i) => vals[i]!.addressHex).sort());

    const text = await factory.registry.metrics();
    expect(text).toMatch(/fednode_consensus_quorum_seconds_count\{kind="btp"\} 1/);
    expect(text).toMatch(new RegExp(`fednode_consensus_signatures_total\\{kind="btp",validator="${vals[3]!.addressHex}",status="missing"\\} 1`));
    expect(text).toMatch(new RegExp(`fednode_consensus_signatures_total\\{kind="btp",validator="${vals[0]!.addressHex}",status="present"\\} 1`));
  });

  it('ends collection early when every validator has signed', () => {
    const agg = aggregator();
    agg.open(H, openArgs(), 0);
    [0, 1, 2].forEach((i) => agg.add(att(i), 10));
    agg.add(att(3), 50);
    expect(agg.phase(H, 50)).toBe('final');
    expect(agg.tick(50).find((e) => e.type === 'final')).toMatchObject({ at: 50, missing: [] });
  });

  it('counts duplicates once, never counts a wrong signature or a non-validator, verifies each message once', () => {
    let recoveries = 0;
    const counting = { ...nobleBackend, recover: (h: Uint8Array, s: Uint8Array) => (recoveries++, nobleBackend.recover(h, s)) };
    const agg = new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, timing, backend: counting });
    agg.open(H, openArgs(), 0);
    const a0 = att(0);
    expect(agg.add(a0, 1)).toBe('counted');
    expect(agg.add(a0, 2)).toBe('duplicate');
    expect(agg.add({ ...a0, signature: Uint8Array.from(a0.signature) }, 3)).toBe('duplicate');
    expect(recoveries).toBe(1);
    const bad = Uint8Array.from(att(1).signature);
    bad[64] = 7; // V out of range: malformed
    expect(agg.add({ ...att(1), signature: bad }, 4)).toBe('invalid');
    const other = validators(1, 'outsider')[0]!;
    expect(agg.add({ height: H, decisionHash: block.decisionHash, signature: signDecision(block.decisionHash, other.key.privateKey, nobleBackend) }, 5)).toBe('not-validator');
    // validator 1 signing a different hash: a signature that is not over our decision
    expect(agg.add(att(1, keccak256(Uint8Array.of(1))), 6)).toBe('other-decision');
    expect(agg.signatureCount(H)).toBe(1);
    expect(agg.quorumAt(H)).toBeUndefined();
  });

  it('bounds the signatures it verifies per height, so made-up decisions cannot exhaust it', () => {
    const agg = new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, timing, backend: nobleBackend, maxVerifiedPerValidator: 2 });
    agg.open(H, openArgs(), 0);
    const spam = Array.from({ length: 10 }, (_, i) => agg.add(att(1, keccak256(Uint8Array.of(100 + i))), 1));
    // cap 2 x 4 validators: the first 8 are verified (the second already proves equivocation), 2 dropped
    expect(spam.slice(0, 2)).toEqual(['other-decision', 'equivocation']);
    expect(spam.slice(8)).toEqual(['dropped', 'dropped']);
    expect(agg.dropped).toBe(2);
    // signatures over our decision are still counted
    expect(agg.add(att(0), 2)).toBe('counted');
  });

  it('buffers attestations that arrive before the height is derived', () => {
    const agg = aggregator();
    expect(agg.add(att(0), 1)).toBe('buffered');
    expect(agg.add(att(1), 1)).toBe('buffered');
    expect(agg.open(H, openArgs(), 5)).toEqual(['counted', 'counted']);
    expect(agg.signatureCount(H)).toBe(2);
    agg.prune(H + 1);
    expect(agg.add(att(2), 6)).toBe('dropped');
  });

  it('picks one submitter by rotation on the height; the next takes over only after the timeout, in order', () => {
    const agg = aggregator();
    agg.open(H, openArgs(), 0);
    [0, 1, 2].forEach((i) => agg.add(att(i), 100));
    const order = agg.rotation(H).map(toHex);
    expect(order[0]).toBe(vals[H % 4]!.addressHex);
    expect(new Set(order).size).toBe(4);
    const final = 100 + timing.collectAfterQuorumMs;
    const may = (now: number) => vals.filter((v) => agg.shouldSubmit(H, v.address, now)).map((v) => v.addressHex);
    expect(may(final - 1)).toEqual([]);
    expect(may(final)).toEqual([order[0]]);
    expect(may(final + timing.takeoverTimeoutMs - 1)).toEqual([order[0]]);
    expect(new Set(may(final + timing.takeoverTimeoutMs))).toEqual(new Set([order[0], order[1]]));
    expect(agg.submitTime(H, Buffer.from(order[2]!.slice(2), 'hex'))).toBe(final + 2 * timing.takeoverTimeoutMs);
    agg.markSubmitted(H);
    expect(may(final + 10 * timing.takeoverTimeoutMs)).toEqual([]);
  });

  it('detects equivocation and prepares evidence that verifies (and fails when tampered)', () => {
    const agg = aggregator();
    agg.open(H, openArgs(), 0);
    expect(agg.add(att(2), 1)).toBe('counted');
    const otherDecision = { ...block.decision, networkTypeSectionHash: keccak256(Uint8Array.of(9)) };
    const otherHash = keccak256(encodeDecision(otherDecision));
    const a = { ...att(2, otherHash), networkTypeSectionHash: otherDecision.networkTypeSectionHash };
    expect(agg.add({ ...a, networkTypeSectionHash: keccak256(Uint8Array.of(8)) }, 2)).toBe('invalid');
    expect(agg.add(a, 2)).toBe('equivocation');
    const ev = agg.takeEvidence();
    expect(ev).toHaveLength(1);
    expect(toHex(ev[0]!.validator)).toBe(vals[2]!.addressHex);
    expect(verifyBtpEquivocation(ev[0]!, nobleBackend)).toBe(true);
    expect(verifyBtpEquivocation({ ...ev[0]!, second: ev[0]!.first }, nobleBackend)).toBe(false);
    expect(verifyBtpEquivocation({ ...ev[0]!, validator: vals[1]!.address }, nobleBackend)).toBe(false);
    const otherHeight = encodeDecision({ ...otherDecision, height: H + 1 });
    expect(verifyBtpEquivocation({ ...ev[0]!, second: { decision: otherHeight, signature: signDecision(keccak256(otherHeight), vals[2]!.key.privateKey, nobleBackend) } }, nobleBackend)).toBe(false);
    expect(agg.takeEvidence()).toEqual([]);
    const j = btpEvidenceToJson(ev[0]!);
    expect([j.validator, j.height, j.decisionA.length, j.signatureB.length]).toEqual([vals[2]!.addressHex, H, 2 + 2 * ev[0]!.first.decision.length, 2 + 130]);
  });

  it('counts each validator once whatever the arrival order, duplicates and invalid messages (property)', () => {
    const pool = [0, 1, 2, 3].map((i) => att(i));
    const junk: Attestation = { height: H, decisionHash: block.decisionHash, signature: new Uint8Array(65) };
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4 }), { maxLength: 20 }), (picks) => {
        const agg = aggregator();
        agg.open(H, openArgs(), 0);
        picks.forEach((p, t) => agg.add(p === 4 ? junk : pool[p]!, t));
        const distinct = new Set(picks.filter((p) => p < 4)).size;
        expect(agg.signatureCount(H)).toBe(distinct);
        expect(agg.quorumAt(H) !== undefined).toBe(distinct >= 3);
      }),
      { numRuns: 40 },
    );
  });
});

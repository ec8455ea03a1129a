import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRelayMessages } from '../../src/chains/btp/builder.js';
import { encodeDecision, encodeProof } from '../../src/chains/btp/codec.js';
import { keccak256, toHex } from '../../src/chains/btp/bytes.js';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { signDecision } from '../../src/chains/btp/sign.js';
import { initVerifierState, verifierConfig, verifyRelayMessage } from '../../src/chains/btp/verifier.js';
import { BtpAggregator, type Attestation } from '../../src/consensus/btp-aggregator.js';
import { deriveHeight, initialDerivationState, type DerivationState } from '../../src/consensus/derivation.js';
import { verifyBtpEquivocation } from '../../src/consensus/equivocation.js';
import { openDatabase, type NodeDb } from '../../src/node/db/database.js';
import { silentLogger } from '../../src/node/logger.js';
import { SignLog, signBtpBlock } from '../../src/node/signlog/index.js';
import { CONFIG, coinbase, depositMeta, epochOf, genesisChain, randomHash, snapshot, tx, validators } from './fixtures.js';

/**
 * Four validators in one process, each with its own derivation state, sign-log
 * (real level database) and aggregator, exchanging attestations in a shuffled
 * order: one is offline, one byzantine also signs a second decision.
 */
const T0 = 1_700_000_000;
const vals = validators(4, 'sim');
const e0 = epochOf(0, vals, 0, 100);
const genesis = genesisChain(vals, 100);
const timing = { collectAfterQuorumMs: 100, takeoverTimeoutMs: 2_000 };

describe('a federation of four, in process', () => {
  const dbs: NodeDb[] = [];
  let root = '';
  afterAll(async () => {
    for (const db of dbs) await db.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('honest validators derive the same block, reach quorum without the offline one, agree on the proof and the submitter, and catch the equivocator', async () => {
    root = await mkdtemp(join(tmpdir(), 'fednode-sim-'));
    const nodes = await Promise.all(
      vals.map(async (v, i) => {
        const db = await openDatabase(join(root, `v${i}`), { log: silentLogger() });
        dbs.push(db);
        return {
          v,
          log: new SignLog(db),
          agg: new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, timing, backend: nobleBackend }),
          state: initialDerivationState({ chain: genesis.state, nextHeight: 101, activations: [[0, 100]] }) as DerivationState,
        };
      }),
    );
    const offline = 3;
    const byzantine = 1;
    const deposits = [0, 1, 2].map((i) => tx([{ hash: randomHash(`sim-${i}`), index: 0 }], [{ script: e0.script.p2wshOutput, value: 20_000n + BigInt(i) }, depositMeta(new Uint8Array(20).fill(i + 1))]));
    const block = { height: 101, hash: 'aa'.repeat(32), transactions: [coinbase(101), ...deposits], medianTime: T0 };

    const gossip: Attestation[] = [];
    const derivedHashes: string[] = [];
    for (const [i, n] of nodes.entries()) {
      if (i === offline) continue;
      const d = deriveHeight(n.state, block, snapshot([e0], T0), CONFIG, { now: T0 + i });
      n.state = d.state;
      derivedHashes.push(toHex(d.block!.decisionHash));
      n.agg.open(101, { validators: genesis.state.validators, decisionHash: d.block!.decisionHash, decision: encodeDecision(d.block!.decision) }, 0);
      const sig = await signBtpBlock(n.log, d.block!, block.hash, n.v.key.privateKey, 1, nobleBackend);
      gossip.push({ height: 101, decisionHash: d.block!.decisionHash, signature: sig });
      if (i === byzantine) {
        // It also signs another decision for the same height, bypassing its sign-log, and says which.
        const otherNts = keccak256(Uint8Array.of(42));
        const other = encodeDecision({ ...d.block!.decision, networkTypeSectionHash: otherNts });
        gossip.push({ height: 101, decisionHash: keccak256(other), signature: signDecision(keccak256(other), n.v.key.privateKey, nobleBackend), networkTypeSectionHash: otherNts });
        // Its own sign-log would have refused that second decision.
        await expect(n.log.authorizeBtp({ height: 101, decisionHash: toHex(keccak256(other)) }, 2)).rejects.toThrow(/SIGNLOG_REFUSED/);
      }
    }
    expect(new Set(derivedHashes).size).toBe(1);

    // Delivery in a different order at each node, every message twice (a node adds its own signature like any other).
    const proofs: string[] = [];
    const submitters: string[][] = [];
    for (const [i, n] of nodes.entries()) {
      if (i === offline) continue;
      const order = [...gossip, ...gossip].sort((a, b) => (toHex(keccak256(Uint8Array.of(i, ...a.signature))) < toHex(keccak256(Uint8Array.of(i, ...b.signature))) ? -1 : 1));
      for (const a of order) n.agg.add(a, 10);
      const events = n.agg.tick(200);
      expect(events.map((e) => e.type)).toEqual(['quorum', 'final']);
      const fin = events[1]!;
      if (fin.type === 'final') expect(fin.missing.map(toHex)).toEqual([vals[offline]!.addressHex]);
      proofs.push(toHex(encodeProof(n.agg.proof(101)!)));
      submitters.push(vals.filter((v) => n.agg.shouldSubmit(101, v.address, 110)).map((v) => v.addressHex));
      const ev = n.agg.takeEvidence();
      expect(ev.map((e) => toHex(e.validator))).toEqual([vals[byzantine]!.addressHex]);
      expect(verifyBtpEquivocation(ev[0]!, nobleBackend)).toBe(true);
    }
    expect(new Set(proofs).size).toBe(1);
    expect(new Set(submitters.map((s) => s.join())).size).toBe(1);
    expect(submitters[0]).toHaveLength(1);
    expect(submitters[0]![0]).toBe(vals[101 % 4]!.addressHex);

    // The proof is accepted by the BTP verifier and names the three signers.
    const n0 = nodes[0]!;
    const d = deriveHeight(initialDerivationState({ chain: genesis.state, nextHeight: 101, activations: [[0, 100]] }), block, snapshot([e0], T0), CONFIG, { now: T0 });
    const relay = buildRelayMessages({ header: d.block!.header, proof: n0.agg.proof(101)! }, d.block!.messages, 1 << 20);
    const res = verifyRelayMessage(initVerifierState(genesis.headerBytes), relay[0]!, verifierConfig({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, backend: nobleBackend }));
    expect(res.messages).toHaveLength(3);
    expect(res.blocks[0]!.signers.map(toHex).sort()).toEqual([0, 1, 2].map((i) => vals[i]!.addressHex).sort());
  });
});

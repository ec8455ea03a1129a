import { describe, expect, it } from 'vitest';
import type { EmittedBlock } from '../../../src/chains/bitcoin/watcher.js';
import { keccak256, toHex } from '../../../src/chains/btp/bytes.js';
import { decisionHash as hashDecision } from '../../../src/chains/btp/hashes.js';
import { signDecision } from '../../../src/chains/btp/sign.js';
import { BtpAggregator } from '../../../src/consensus/btp-aggregator.js';
import { initialDerivationState } from '../../../src/consensus/derivation.js';
import { openDatabase, type NodeDb } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import type { Attestation } from '../../../src/node/p2p/messages.js';
import { SignLog } from '../../../src/node/signlog/signlog.js';
import { LevelBtpStore } from '../../../src/node/stores/btp-store.js';
import { BtpPipeline } from '../../../src/node/validator/btp-pipeline.js';
import { ValidatorStateStore } from '../../../src/node/validator/state-store.js';
import { encodeProofContext } from '../../../src/chains/btp/codec.js';
import { withTempDir } from '../../helpers/cli.js';
import { CONFIG, NETWORK_ID, coinbase, depositMeta, epochOf, genesisChain, randomHash, snapshot, tx, validators } from '../../consensus/fixtures.js';

/**
 * The validator's BTP pipeline on a real level database, sign-log and aggregator, with the
 * chains and the network replaced by plain values: derive → persist → sign → gossip; gossip in
 * (duplicates, wrong decisions, garbage); quorum → relay by rotation; restart resumes.
 */
const vals = validators(4, 'pipeline');
const START = 100;
const e0 = epochOf(0, vals, 0, START);
const genesis = genesisChain(vals, START - 1);
const T0 = 1_763_770_000_000;

function block(height: number): EmittedBlock {
  const deposit = tx([{ hash: randomHash(`in-${height}`), index: 0 }], [depositMeta(new Uint8Array(20).fill(7)), { script: e0.script.p2wshOutput, value: 50_000n }]);
  return { height, hash: 'ab'.repeat(32), prevHash: 'cd'.repeat(32), timestamp: Math.floor(T0 / 1000) - 600, transactions: [coinbase(height), deposit] };
}

interface Rig {
  pipeline: BtpPipeline;
  published: Attestation[];
  relays: Array<{ height: number; part: number }>;
  clock: { t: number };
  store: ValidatorStateStore;
}

function rig(db: NodeDb, selfIndex: number): Rig {
  const clock = { t: T0 };
  const published: Attestation[] = [];
  const relays: Array<{ height: number; part: number }> = [];
  const store = new ValidatorStateStore(db);
  const pipeline = new BtpPipeline({
    config: CONFIG,
    networkId: NETWORK_ID,
    self: vals[selfIndex]!.address,
    signingKey: vals[selfIndex]!.key.privateKey,
    signLog: new SignLog(db),
    store,
    btpStore: new LevelBtpStore(db, { srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, networkId: NETWORK_ID, initialProofContext: encodeProofContext({ validators: genesis.state.validators }) }),
    aggregator: new BtpAggregator({ srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, timing: { collectAfterQuorumMs: 100, takeoverTimeoutMs: 1_000 } }),
    snapshot: () => snapshot([e0], Math.floor(clock.t / 1000), 3_600),
    publish: (a) => {
      published.push(a);
      return true;
    },
    relay: async (height, part) => {
      relays.push({ height, part });
    },
    maxRelayBytes: 1 << 20,
    relayRetryMs: 100,
    now: () => clock.t,
    log: silentLogger(),
  });
  return { pipeline, published, relays, clock, store };
}

function attestation(i: number, decision: Uint8Array, nts: Uint8Array, height = START): Attestation {
  return { height: BigInt(height), decisionHash: decision, networkTypeSectionHash: nts, signature: signDecision(decision, vals[i]!.key.privateKey) };
}

describe('BtpPipeline', () => {
  it('derives, persists, signs and gossips; counts each signer once; rejects wrong decisions and garbage; relays by rotation; resumes after a restart', async () => {
    await withTempDir(async (dir) => {
      let db = await openDatabase(dir, { log: silentLogger() });
      // Height 100 mod 4 = 0: the first validator in ProofContext order submits.
      let r = rig(db, 0);
      await r.pipeline.init(initialDerivationState({ chain: genesis.state, nextHeight: START, activations: [[0, START]] }), undefined, -1, 0);
      expect(await r.pipeline.processBlock(block(START), { nextHeight: START + 1, emitted: [{ height: START, hash: 'ab'.repeat(32) }] })).toBe('done');

      // Persisted in one batch: derivation state, watcher cursor, the block for the RPC, the pending record.
      expect((await r.store.loadDerivation())?.state.nextHeight).toBe(START + 1);
      expect(await r.store.watcher.load()).toEqual({ nextHeight: START + 1, emitted: [{ height: START, hash: 'ab'.repeat(32) }] });
      expect((await r.store.pending()).map((p) => p.height)).toEqual([START]);
      expect(r.published).toHaveLength(1);
      const own = r.published[0]!;
      const decision = own.decisionHash;
      const nts = own.networkTypeSectionHash;
      // The NTS hash rebuilds the decision preimage (evidence from gossip alone).
      expect(toHex(hashDecision({ srcNetworkUid: CONFIG.srcNetworkUid, dstNetworkTypeId: CONFIG.networkTypeId, height: START, round: 0, networkTypeSectionHash: nts }))).toBe(toHex(decision));
      expect(r.pipeline.lastSignedHeight).toBe(START);
      expect(r.pipeline.signatureCount(START)).toBe(1);

      // A peer's signature counts once, however often it arrives.
      const a1 = attestation(1, decision, nts);
      expect(r.pipeline.onAttestation(a1, vals[1]!.addressHex)).toBeUndefined();
      expect(r.pipeline.onAttestation(a1, vals[1]!.addressHex)).toBe('ignore');
      expect(r.pipeline.onAttestation({ ...a1 }, vals[1]!.addressHex)).toBe('ignore');
      expect(r.pipeline.signatureCount(START)).toBe(2);

      // A validator signing another decision (with a consistent NTS hash) is rejected, not counted.
      const otherNts = keccak256(Uint8Array.of(1, 2, 3));
      const otherDecision = hashDecision({ srcNetworkUid: CONFIG.srcNetworkUid, dstNetworkTypeId: CONFIG.networkTypeId, height: START, round: 0, networkTypeSectionHash: otherNts });
      expect(r.pipeline.onAttestation(attestation(2, otherDecision, otherNts), vals[2]!.addressHex)).toBe('reject');
      // Garbage: an NTS hash that does not hash to the decision.
      expect(r.pipeline.onAttestation(attestation(2, decision, otherNts), vals[2]!.addressHex)).toBe('reject');
      expect(r.pipeline.signatureCount(START)).toBe(2);

      // Quorum (3 of 4), collection deadline, then this node's rotation slot: one relay.
      expect(r.pipeline.onAttestation(attestation(3, decision, nts), vals[3]!.addressHex)).toBeUndefined();
      await r.pipeline.tick();
      expect(r.relays).toEqual([]);
      r.clock.t += 150;
      await r.pipeline.tick();
      await new Promise((res) => setImmediate(res));
      expect(r.relays).toEqual([{ height: START, part: 0 }]);
      expect(r.pipeline.lastFinalHeight).toBe(START);

      // Restart before the relay is seen on chain: same state, same signature, collected signatures back.
      await db.close();
      db = await openDatabase(dir, { log: silentLogger() });
      r = rig(db, 0);
      const persisted = (await r.store.loadDerivation())!;
      await r.pipeline.init(persisted.state, persisted.window, await r.store.relayedHeight(), 1);
      expect(r.published).toHaveLength(1);
      expect(toHex(r.published[0]!.signature)).toBe(toHex(own.signature));
      expect(r.pipeline.signatureCount(START)).toBe(3);
      expect(r.pipeline.signedCount).toBe(1);
      expect((await new SignLog(db).contents()).btp).toHaveLength(1);
      expect(r.pipeline.regossip()).toBe(1);

      // Accepted on chain: nothing pending, nothing kept.
      await r.pipeline.markRelayed(START);
      expect(r.pipeline.pendingCount).toBe(0);
      expect(await r.store.pending()).toEqual([]);
      expect(await r.store.signatures(START)).toEqual([]);
      expect(await r.store.relayedHeight()).toBe(START);
      await db.close();
    });
  });

  it('retries a block the home view cannot vouch for, and derives nothing meanwhile', async () => {
    await withTempDir(async (dir) => {
      const db = await openDatabase(dir, { log: silentLogger() });
      const stale = rig(db, 1);
      await stale.pipeline.init(initialDerivationState({ chain: genesis.state, nextHeight: START, activations: [[0, START]] }), undefined, -1, 0);
      const b = { ...block(START), timestamp: Math.floor(T0 / 1000) + 2 * 3_600 }; // mediantime beyond viewTime + margin
      expect(await stale.pipeline.processBlock(b, { nextHeight: START + 1, emitted: [] })).toBe('retry');
      expect(stale.pipeline.derivedHeight).toBe(START - 1);
      // The failure is visible (readiness turns false once it lasts: src/node/validator/readiness.ts),
      // and a second failure keeps the time the run of failures began.
      expect(stale.pipeline.lastError).toMatch(/home view|HOME_VIEW/i);
      const since = stale.pipeline.failingSince;
      expect(since).toBeTypeOf('number');
      expect(await stale.pipeline.processBlock(b, { nextHeight: START + 1, emitted: [] })).toBe('retry');
      expect(stale.pipeline.failingSince).toBe(since);
      expect(stale.published).toEqual([]);
      expect(await stale.store.loadDerivation()).toBeUndefined();
      await db.close();
    });
  });

  it('catching up below the height the home chain already accepted: derives and stores, signs into the sign-log only (no gossip, no relay)', async () => {
    await withTempDir(async (dir) => {
      const db = await openDatabase(dir, { log: silentLogger() });
      const r = rig(db, 2);
      await r.pipeline.init(initialDerivationState({ chain: genesis.state, nextHeight: START, activations: [[0, START]] }), undefined, START, 0);
      expect(await r.pipeline.processBlock(block(START), { nextHeight: START + 1, emitted: [] })).toBe('done');
      expect(r.pipeline.derivedHeight).toBe(START);
      expect(r.published).toEqual([]);
      expect(r.pipeline.pendingCount).toBe(0);
      expect(await r.store.pending()).toEqual([]);
      // Signed into the sign-log (so the node can record a late signature on chain), never gossiped.
      const btp = (await new SignLog(db).contents()).btp;
      expect(btp.map((e) => e.height)).toEqual([START]);
      expect(r.published).toEqual([]);
      await db.close();
    });
  });
});

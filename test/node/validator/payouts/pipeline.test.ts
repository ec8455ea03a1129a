import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from 'bitcoinjs-lib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bip143Sighash } from '../../../../src/chains/bitcoin/sighash.js';
import { signSighash, verifyWitnessSignature } from '../../../../src/chains/bitcoin/signer.js';
import { payoutSighashes } from '../../../../src/chains/bitcoin/payout-signing.js';
import { reverseBytes } from '../../../../src/chains/bitcoin/bytes.js';
import type { FederationScript } from '../../../../src/chains/bitcoin/scripts.js';
import { BridgeError } from '../../../../src/errors.js';
import { openDatabase, type NodeDb } from '../../../../src/node/db/database.js';
import { outpointKey, type LedgerEntry } from '../../../../src/consensus/ledger.js';
import { pino } from 'pino';
import { createLogger, silentLogger, type Logger } from '../../../../src/node/logger.js';
import { createMetrics, type MetricsFactory } from '../../../../src/node/metrics.js';
import { SignLog } from '../../../../src/node/signlog/index.js';
import { PayoutPipeline, type PayoutPipelineOptions } from '../../../../src/node/validator/payouts/pipeline.js';
import { addressOfKey } from '../../../../src/node/validator/payouts/sigs.js';
import { openPayoutSublevel, PayoutStore } from '../../../../src/node/validator/payouts/store.js';
import type { GossipVerdict, GossipWitness, WitnessGossip } from '../../../../src/node/validator/payouts/types.js';
import { P2WPKH, epochOf, randomHash, validators } from '../../../consensus/fixtures.js';
import { MemoryCoordinator, MemorySender } from './memory-coordinator.js';

const vals = validators(4, 'payout-pipeline');
const script: FederationScript = epochOf(0, vals, 0, 100).script; // 3-of-4 multisig
const addresses = vals.map((v) => addressOfKey(v.key.publicKey));
const hex = (tag: string): string => Buffer.from(randomHash(tag)).toString('hex');
const OPTIONS: Partial<PayoutPipelineOptions> = {
  timing: { collectAfterQuorumMs: 250, takeoverTimeoutMs: 15_000 },
  keeperTakeoverMs: 30_000,
  ownSubmitDelayMs: 30_000,
  regossipIntervalMs: 60_000,
  rebroadcastIntervalMs: 60_000,
  recordsRefreshMs: 0,
};

/** In-memory `payout-witness` topic: delivers to every other subscriber at once (gossipsub's emitSelf=false). */
class GossipBus {
  readonly handlers = new Map<string, (w: GossipWitness, meta: { signer: string }) => GossipVerdict | Promise<GossipVerdict>>();
  readonly verdicts: GossipVerdict[] = [];
  published = 0;
  offline = new Set<string>();
  endpoint(signer: string): WitnessGossip {
    return {
      publish: (w) => {
        this.published++;
        for (const [who, h] of this.handlers) if (who !== signer && !this.offline.has(who)) this.verdicts.push(h(w, { signer }) as GossipVerdict);
        return true;
      },
      subscribe: (h) => {
        this.handlers.set(signer, h);
        return () => this.handlers.delete(signer);
      },
    };
  }
}

/** Bitcoin node stand-in: accepts a transaction once, then answers like Core for a known one. */
class FakeBitcoin {
  readonly mempool = new Map<string, string>();
  sends = 0;
  async sendRawTransaction(h: string): Promise<string> {
    this.sends++;
    const txid = Transaction.fromHex(h).getId();
    if (this.mempool.has(txid)) throw new BridgeError({ code: 'BTC_TX_REJECTED', rpcCode: -26, reason: 'txn-already-in-mempool' });
    this.mempool.set(txid, h);
    return txid;
  }
  async getMempoolEntry(txid: string): Promise<{ height: number } | undefined> {
    return this.mempool.has(txid) ? { height: 1 } : undefined;
  }
  async getRawTransaction(txid: string): Promise<string> {
    const t = this.mempool.get(txid);
    if (t === undefined) throw new BridgeError({ code: 'BTC_RPC_ERROR', rpcCode: -5 });
    return t;
  }
}

interface Node {
  i: number;
  db: NodeDb;
  signLog: SignLog;
  sender: MemorySender;
  pipeline: PayoutPipeline;
  metrics: MetricsFactory;
}

describe('payout pipeline state machine (4 validators, in-memory coordinator and gossip bus, real level DBs)', () => {
  let dirs: string[];
  let nodes: Node[];
  let contract: MemoryCoordinator;
  let bus: GossipBus;
  let btc: FakeBitcoin;
  let now: number;
  /** Deposit outpoints per BTP height as the nodes' own derivation recorded them. */
  let derived: Map<number, { txid: string; vout: number }[]>;

  const make = (i: number, db: NodeDb, signLog: SignLog, log?: Logger): Node => {
    const metrics = createMetrics({ defaultMetrics: false });
    const sender = new MemorySender(addresses[i]!, contract);
    const pipeline = new PayoutPipeline(
      { signingKey: vals[i]!.key.privateKey, signLog, gossip: bus.endpoint(addresses[i]!), bitcoin: btc, contract, sender, store: openPayoutSublevel(db), log: log ?? (process.env['PAYOUT_DEBUG'] ? createLogger({ level: 'debug', pretty: false }) : silentLogger()), metrics, now: () => now, keepers: () => addresses, depositOutpoints: (h: number) => derived.get(h) },
      OPTIONS,
    );
    return { i, db, signLog, sender, pipeline, metrics };
  };

  beforeEach(async () => {
    now = 1_000_000;
    derived = new Map();
    contract = new MemoryCoordinator(new Map([[0, script]]), 0);
    contract.utxos = [
      { txid: hex('u1'), vout: 0, amountSats: 400_000n, height: 101, script, kind: 'p2wsh' },
      { txid: hex('u2'), vout: 3, amountSats: 250_000n, height: 102, script, kind: 'p2sh-p2wsh' },
    ];
    contract.queue = [
      { id: 1n, amountSats: 100_000n, outputScript: P2WPKH(1) },
      { id: 2n, amountSats: 80_000n, outputScript: P2WPKH(2) },
    ];
    bus = new GossipBus();
    btc = new FakeBitcoin();
    dirs = [];
    nodes = [];
    for (let i = 0; i < 4; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'fednode-payouts-'));
      dirs.push(dir);
      const db = await openDatabase(dir, { log: silentLogger() });
      nodes.push(make(i, db, new SignLog(db)));
    }
    for (const n of nodes) await n.pipeline.init();
  });

  afterEach(async () => {
    for (const n of nodes) await n.pipeline.stop();
    for (const n of nodes) await n.db.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const tickAll = async (who: Node[] = nodes): Promise<void> => {
    for (const n of who) await n.pipeline.tick();
  };
  const counter = async (n: Node, name: string, labels: Record<string, string>): Promise<number> => {
    const m = await n.metrics.registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
  };
  const checkWitnesses = (txHex: string): void => {
    const tx = Transaction.fromHex(txHex);
    const b = contract.batches.get(1n)!;
    tx.ins.forEach((inp, i) => {
      const u = b.plans[0]!.inputs[i]!;
      const sighash = bip143Sighash(tx, i, u.script.witnessScript, u.amountSats);
      // multisig: [<>, sig×3 in key order, ws]
      expect(inp.witness).toHaveLength(5);
      const sigs = inp.witness.slice(1, 4);
      for (const s of sigs) expect(u.script.keys.some((k) => verifyWitnessSignature(s, sighash, k))).toBe(true);
      expect(Buffer.from(inp.witness[4]!).equals(Buffer.from(u.script.witnessScript))).toBe(true);
    });
  };

  it('queued withdrawals → one keeper closes → all re-derive and sign → one submitter → approved → broadcast once, then re-broadcast as known', async () => {
    await tickAll();
    expect(contract.calls.filter((c) => c.fn === 'closeBatch')).toHaveLength(1);
    await tickAll(); // the closer and anyone who saw the batch after their turn sign; buffered gossip replayed
    await tickAll();
    for (const n of nodes) expect((await n.signLog.contents()).payouts).toHaveLength(2); // both inputs hold every key
    expect(bus.verdicts.every((v) => v === undefined)).toBe(true);
    now += 300; // past the collection deadline
    await tickAll();
    const submits = contract.calls.filter((c) => c.fn === 'submitSignatures');
    expect(submits).toHaveLength(1);
    expect(contract.batches.get(1n)!.approved).toBe(0n);
    expect(contract.batches.get(1n)!.records.map((r) => r.validator).sort()).toEqual([...addresses].sort());
    await tickAll();
    expect(btc.mempool.size).toBe(1);
    const [txid, txHex] = [...btc.mempool][0]!;
    expect(txid).toBe(contract.batches.get(1n)!.plans[0]!.txid);
    checkWitnesses(txHex);
    expect(btc.sends).toBe(4);
    for (const n of nodes) expect(await counter(n, 'fednode_payouts_broadcasts_total', {})).toBe(1);
    // rebroadcast while unconfirmed, "already in mempool" is success
    now += 61_000;
    await tickAll();
    expect(btc.sends).toBe(8);
    expect(await counter(nodes[0]!, 'fednode_payouts_broadcasts_total', { result: 'known' })).toBeGreaterThanOrEqual(1);
    // nobody needed to record its own signatures
    expect(contract.calls.filter((c) => c.fn === 'submitSignature')).toHaveLength(0);
    contract.confirm(1n);
    await tickAll();
    const rec = await new PayoutStore(openPayoutSublevel(nodes[0]!.db)).get(1n);
    expect(rec?.confirmed).toBe(true);
    expect(nodes[0]!.pipeline.status()).toEqual([]);
    now += 61_000;
    await tickAll();
    expect(btc.sends).toBe(8);
  });

  it('imports the BSH\'s pending deposit heights once (from the nodes\' own derivation, sorted as the contract checks), then closes a batch spending them', async () => {
    const d = (tag: string, vout: number, amountSats: bigint, height: number) => ({ txid: hex(tag), vout, amountSats, height, script, kind: 'p2wsh' as const });
    contract.pendingHeights = [
      { height: 103, utxos: [d('i1', 2, 50_000n, 103), d('i2', 0, 60_000n, 103), d('i1', 1, 70_000n, 103)] },
      { height: 105, utxos: [d('i3', 0, 80_000n, 105)] },
      { height: 107, utxos: [d('i4', 0, 90_000n, 107)] },
    ];
    for (const h of contract.pendingHeights) derived.set(h.height, h.utxos.map((u) => ({ txid: u.txid, vout: u.vout })));
    derived.delete(107); // not derived yet by the nodes: imported later
    await tickAll();
    expect(contract.calls.filter((c) => c.fn === 'importDeposits')).toHaveLength(1);
    expect(contract.importedHeights).toBe(2);
    expect(contract.batches.size).toBe(0); // closing waits for every height
    derived.set(107, [{ txid: hex('i4'), vout: 0 }]);
    await tickAll();
    expect(contract.calls.filter((c) => c.fn === 'importDeposits')).toHaveLength(2);
    expect(contract.importedHeights).toBe(3);
    await tickAll();
    expect(contract.batches.get(1n)!.plans[0]!.inputs.length).toBe(7);
  });

  it('refuses to sign when the contract publishes other bytes than the node derives (log, metric, persisted refusal)', async () => {
    contract.tamper = (t) => {
      t.outs[1]!.value -= 1n;
    };
    await tickAll();
    await tickAll();
    now += 10_000;
    await tickAll();
    for (const n of nodes) {
      expect((await n.signLog.contents()).payouts).toHaveLength(0);
      expect((await n.signLog.contents()).batches).toHaveLength(0);
      expect(await counter(n, 'fednode_payouts_rederive_total', { result: 'mismatch' })).toBe(1);
      const rec = await new PayoutStore(openPayoutSublevel(n.db)).get(1n);
      expect(rec?.refused).toEqual([{ version: '0', code: 'PAYOUT_TX_MISMATCH', at: expect.any(Number) as number }]);
    }
    expect(bus.published).toBe(0);
    expect(contract.batches.get(1n)!.approved).toBeUndefined();
    // a (faulty) validator's witness for the refused version is ignored, not buffered
    const w = { batchId: 1n, version: 0n, txid: new Uint8Array(32), inputs: [{ index: 0, signature: new Uint8Array(65) }] };
    expect(nodes[0]!.pipeline.onWitness(w, { signer: addresses[1]! })).toBe('ignore');
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'refused-version' })).toBe(1);
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'buffered' })).toBe(0);
  });

  it('restarts resume from the store without re-signing; an offline validator rebuilds the witness from WitnessRecorded, records its own signatures, and broadcasts', async () => {
    const d = nodes[3]!;
    bus.offline.add(addresses[3]!);
    const online = nodes.slice(0, 3);
    await tickAll(online);
    await tickAll(online);
    await tickAll(online);
    // node 0 crashes after signing and comes back on the same database
    const n0 = nodes[0]!;
    await n0.pipeline.stop();
    const signedBefore = (await n0.signLog.contents()).payouts.length;
    expect(signedBefore).toBe(2);
    nodes[0] = make(0, n0.db, n0.signLog);
    await nodes[0].pipeline.init();
    expect(nodes[0].pipeline.status()).toHaveLength(1);
    now += 300;
    await tickAll(online.map((n) => (n.i === 0 ? nodes[0]! : n)));
    await tickAll(nodes.slice(0, 3));
    expect(contract.batches.get(1n)!.approved).toBe(0n);
    expect(contract.batches.get(1n)!.records.map((r) => r.validator)).not.toContain(addresses[3]);
    expect((await nodes[0].signLog.contents()).payouts).toHaveLength(signedBefore);
    expect(btc.mempool.size).toBe(1);
    // node 3 comes online after approval: no gossip reaches it; it signs, assembles from the events, and later records its own
    await d.pipeline.stop();
    bus.offline.delete(addresses[3]!);
    nodes[3] = make(3, d.db, d.signLog);
    await nodes[3].pipeline.init();
    await nodes[3].pipeline.tick();
    expect(await counter(nodes[3], 'fednode_payouts_broadcasts_total', { result: 'known' })).toBe(1);
    expect(contract.calls.filter((c) => c.fn === 'submitSignature')).toHaveLength(0);
    now += 31_000;
    await nodes[3].pipeline.tick();
    const own = contract.calls.filter((c) => c.fn === 'submitSignature');
    expect(own).toHaveLength(1);
    expect(own[0]!.from).toBe(addresses[3]);
    expect(contract.batches.get(1n)!.records.map((r) => r.validator)).toContain(addresses[3]);
    await nodes[3].pipeline.tick();
    expect(contract.calls.filter((c) => c.fn === 'submitSignature')).toHaveLength(1);
  });

  it('a validator that comes back after the batch settled still records its own signatures (its duty), then stops following', async () => {
    // node 3 ran before (its cursor is at batch 1), then goes offline
    const queue = contract.queue;
    contract.queue = [];
    await nodes[3]!.pipeline.tick();
    contract.queue = queue;
    bus.offline.add(addresses[3]!);
    const online = nodes.slice(0, 3);
    for (let r = 0; r < 3; r++) await tickAll(online);
    now += 300;
    await tickAll(online);
    expect(contract.batches.get(1n)!.approved).toBe(0n);
    contract.confirm(1n);
    await nodes[3]!.pipeline.tick();
    const own = contract.calls.filter((c) => c.fn === 'submitSignature');
    expect(own.map((c) => c.from)).toEqual([addresses[3]]);
    expect(contract.batches.get(1n)!.records.map((r) => r.validator)).toContain(addresses[3]);
    expect((await new PayoutStore(openPayoutSublevel(nodes[3]!.db)).get(1n))?.confirmed).toBe(true);
    await nodes[3]!.pipeline.tick();
    expect(contract.calls.filter((c) => c.fn === 'submitSignature')).toHaveLength(1);
  });

  it('a version whose inputs stay below their epoch\'s threshold (too few of its members running) is reported by gauge and warning, nothing is submitted; it completes when they return', async () => {
    const lines: string[] = [];
    await nodes[0]!.pipeline.stop();
    nodes[0] = make(0, nodes[0]!.db, nodes[0]!.signLog, pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }));
    await nodes[0].pipeline.init();
    const warnings = (): { lacking: { input: number; epoch: number; signatures: number; threshold: number; keys: number }[]; epochs: number[]; kind: string }[] =>
      lines.filter((l) => l.includes('without quorum')).map((l) => JSON.parse(l) as never);
    // 2 of the 3-of-4 epoch's members running
    for (const a of addresses.slice(2)) bus.offline.add(a);
    const running = nodes.slice(0, 2);
    for (let r = 0; r < 3; r++) await tickAll(running);
    now += 300;
    await tickAll(running);
    expect(contract.calls.filter((c) => c.fn === 'submitSignatures')).toHaveLength(0);
    expect(await counter(nodes[0], 'fednode_payouts_inputs_without_quorum', {})).toBe(2);
    expect(warnings()).toHaveLength(0); // not before quorumWarnAfterMs (120 s)
    now += 120_000;
    await tickAll(running);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.kind).toBe('payout');
    expect(warnings()[0]!.epochs).toEqual([0]);
    expect(warnings()[0]!.lacking).toEqual([0, 1].map((input) => ({ input, epoch: 0, signatures: 2, threshold: 3, keys: 4 })));
    now += 1_000;
    await tickAll(running);
    expect(warnings()).toHaveLength(1); // at most once per quorumWarnAfterMs
    // the other members come back: quorum per input, one submission, approval; the gauge drops to 0
    bus.offline.clear();
    for (let r = 0; r < 8 && contract.batches.get(1n)!.approved === undefined; r++) {
      await tickAll();
      now += 16_000;
    }
    expect(contract.batches.get(1n)!.approved).toBe(0n);
    await tickAll();
    expect(await counter(nodes[0], 'fednode_payouts_inputs_without_quorum', {})).toBe(0);
  });

  it('refuses when the contract\'s sighashes differ from its own, and signs nothing while maySign refuses (then resumes)', async () => {
    const queue = contract.queue;
    contract.tamperSighashes = true;
    await tickAll();
    await tickAll();
    for (const n of nodes) expect((await new PayoutStore(openPayoutSublevel(n.db)).get(1n))?.refused.map((r) => r.code)).toEqual(['PAYOUT_SIGHASH_MISMATCH']);
    for (const n of nodes) expect((await n.signLog.contents()).payouts).toHaveLength(0);
    // a fresh validator database, a correct contract, but a stale home view: nothing signed until it is fresh
    contract.tamperSighashes = false;
    contract.batches.clear();
    contract.nextBatchId = 1n;
    contract.queue = queue;
    let allowed = false;
    const dir = await mkdtemp(join(tmpdir(), 'fednode-payouts-'));
    dirs.push(dir);
    const db = await openDatabase(dir, { log: silentLogger() });
    const signLog = new SignLog(db);
    const gated = new PayoutPipeline(
      { signingKey: vals[0]!.key.privateKey, signLog, gossip: bus.endpoint('gated'), bitcoin: btc, contract, sender: new MemorySender(addresses[0]!, contract), store: openPayoutSublevel(db), log: silentLogger(), now: () => now, keepers: () => addresses,
        maySign: () => {
          if (!allowed) throw new BridgeError({ code: 'CONSENSUS_HOME_VIEW_STALE' });
        } },
      { ...OPTIONS, keeper: false },
    );
    await gated.init();
    contract.closeBatch();
    await gated.tick();
    await gated.tick();
    expect((await signLog.contents()).payouts).toHaveLength(0);
    expect(gated.status()).toEqual([]);
    allowed = true;
    await gated.tick();
    expect((await signLog.contents()).payouts).toHaveLength(2);
    await gated.stop();
    await db.close();
  });

  it('with its own ledger: defers while an input is not derived yet, then signs; settled batches are not checked against it', async () => {
    const ledger = new Map<string, LedgerEntry>();
    const dir = await mkdtemp(join(tmpdir(), 'fednode-payouts-'));
    dirs.push(dir);
    const db = await openDatabase(dir, { log: silentLogger() });
    const signLog = new SignLog(db);
    const metrics = createMetrics({ defaultMetrics: false });
    const p = new PayoutPipeline(
      { signingKey: vals[1]!.key.privateKey, signLog, gossip: bus.endpoint('ledger'), bitcoin: btc, contract, sender: new MemorySender(addresses[1]!, contract), store: openPayoutSublevel(db), log: silentLogger(), metrics, now: () => now, keepers: () => addresses, ledger: () => (k: string) => ledger.get(k) },
      { ...OPTIONS, keeper: false },
    );
    await p.init();
    contract.closeBatch();
    const [u1, u2] = contract.utxos;
    ledger.set(outpointKey(u1!.txid, u1!.vout), { amountSats: u1!.amountSats, epoch: 0, kind: u1!.kind, height: u1!.height });
    await p.tick();
    expect((await signLog.contents()).payouts).toHaveLength(0);
    expect(await counter({ metrics } as Node, 'fednode_payouts_rederive_total', { result: 'deferred' })).toBe(1);
    ledger.set(outpointKey(u2!.txid, u2!.vout), { amountSats: u2!.amountSats, epoch: 0, kind: u2!.kind, height: u2!.height });
    await p.tick();
    expect((await signLog.contents()).payouts).toHaveLength(2);
    expect(await counter({ metrics } as Node, 'fednode_payouts_rederive_total', { result: 'match' })).toBe(1);
    await p.stop();
    await db.close();
  });

  it('judges gossip against its own sighashes: buffered before derivation, reject for invalid signatures, ignore for another txid', async () => {
    contract.closeBatch();
    const b = contract.batches.get(1n)!;
    const plan = b.plans[0]!;
    const sign = (i: number, hash: Uint8Array): Uint8Array => Uint8Array.of(...signSighash(hash, vals[i]!.key.privateKey).compact, signSighash(hash, vals[i]!.key.privateKey).recovery);
    const hashes = payoutSighashes(plan.tx!, plan.inputs);
    const txid = reverseBytes(Buffer.from(plan.txid!, 'hex'));
    const n0 = nodes[0]!.pipeline;
    // before node 0 derived the batch: buffered (accepted for forwarding), counted once it derives
    expect(n0.onWitness({ batchId: 1n, version: 0n, txid, inputs: [{ index: 0, signature: sign(1, hashes[0]!) }] }, { signer: addresses[1]! })).toBeUndefined();
    await nodes[0]!.pipeline.tick();
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'buffered' })).toBe(1);
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'counted' })).toBe(1);
    // a signature over another message recovers to a key outside the script: reject
    expect(n0.onWitness({ batchId: 1n, version: 0n, txid, inputs: [{ index: 1, signature: sign(2, hashes[0]!) }] }, { signer: addresses[2]! })).toBe('reject');
    // a witness for another transaction of this version: ignore (not our bytes)
    expect(n0.onWitness({ batchId: 1n, version: 0n, txid: new Uint8Array(32).fill(7), inputs: [{ index: 1, signature: sign(2, hashes[1]!) }] }, { signer: addresses[2]! })).toBe('ignore');
    // the right one is counted, and again is a duplicate
    expect(n0.onWitness({ batchId: 1n, version: 0n, txid, inputs: [{ index: 1, signature: sign(2, hashes[1]!) }] }, { signer: addresses[2]! })).toBeUndefined();
    n0.onWitness({ batchId: 1n, version: 0n, txid, inputs: [{ index: 1, signature: sign(2, hashes[1]!) }] }, { signer: addresses[2]! });
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'counted' })).toBe(2);
    expect(await counter(nodes[0]!, 'fednode_payouts_witness_signatures_total', { result: 'duplicate' })).toBe(1);
  });

  it('a due fee bump is sent once by rotation, the new version is signed by all (sign-log allows versions), approved and broadcast', async () => {
    await tickAll();
    await tickAll();
    await tickAll();
    now += 300;
    await tickAll();
    await tickAll();
    expect(btc.mempool.size).toBe(1);
    contract.bumpDue = true;
    await tickAll();
    expect(contract.calls.filter((c) => c.fn === 'bumpFee')).toHaveLength(1);
    await tickAll();
    await tickAll();
    for (const n of nodes) expect((await n.signLog.contents()).batches).toHaveLength(2);
    now += 300;
    await tickAll();
    await tickAll();
    const b = contract.batches.get(1n)!;
    expect(b.approved).toBe(1n);
    expect(btc.mempool.has(b.plans[1]!.txid!)).toBe(true);
    expect(b.plans[1]!.changeSats).toBeLessThan(b.plans[0]!.changeSats);
  });
});

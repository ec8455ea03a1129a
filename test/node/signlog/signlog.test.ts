import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex, keccak256 } from '../../../src/chains/btp/bytes.js';
import { buildPayout, bumpPayoutFee, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../../src/chains/bitcoin/payout.js';
import { openDatabase, type NodeDb } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { createMetrics } from '../../../src/node/metrics.js';
import { SignLog } from '../../../src/node/signlog/signlog.js';
import { closedBatchVersion } from '../../../src/consensus/batch-version.js';
import { createConsensusMetrics } from '../../../src/consensus/metrics.js';
import { isBridgeError } from '../../../src/errors.js';
import { P2WPKH, epochOf, randomHash, validators } from '../../consensus/fixtures.js';

const e0 = epochOf(0, validators(3, 'signlog'), 0, 100);
const utxo = (tag: string, amount: bigint, height: number): FederationUtxo => ({ txid: Buffer.from(randomHash(tag)).toString('hex'), vout: 0, amountSats: amount, height, script: e0.script, kind: 'p2wsh' });
const plan = buildPayout({
  batchId: 9n,
  reserve: utxo('sl-res', 400_000n, 100),
  deposits: [utxo('sl-dep', 200_000n, 101)],
  withdrawals: [{ id: 1n, amountSats: 150_000n, outputScript: P2WPKH(2) }],
  changeScript: e0.script,
  limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 1_000n },
});
const bumped = bumpPayoutFee({ plan, feeRateSatPerKvB: 5_000n, maxExtraFeeSats: 100_000n });
const v1 = closedBatchVersion(9n, plan.tx!, plan.inputs);
const v2 = closedBatchVersion(9n, bumped.tx!, bumped.inputs);
const A = toHex(keccak256(Uint8Array.of(1)));
const B = toHex(keccak256(Uint8Array.of(2)));

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isBridgeError(e, 'SIGNLOG_REFUSED') ? String(e.context.rule) : `unexpected ${String(e)}`;
  }
}

describe('sign-log on a real level database', () => {
  let dir: string;
  let db: NodeDb;
  const open = async () => (db = await openDatabase(dir, { log: silentLogger() }));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fednode-signlog-'));
    await open();
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second decision for a BTP height across a restart; the same decision again is an idempotent re-sign', async () => {
    const factory = createMetrics({ defaultMetrics: false });
    const log = new SignLog(db, { metrics: createConsensusMetrics(factory) });
    expect(await log.authorizeBtp({ height: 5, decisionHash: A, btcBlockHash: 'ab'.repeat(32) }, 1_000)).toBe('new');
    expect(await log.authorizeBtp({ height: 5, decisionHash: A.toUpperCase().replace('0X', '0x') }, 2_000)).toBe('repeat');
    expect(await refusal(log.authorizeBtp({ height: 5, decisionHash: B }, 3_000))).toBe('btp-conflict');
    expect(await factory.registry.metrics()).toMatch(/fednode_signlog_refusals_total\{rule="btp-conflict"\} 1/);

    await db.close();
    await open();
    const again = new SignLog(db);
    expect(await refusal(again.authorizeBtp({ height: 5, decisionHash: B }, 4_000))).toBe('btp-conflict');
    expect(await again.authorizeBtp({ height: 5, decisionHash: A }, 4_000)).toBe('repeat');
    expect(await again.authorizeBtp({ height: 6, decisionHash: B }, 4_000)).toBe('new');
    expect(await again.highestSignedHeight()).toBe(6);
  });

  it('serialises concurrent requests: of two different decisions for one height exactly one wins', async () => {
    const log = new SignLog(db);
    const results = await Promise.allSettled([log.authorizeBtp({ height: 9, decisionHash: A }, 1), log.authorizeBtp({ height: 9, decisionHash: B }, 1)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('allows only sighashes of closed batches, any fee-bumped version of the same batch, across a restart', async () => {
    const log = new SignLog(db);
    const req = (v: typeof v1, i: number) => ({ batchId: v.batchId, txid: v.txid, inputIndex: i, sighash: v.sighashes[i]! });
    expect(await refusal(log.authorizePayout([req(v1, 0)], 1))).toBe('batch-not-closed');
    expect(await log.registerClosedBatch(v1)).toBe('new');
    expect(await log.registerClosedBatch(v1)).toBe('repeat');
    await log.authorizePayout([req(v1, 0), req(v1, 1)], 2);
    await log.authorizePayout([req(v1, 0)], 3); // idempotent
    // a sighash that is not that version's input sighash (here: the other input's)
    expect(await refusal(log.authorizePayout([{ ...req(v1, 0), sighash: v1.sighashes[1]! }], 4))).toBe('sighash-not-of-batch');
    // the bump is not closed yet
    expect(await refusal(log.authorizePayout([req(v2, 0)], 5))).toBe('batch-not-closed');
    // a "version" spending other outpoints is not a version of this batch
    expect(await refusal(log.registerClosedBatch({ ...v2, outpoints: [v2.outpoints[1]!, v2.outpoints[0]!] }))).toBe('batch-inputs-differ');

    await db.close();
    await open();
    const again = new SignLog(db);
    expect(v2.txid).not.toBe(v1.txid);
    expect(v2.outpoints).toEqual(v1.outpoints);
    expect(await again.registerClosedBatch(v2)).toBe('new');
    await again.authorizePayout([req(v2, 0), req(v2, 1)], 6);
    // all-or-nothing: one bad request refuses the whole call and writes nothing
    const bogus = { batchId: 9n, txid: v2.txid, inputIndex: 1, sighash: toHex(keccak256(Uint8Array.of(3))) };
    expect(await refusal(again.authorizePayout([req(v1, 1), bogus], 7))).toBe('sighash-not-of-batch');
    expect((await again.contents()).payouts).toHaveLength(4);
  });

  it('halts on a reorg touching a signed height, refuses to sign until the operator clears it, across a restart', async () => {
    const log = new SignLog(db);
    await log.authorizeBtp({ height: 20, decisionHash: A }, 1);
    expect(await log.onReorg({ forkHeight: 21 }, 2)).toBeUndefined();
    const halt = await log.onReorg({ forkHeight: 20, detail: 'test' }, 3);
    expect(halt).toMatchObject({ reason: 'reorg', height: 20, signedHeight: 20 });
    expect(await refusal(log.authorizeBtp({ height: 21, decisionHash: B }, 4))).toBe('halted');
    await db.close();
    await open();
    const again = new SignLog(db);
    expect(await refusal(again.authorizeBtp({ height: 21, decisionHash: B }, 5))).toBe('halted');
    expect(await again.clearHalt()).toMatchObject({ height: 20 });
    expect(await again.authorizeBtp({ height: 21, decisionHash: B }, 6)).toBe('new');
    await expect(again.clearHalt()).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'SIGNLOG_NOT_HALTED'));
  });
});

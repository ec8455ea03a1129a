import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nobleBackend } from '../../../src/chains/btp/secp256k1.js';
import { recoverSigner } from '../../../src/chains/btp/sign.js';
import { keccak256 } from '../../../src/chains/btp/bytes.js';
import { buildPayout, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../../src/chains/bitcoin/payout.js';
import { verifyInputSignature } from '../../../src/chains/bitcoin/payout-signing.js';
import { closedBatchVersion } from '../../../src/consensus/batch-version.js';
import { isBridgeError } from '../../../src/errors.js';
import { openDatabase, type NodeDb } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { SignLog, signBtpBlock, signPayoutVersion } from '../../../src/node/signlog/index.js';
import { P2WPKH, epochOf, randomHash, validators } from '../../consensus/fixtures.js';

const vals = validators(3, 'sign-helpers');
const e0 = epochOf(0, vals, 0, 100);
const u: FederationUtxo = { txid: Buffer.from(randomHash('sh-u')).toString('hex'), vout: 0, amountSats: 300_000n, height: 100, script: e0.script, kind: 'p2wsh' };
const plan = buildPayout({ batchId: 2n, reserve: u, deposits: [], withdrawals: [{ id: 1n, amountSats: 50_000n, outputScript: P2WPKH(3) }], changeScript: e0.script, limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 1_000n } });
const header = (height: number) => ({ mainHeight: height }) as never;

describe('signing through the sign-log', () => {
  let dir: string;
  let db: NodeDb;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fednode-sign-'));
    db = await openDatabase(dir, { log: silentLogger() });
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs a BTP decision only after logging it, and never a second decision for the height', async () => {
    const log = new SignLog(db);
    const a = keccak256(Uint8Array.of(1));
    const sig = await signBtpBlock(log, { decisionHash: a, header: header(7) }, undefined, vals[0]!.key.privateKey, 1, nobleBackend);
    expect(recoverSigner(a, sig, nobleBackend)).toEqual(vals[0]!.address);
    expect((await log.contents()).btp).toHaveLength(1);
    await expect(signBtpBlock(log, { decisionHash: keccak256(Uint8Array.of(2)), header: header(7) }, undefined, vals[0]!.key.privateKey, 2, nobleBackend)).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'SIGNLOG_REFUSED'));
  });

  it('signs payout inputs only of a registered closed batch version', async () => {
    const log = new SignLog(db);
    await expect(signPayoutVersion(log, 2n, plan.tx!, plan.inputs, vals[1]!.key.privateKey, 1)).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'SIGNLOG_REFUSED'));
    expect((await log.contents()).payouts).toHaveLength(0);
    await log.registerClosedBatch(closedBatchVersion(2n, plan.tx!, plan.inputs));
    const sigs = await signPayoutVersion(log, 2n, plan.tx!, plan.inputs, vals[1]!.key.privateKey, 2);
    expect(sigs).toHaveLength(1);
    expect(verifyInputSignature(plan.tx!, plan.inputs, 0, sigs[0]!.keyIndex, sigs[0]!.signature.der)).toBe(true);
    expect((await log.contents()).payouts).toHaveLength(1);
  });
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keccak256, toHex } from '../../../src/chains/btp/bytes.js';
import { buildPayout, bumpPayoutFee, DEFAULT_PAYOUT_LIMITS, type FederationUtxo } from '../../../src/chains/bitcoin/payout.js';
import { closedBatchVersion } from '../../../src/consensus/batch-version.js';
import { SIGNLOG_FORMAT, SIGNLOG_FORMAT_VERSION, type SignLogExport } from '../../../src/consensus/signlog-format.js';
import { isBridgeError } from '../../../src/errors.js';
import { registerSignlogCommands } from '../../../src/node/cli/commands/signlog.js';
import { LOCK_FILE } from '../../../src/node/datadir/lock.js';
import { openDatabase } from '../../../src/node/db/database.js';
import { silentLogger } from '../../../src/node/logger.js';
import { SignLog } from '../../../src/node/signlog/signlog.js';
import { P2WPKH, epochOf, randomHash, validators } from '../../consensus/fixtures.js';
import { runInProcess, type InProcessResult } from '../../helpers/commander.js';

const run = (args: string[]): Promise<InProcessResult> =>
  runInProcess(registerSignlogCommands, args, { globalOptions: (p) => p.option('-d, --datadir <dir>') });

const e0 = epochOf(0, validators(3, 'cli-signlog'), 0, 100);
const utxo = (tag: string, amount: bigint, height: number): FederationUtxo => ({ txid: Buffer.from(randomHash(tag)).toString('hex'), vout: 0, amountSats: amount, height, script: e0.script, kind: 'p2wsh' });
const plan = buildPayout({
  batchId: 3n,
  reserve: utxo('cli-res', 400_000n, 100),
  deposits: [utxo('cli-dep', 200_000n, 101)],
  withdrawals: [{ id: 1n, amountSats: 150_000n, outputScript: P2WPKH(2) }],
  changeScript: e0.script,
  limits: { ...DEFAULT_PAYOUT_LIMITS, feeRateSatPerKvB: 1_000n },
});
const v1 = closedBatchVersion(3n, plan.tx!, plan.inputs);
const v2 = closedBatchVersion(3n, bumpPayoutFee({ plan, feeRateSatPerKvB: 4_000n, maxExtraFeeSats: 50_000n }).tx!, plan.inputs);
const H = (i: number) => toHex(keccak256(Uint8Array.of(i)));

describe('fednode signlog export|import', () => {
  let root: string;
  let a: string;
  let b: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'fednode-cli-signlog-'));
    a = join(root, 'a');
    b = join(root, 'b');
    const db = await openDatabase(a, { log: silentLogger() });
    const log = new SignLog(db);
    await log.authorizeBtp({ height: 10, decisionHash: H(1), btcBlockHash: 'cd'.repeat(32) }, 1_000);
    await log.authorizeBtp({ height: 12, decisionHash: H(2) }, 2_000);
    for (const v of [v1, v2]) {
      await log.registerClosedBatch(v);
      await log.authorizePayout(v.sighashes.map((s, i) => ({ batchId: v.batchId, txid: v.txid, inputIndex: i, sighash: s })), 3_000);
    }
    await db.close();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('round-trips: export, import into another data dir, export again gives the same document; re-import merges', async () => {
    const ex = await run(['signlog', 'export', '--datadir', a]);
    expect(ex.error).toBeNull();
    const doc = JSON.parse(ex.out) as SignLogExport;
    expect([doc.format, doc.version]).toEqual([SIGNLOG_FORMAT, SIGNLOG_FORMAT_VERSION]);
    expect(doc.btp.map((e) => [e.height, e.decisionHash])).toEqual([[10, H(1)], [12, H(2)]]);
    expect(doc.batches.map((x) => x.txid).sort()).toEqual([v1.txid, v2.txid].sort());
    expect(doc.payouts).toHaveLength(4);

    const file = join(root, 'a.json');
    expect((await run(['signlog', 'export', '--datadir', a, '--out', file])).error).toBeNull();
    const imp = await run(['signlog', 'import', '--datadir', b, file]);
    expect(imp.error).toBeNull();
    expect(JSON.parse(imp.out)).toEqual({ added: { btp: 2, batches: 2, payouts: 4, halt: false }, identical: 0 });
    const exB = await run(['signlog', 'export', '--datadir', b]);
    expect(exB.out).toBe(ex.out);

    const again = await run(['signlog', 'import', '--datadir', b, file]);
    expect(JSON.parse(again.out)).toEqual({ added: { btp: 0, batches: 0, payouts: 0, halt: false }, identical: 8 });

    // The imported log protects the new node: a different decision at height 10 is refused.
    const db = await openDatabase(b, { log: silentLogger() });
    try {
      await expect(new SignLog(db).authorizeBtp({ height: 10, decisionHash: H(9) }, 1)).rejects.toSatisfy((e: unknown) => isBridgeError(e, 'SIGNLOG_REFUSED'));
    } finally {
      await db.close();
    }
  });

  it('refuses a conflicting import as a whole, and a malformed or unknown-version document', async () => {
    const doc = JSON.parse((await run(['signlog', 'export', '--datadir', a])).out) as SignLogExport;
    const conflicting = { ...doc, btp: [{ ...doc.btp[0]!, decisionHash: H(7) }, { height: 99, decisionHash: H(8), signedAt: 1 }] };
    const file = join(root, 'conflict.json');
    await writeFile(file, JSON.stringify(conflicting));
    const r = await run(['signlog', 'import', '--datadir', a, file]);
    expect(isBridgeError(r.error, 'SIGNLOG_IMPORT_CONFLICT')).toBe(true);
    // nothing of it was written (height 99 is absent)
    const after = JSON.parse((await run(['signlog', 'export', '--datadir', a])).out) as SignLogExport;
    expect(after).toEqual(doc);

    await writeFile(file, JSON.stringify({ ...doc, version: 2 }));
    expect(isBridgeError((await run(['signlog', 'import', '--datadir', a, file])).error, 'SIGNLOG_BAD_EXPORT')).toBe(true);
    await writeFile(file, JSON.stringify({ ...doc, payouts: [{ ...doc.payouts[0]!, sighash: H(5) }] }));
    const stray = await run(['signlog', 'import', '--datadir', a, file]);
    expect(isBridgeError(stray.error, 'SIGNLOG_IMPORT_CONFLICT')).toBe(true);
  });

  it('refuses to run while the node holds the data-dir lock', async () => {
    const file = join(root, 'a.json');
    await run(['signlog', 'export', '--datadir', a, '--out', file]);
    // a live process (our parent) owns the lock, as a running node would
    await writeFile(join(a, LOCK_FILE), `${process.ppid}\n`);
    const r = await run(['signlog', 'import', '--datadir', a, file]);
    expect(isBridgeError(r.error, 'DATADIR_LOCKED')).toBe(true);
    expect(await readFile(join(a, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('shows status and clears a halt only with --yes', async () => {
    const db = await openDatabase(a, { log: silentLogger() });
    await new SignLog(db).onReorg({ forkHeight: 11 }, 5);
    await db.close();
    const st = JSON.parse((await run(['signlog', 'status', '--datadir', a])).out) as { highestSignedHeight: number; halt: { height: number } | null };
    expect(st.highestSignedHeight).toBe(12);
    expect(st.halt?.height).toBe(11);
    expect(isBridgeError((await run(['signlog', 'clear-halt', '--datadir', a])).error, 'SIGNLOG_CONFIRM_REQUIRED')).toBe(true);
    expect((await run(['signlog', 'clear-halt', '--datadir', a, '--yes'])).error).toBeNull();
    expect((JSON.parse((await run(['signlog', 'status', '--datadir', a])).out) as { halt: unknown }).halt).toBeNull();
  });
});

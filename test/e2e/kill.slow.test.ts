import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { FEDNODE_BIN, spawnFednode, getJson, type ManagedChild } from '../../src/node/devnet/processes.js';
import { openDatabase } from '../../src/node/db/database.js';
import { silentLogger } from '../../src/node/logger.js';
import { SignLog } from '../../src/node/signlog/signlog.js';
import { freePort, startHarness, waitFor, type Harness } from './harness.js';

interface Status {
  btp: { lastSignedHeight: number; lastRelayedHeight: number };
  signatures: { btp: number };
  bitcoin: { derivedHeight: number };
}

/**
 * A validator run as a child process (`node bin/fednode.js start`, needs `npm run build`) is
 * killed with SIGKILL after it signed a block and while that block is still collecting
 * signatures (the two other validators it needs are not running yet). Restarted, it resumes the
 * collection from its database: the block gets its quorum with the child's signature, and the
 * child's sign-log still holds the one decision it signed before the kill.
 */
describe('a validator killed with SIGKILL during collection resumes without signing twice', () => {
  let h: Harness;
  let child: ManagedChild | undefined;
  beforeAll(async () => {
    if (!existsSync(join(FEDNODE_BIN, '../../dist/node/cli/main.js'))) throw new Error('run `npm run build` first: this test starts bin/fednode.js');
    h = await startHarness({ validators: 4, confirmations: 2 });
  }, 180_000);
  afterAll(async () => {
    await child?.stop();
    await h?.stop();
  });

  it('signs, is killed, restarts, and its signature completes the quorum', async () => {
    const x = h.nodes[3]!;
    const httpPort = await freePort();
    const config = await h.writeDataDir(3, httpPort);
    const logFile = join(x.dir, 'node.log');
    const status = (): Promise<Status | undefined> => getJson<Status>(`http://127.0.0.1:${httpPort}/status`);
    const start = async (): Promise<ManagedChild> => {
      const c = spawnFednode('v3', ['start', '--config', config], logFile);
      await waitFor(async () => (await status()) !== undefined || c.exitCode() !== 'running', 60_000, 'the child validator to answer /status');
      if (c.exitCode() !== 'running') throw new Error(`child exited (${String(c.exitCode())}); see ${logFile}`);
      return c;
    };
    child = await start();

    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-kill-recipient'))).address;
    await h.deposit(recipient, 150_000n);
    await h.mine(1);
    const height = await h.btc.rpc.getBlockCount();
    await h.mine(1);
    await waitFor(async () => (await status())?.btp.lastSignedHeight === height, 30_000, 'the child to sign the block').catch(async (err: unknown) => {
      console.error((await readFile(logFile, 'utf8')).split('\n').slice(-30).join('\n'), JSON.stringify(await status()));
      throw err;
    });
    child.child.kill('SIGKILL');
    await child.exited;
    const killedAt = Date.now();
    child = undefined;
    expect(Number(await h.bmv.getFunction('getHeight')())).toBeLessThan(height); // 1 of 4: still collecting

    await h.startNode(0);
    await h.startNode(1);
    child = await start();
    await waitFor(async () => (await h.balance(recipient)) === 150_000n, 60_000, 'the deposit minted with the resumed collection');
    const s = await status();
    expect(s?.signatures.btp).toBe(1);

    // The child's signature is in the accepted proof (3 of 4: it was needed).
    const validators = h.deployed.epoch0;
    const idx = validators.indexOf(x.address);
    const [signers] = (await h.bmv.getFunction('blockRecord')(height)) as [bigint];
    expect((signers >> BigInt(idx)) & 1n).toBe(1n);

    await child.stop();
    child = undefined;
    const db = await openDatabase(x.dir, { log: silentLogger() });
    try {
      const entries = (await new SignLog(db).contents()).btp.filter((e) => e.height === height);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.signedAt).toBeLessThan(killedAt);
      const [ev] = await h.bmv.queryFilter(h.bmv.filters.BlockAccepted!(height));
      expect(entries[0]!.decisionHash).toBe((ev as unknown as { args: [bigint, string] }).args[1].toLowerCase());
    } finally {
      await db.close();
    }
  });
});

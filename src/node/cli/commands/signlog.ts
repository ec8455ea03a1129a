import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { BridgeError } from '../../../errors.js';
import { parseExport, toExport } from '../../../consensus/signlog-format.js';
import { acquireDataDirLock } from '../../datadir/lock.js';
import { openDatabase } from '../../db/database.js';
import { silentLogger } from '../../logger.js';
import { SignLog } from '../../signlog/signlog.js';
import { globalsOf, offlineDataDir, printJson, writeLine, type CliIo } from '../context.js';

/**
 * `fednode signlog export|import|status|clear-halt` (docs/CONSENSUS.md §4-5).
 * Every subcommand takes the data-dir lock, so it refuses to run while the
 * node is running (DATADIR_LOCKED): the sign-log must never change under a
 * signing node, and LevelDB admits one process anyway.
 */
async function withSignLog<T>(dataDir: string, create: boolean, fn: (log: SignLog) => Promise<T>): Promise<T> {
  if (!existsSync(dataDir)) {
    if (!create) throw new BridgeError({ code: 'SIGNLOG_NO_DATADIR', message: `data directory ${dataDir} does not exist`, dataDir });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  }
  const lock = acquireDataDirLock(dataDir);
  try {
    const db = await openDatabase(dataDir, { log: silentLogger() });
    try {
      return await fn(new SignLog(db));
    } finally {
      await db.close();
    }
  } finally {
    lock.release();
  }
}

export function registerSignlogCommands(program: Command, io: CliIo): void {
  const signlog = program
    .command('signlog')
    .description('inspect, back up and restore the sign-log (offline: the node must be stopped)')
    .addHelpText('after', '\nThe sign-log keeps this validator from signing two decisions for one BTP height, or a Bitcoin\nsighash of a batch the contract never closed. Move it with the signing key: export on the old\nmachine, import on the new one before the first start.');

  signlog
    .command('export')
    .description('print the sign-log as JSON (format fednode-signlog, version 1)')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .action(async (opts: { out?: string }, cmd: Command) => {
      const doc = await withSignLog(offlineDataDir(globalsOf(cmd), io.env), false, async (log) => toExport(await log.contents()));
      if (opts.out === undefined) return printJson(io.stdout, doc);
      const tmp = `${opts.out}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
      await rename(tmp, opts.out);
      writeLine(io.stderr, `sign-log written to ${opts.out} (${doc.btp.length} BTP heights, ${doc.batches.length} batch versions, ${doc.payouts.length} payout signatures)`);
    });

  signlog
    .command('import')
    .description('merge an exported sign-log: identical entries merge, any conflict refuses the whole import')
    .argument('<file>', 'a file written by "fednode signlog export"')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new BridgeError({ code: 'SIGNLOG_IMPORT_UNREADABLE', message: `cannot read ${file}: ${err.code ?? err.message}`, file });
      });
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new BridgeError({ code: 'SIGNLOG_BAD_EXPORT', message: `${file} is not JSON`, file });
      }
      const incoming = parseExport(json);
      const plan = await withSignLog(offlineDataDir(globalsOf(cmd), io.env), true, (log) => log.importContents(incoming));
      printJson(io.stdout, {
        added: { btp: plan.add.btp.length, batches: plan.add.batches.length, payouts: plan.add.payouts.length, halt: plan.add.halt !== undefined },
        identical: plan.identical,
      });
    });

  signlog
    .command('status')
    .description('highest signed BTP height, entry counts, and whether signing is halted')
    .action(async (_opts: unknown, cmd: Command) => {
      const status = await withSignLog(offlineDataDir(globalsOf(cmd), io.env), false, async (log) => {
        const c = await log.contents();
        return { highestSignedHeight: (await log.highestSignedHeight()) ?? null, btp: c.btp.length, batches: c.batches.length, payouts: c.payouts.length, halt: c.halt ?? null };
      });
      printJson(io.stdout, status);
    });

  signlog
    .command('clear-halt')
    .description('resume signing after a reorg halt (a governance-approved operator step, docs/CONSENSUS.md §5)')
    .option('--yes', 'confirm: the reorg has been investigated and resuming was approved')
    .action(async (opts: { yes?: boolean }, cmd: Command) => {
      if (!opts.yes) throw new BridgeError({ code: 'SIGNLOG_CONFIRM_REQUIRED', message: 'clearing a signing halt needs --yes (see docs/CONSENSUS.md §5)' });
      const cleared = await withSignLog(offlineDataDir(globalsOf(cmd), io.env), false, (log) => log.clearHalt());
      printJson(io.stdout, { cleared });
    });
}

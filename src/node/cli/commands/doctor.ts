import type { Command } from 'commander';
import { runDoctor, type CheckStatus } from '../../doctor/checks.js';
import { globalsOf, loadEffectiveConfig, printJson, writeLine, type CliIo } from '../context.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function registerDoctorCommand(program: Command, io: CliIo): void {
  program
    .command('doctor')
    .description('check the node\'s surroundings: RPCs and chain ids, contracts, key registration, peers, clock')
    .option('--timeout <ms>', 'per network call', (v) => Number.parseInt(v, 10), 5000)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExits 1 when any check fails. Changes nothing.')
    .action(async (opts: { timeout: number; json?: boolean }, cmd: Command) => {
      const loaded = loadEffectiveConfig(globalsOf(cmd), io.env);
      const results = await runDoctor({ config: loaded.config, dataDir: loaded.dataDir, timeoutMs: opts.timeout });
      const failed = results.filter((r) => r.status === 'fail').length;
      if (opts.json) printJson(io.stdout, { ok: failed === 0, checks: results });
      else {
        const width = Math.max(...results.map((r) => r.name.length));
        for (const r of results) writeLine(io.stdout, `${MARK[r.status]}  ${r.name.padEnd(width)}  ${r.detail}`);
        writeLine(io.stdout, failed === 0 ? '\nall checks passed' : `\n${failed} check${failed === 1 ? '' : 's'} failed`);
      }
      if (failed > 0) process.exitCode = 1;
    });
}

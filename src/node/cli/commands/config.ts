import type { Command } from 'commander';
import { stringify as toToml } from 'smol-toml';
import { BridgeError } from '../../../errors.js';
import { ConfigInvalidError, formatProblem } from '../../config/load.js';
import { redactConfig } from '../../config/redact.js';
import { configPath, globalsOf, loadEffectiveConfig, printJson, writeLine, type CliIo } from '../context.js';

export function registerConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('inspect and check the node configuration');

  config
    .command('validate')
    .description('check the effective config (file + FEDNODE_* env + flags); list every problem with its path')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      try {
        const loaded = loadEffectiveConfig(g, io.env);
        for (const w of loaded.warnings) writeLine(io.stderr, `warning: ${w}`);
        if (opts.json) return printJson(io.stdout, { ok: true, file: loaded.file ?? null, warnings: loaded.warnings });
        writeLine(io.stdout, `config OK (${loaded.file ?? `no file at ${configPath(g, io.env)}; defaults and environment`})`);
      } catch (err) {
        if (err instanceof ConfigInvalidError) {
          if (opts.json) printJson(io.stdout, { ok: false, problems: err.problems });
          else {
            writeLine(io.stderr, `config has ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}:`);
            for (const p of err.problems) writeLine(io.stderr, `  ${formatProblem(p)}`);
          }
          process.exitCode = 1;
          return;
        }
        if (err instanceof BridgeError && opts.json) {
          printJson(io.stdout, { ok: false, problems: [{ path: '(file)', message: err.message }] });
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });

  config
    .command('dump')
    .description('print the effective config with secrets redacted')
    .option('--json', 'print JSON instead of TOML')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const loaded = loadEffectiveConfig(globalsOf(cmd), io.env);
      for (const w of loaded.warnings) writeLine(io.stderr, `warning: ${w}`);
      const safe = redactConfig(loaded.config);
      if (opts.json) return printJson(io.stdout, safe);
      io.stdout.write(`# effective fednode config${loaded.file ? ` (file: ${loaded.file})` : ''}; secrets redacted\n`);
      io.stdout.write(toToml(safe) + '\n');
    });
}

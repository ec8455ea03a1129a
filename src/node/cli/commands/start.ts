import type { Command } from 'commander';
import { loadEffectiveConfig, globalsOf, loggerFor, type CliIo } from '../context.js';
import { startNode } from '../../runtime.js';

export function registerStartCommand(program: Command, io: CliIo): void {
  program
    .command('start')
    .description('run the validator node until SIGINT/SIGTERM')
    .option('--password-file <file>', 'keystore password file (overrides keys.passwordFile)')
    .addHelpText('after', '\nStops cleanly on SIGINT or SIGTERM; a second signal forces an immediate exit.')
    .action(async (opts: { passwordFile?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const loaded = loadEffectiveConfig(g, io.env);
      const log = loggerFor(loaded, g);
      for (const w of loaded.warnings) log.warn(w);
      const node = await startNode({
        loaded,
        log,
        password: { ...(opts.passwordFile ? { passwordFile: opts.passwordFile } : {}), env: io.env, stdin: io.stdin, stderr: io.stderr },
      });
      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals): void => {
          signals++;
          if (signals > 1) {
            log.warn({ signal }, 'second signal: forcing exit');
            process.exit(1);
          }
          log.info({ signal }, 'shutting down (send the signal again to force)');
          node.stop().then(resolve, (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}

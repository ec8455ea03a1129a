import { Command, CommanderError, Option } from 'commander';
import { BridgeError } from '../../errors.js';
import { LOG_LEVELS } from '../config/schema.js';
import { VERSION } from '../version.js';
import { registerBtpCommands } from './commands/btp.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDevnetCommands } from './commands/devnet.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerInitCommand } from './commands/init.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerOperatorCommands } from './commands/operator.js';
import { registerSignlogCommands } from './commands/signlog.js';
import { registerStartCommand } from './commands/start.js';
import { registerStatusCommand } from './commands/status.js';
import type { CliIo } from './context.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function buildProgram(io: CliIo): Command {
  const program = new Command('fednode')
    .description('Validator node for the federated Bitcoin <-> EVM bridge')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'config file (env FEDNODE_CONFIG; default <datadir>/config.toml)')
    .option('-d, --datadir <dir>', 'data directory (env FEDNODE_DATADIR; default ~/.fednode)')
    .option('--set <path=value>', 'override one config value, e.g. --set bitcoin.rpcUrl=http://127.0.0.1:18443 (repeatable)', collect)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Getting started:
  fednode init --network devnet      write a config and data directory
  fednode keys new                   create the encrypted signing key
  fednode config validate            check the config
  fednode start                      run the node

Try it locally:
  fednode devnet                     a whole federation on this machine (Ctrl-C stops it)
  fednode demo                       one transfer each way through it`,
  );

  registerInitCommand(program, io);
  registerKeysCommands(program, io);
  registerConfigCommands(program, io);
  registerStartCommand(program, io);
  registerStatusCommand(program, io);
  registerDoctorCommand(program, io);
  registerSignlogCommands(program, io);
  registerBtpCommands(program, io);
  registerDevnetCommands(program, io);
  registerOperatorCommands(program, io);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/**
 * Run the CLI; resolves to the process exit code. Errors are printed as one
 * clear line (`error: ...`), never a stack trace, unless --log-level debug.
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors have already been printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof BridgeError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`error: unexpected failure: ${(err as Error).message}\n`);
    if (argv.includes('debug') || argv.includes('trace')) io.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 1;
  }
}

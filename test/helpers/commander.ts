import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import type { CliIo } from '../../src/node/cli/context.js';

export interface InProcessResult {
  out: string;
  err: string;
  /** What the command threw (commander exits become CommanderErrors), or null. */
  error: unknown;
}

/**
 * Run one command group in-process: `register` adds it to a fresh program
 * whose stdout/stderr are captured, and every level throws instead of exiting.
 */
export async function runInProcess(
  register: (program: Command, io: CliIo) => void,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; globalOptions?: (program: Command) => Command } = {},
): Promise<InProcessResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const base = new Command('fednode').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  const program = opts.globalOptions ? opts.globalOptions(base) : base;
  register(program, { stdout, stderr, stdin: process.stdin, env: opts.env ?? {} });
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  let error: unknown = null;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    error = e;
  }
  return { out, err, error };
}

import { readFile } from 'node:fs/promises';
import { BridgeError } from '../../errors.js';

export interface PasswordSources {
  /** `--password-file` (highest precedence). */
  passwordFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Interactive input, used only when stdin is a TTY. */
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WritableStream;
}

/**
 * The keystore password, from (in order) `--password-file`, `FEDNODE_PASSWORD`,
 * or a hidden prompt on a TTY. Never from a command-line argument: argv is
 * visible to every user of the machine through /proc.
 */
export async function resolvePassword(src: PasswordSources, opts: { confirm?: boolean; purpose: string }): Promise<string> {
  if (src.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(src.passwordFile, 'utf8');
    } catch (err) {
      throw new BridgeError({ code: 'PASSWORD_FILE_UNREADABLE', message: `cannot read password file ${src.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file: src.passwordFile });
    }
    // Only the first line counts: editors add a trailing newline.
    return nonEmpty(text.split(/\r?\n/)[0] ?? '', `password file ${src.passwordFile}`);
  }
  const env = src.env ?? process.env;
  if (env.FEDNODE_PASSWORD !== undefined) return nonEmpty(env.FEDNODE_PASSWORD, 'FEDNODE_PASSWORD');
  const stdin = src.stdin ?? process.stdin;
  if (stdin.isTTY) {
    const stderr = src.stderr ?? process.stderr;
    const first = await promptHidden(stdin, stderr, `Password for ${opts.purpose}: `);
    nonEmpty(first, 'the password');
    if (opts.confirm) {
      const second = await promptHidden(stdin, stderr, 'Repeat password: ');
      if (first !== second) throw new BridgeError({ code: 'PASSWORD_MISMATCH', message: 'the passwords do not match' });
    }
    return first;
  }
  throw new BridgeError({
    code: 'PASSWORD_REQUIRED',
    message: `a password is needed for ${opts.purpose}: pass --password-file <file>, set FEDNODE_PASSWORD, or run on a terminal`,
  });
}

function nonEmpty(pw: string, where: string): string {
  if (pw.length === 0) throw new BridgeError({ code: 'PASSWORD_EMPTY', message: `empty password in ${where}` });
  return pw;
}

/** Read one line from a TTY without echoing it. */
function promptHidden(stdin: NodeJS.ReadStream, stderr: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    stderr.write(prompt);
    let buf = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error): void => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new BridgeError({ code: 'PASSWORD_ABORTED', message: 'aborted' }));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

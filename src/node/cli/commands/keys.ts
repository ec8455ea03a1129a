import { readFile } from 'node:fs/promises';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { BridgeError } from '../../../errors.js';
import { KeystoreDir, generatePrivateKey, parseHexPrivateKey, type SigningKeyInfo } from '../../keystore/keystore.js';
import { resolvePassword, type PasswordSources } from '../../keystore/password.js';
import { globalsOf, offlineDataDir, printJson, writeLine, type CliIo } from '../context.js';

interface KeyOpts {
  name: string;
  passwordFile?: string;
  light?: boolean;
  json?: boolean;
}

function printKey(io: CliIo, json: boolean | undefined, path: string, info: SigningKeyInfo): void {
  if (json) return printJson(io.stdout, { path, ...info });
  writeLine(io.stdout, `keystore:              ${path}`);
  writeLine(io.stdout, `address:               ${info.address}`);
  writeLine(io.stdout, `compressed public key: ${info.compressedPublicKey}`);
  writeLine(io.stdout, `public key (64 bytes): ${info.publicKey64}`);
}

function passwordSources(io: CliIo, passwordFile: string | undefined): PasswordSources {
  return { passwordFile, env: io.env, stdin: io.stdin, stderr: io.stderr };
}

async function readStdin(stdin: NodeJS.ReadStream): Promise<string> {
  if (stdin.isTTY) throw new BridgeError({ code: 'KEY_STDIN_TTY', message: 'refusing to read a private key from a terminal: pipe it in, or use --hex-file' });
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function registerKeysCommands(program: Command, io: CliIo): void {
  const keys = program
    .command('keys')
    .description('manage the validator signing key (offline: no running node needed)')
    .addHelpText('after', '\nKeystores live in <datadir>/keys/<name>.json (Web3 Secret Storage v3, scrypt, mode 0600).\nThe password comes from --password-file, FEDNODE_PASSWORD, or a prompt on a terminal.');

  const nameOpt = ['-n, --name <name>', 'keystore name', 'validator'] as const;
  const pwOpt = ['--password-file <file>', 'read the keystore password from this file'] as const;

  keys
    .command('new')
    .description('create a new secp256k1 signing key in an encrypted keystore')
    .option(...nameOpt)
    .option(...pwOpt)
    .option('--light', 'cheap scrypt parameters (N=2^12): for devnets only')
    .option('--json', 'print JSON')
    .action(async (opts: KeyOpts, cmd: Command) => {
      const dir = KeystoreDir.forDataDir(offlineDataDir(globalsOf(cmd), io.env));
      const path = dir.pathOf(opts.name);
      await assertNewTarget(dir, opts.name, path);
      const password = await resolvePassword(passwordSources(io, opts.passwordFile), { confirm: true, purpose: `new keystore ${path}` });
      const key = generatePrivateKey();
      try {
        const created = await dir.create(opts.name, key, password, { light: opts.light === true });
        printKey(io, opts.json, created.path, created.info);
        if (!opts.json) writeLine(io.stderr, '\nBack up the keystore file and its password: losing either loses the key.');
      } finally {
        key.fill(0);
      }
    });

  keys
    .command('import')
    .description('import a signing key from a keystore file, or a hex private key from a file or stdin')
    .option(...nameOpt)
    .option(...pwOpt)
    .option('--keystore <file>', 'an existing Web3 Secret Storage v3 keystore (kept as is)')
    .option('--hex-file <file>', 'a file holding the private key as 64 hex characters')
    .option('--stdin', 'read the hex private key from standard input')
    .option('--light', 'cheap scrypt parameters when encrypting a hex key: devnets only')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nA private key is never accepted as a command-line argument: argv is visible to other users.')
    .action(async (opts: KeyOpts & { keystore?: string; hexFile?: string; stdin?: boolean }, cmd: Command) => {
      const sources = [opts.keystore, opts.hexFile, opts.stdin].filter((s) => s !== undefined && s !== false).length;
      if (sources !== 1) {
        throw new BridgeError({ code: 'KEY_IMPORT_SOURCE', message: 'give exactly one of --keystore <file>, --hex-file <file> or --stdin' });
      }
      const dir = KeystoreDir.forDataDir(offlineDataDir(globalsOf(cmd), io.env));
      const path = dir.pathOf(opts.name);
      await assertNewTarget(dir, opts.name, path);
      const pwSources = passwordSources(io, opts.passwordFile);
      if (opts.keystore !== undefined) {
        const json = await readFile(opts.keystore, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new BridgeError({ code: 'KEY_IMPORT_UNREADABLE', message: `cannot read ${opts.keystore}: ${err.code ?? err.message}`, file: opts.keystore });
        });
        const password = await resolvePassword(pwSources, { purpose: `keystore ${opts.keystore}` });
        const imported = await dir.importKeystore(opts.name, json, password, opts.keystore);
        return printKey(io, opts.json, imported.path, imported.info);
      }
      const text =
        opts.hexFile !== undefined
          ? await readFile(opts.hexFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
              throw new BridgeError({ code: 'KEY_IMPORT_UNREADABLE', message: `cannot read ${opts.hexFile}: ${err.code ?? err.message}`, file: opts.hexFile });
            })
          : await readStdin(io.stdin);
      const key = parseHexPrivateKey(text);
      try {
        const password = await resolvePassword(pwSources, { confirm: true, purpose: `new keystore ${path}` });
        const created = await dir.create(opts.name, key, password, { light: opts.light === true });
        printKey(io, opts.json, created.path, created.info);
      } finally {
        key.fill(0);
      }
    });

  keys
    .command('export')
    .description('print the encrypted keystore JSON (or, with --unsafe-plaintext, the raw private key)')
    .option(...nameOpt)
    .option(...pwOpt)
    .option('--unsafe-plaintext', 'print the unencrypted private key as hex (needs the password)')
    .action(async (opts: KeyOpts & { unsafePlaintext?: boolean }, cmd: Command) => {
      const dir = KeystoreDir.forDataDir(offlineDataDir(globalsOf(cmd), io.env));
      if (!opts.unsafePlaintext) {
        const { json } = await dir.readJson(opts.name);
        io.stdout.write(json.endsWith('\n') ? json : json + '\n');
        return;
      }
      const password = await resolvePassword(passwordSources(io, opts.passwordFile), { purpose: `keystore "${opts.name}"` });
      const unlocked = await dir.unlock(opts.name, password);
      writeLine(io.stderr, 'warning: printing an UNENCRYPTED private key; anyone who sees it controls this validator.');
      writeLine(io.stdout, '0x' + bytesToHex(unlocked.privateKey));
      unlocked.privateKey.fill(0);
    });

  keys
    .command('list')
    .description('list the keystores in the data directory')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const dir = KeystoreDir.forDataDir(offlineDataDir(globalsOf(cmd), io.env));
      const entries = await dir.list();
      if (opts.json) return printJson(io.stdout, entries);
      if (entries.length === 0) return writeLine(io.stderr, `no keystores in ${dir.dir} (create one with "fednode keys new")`);
      for (const e of entries) writeLine(io.stdout, 'error' in e ? `${e.name}\t(unreadable: ${e.error})` : `${e.name}\t${e.address}\t${e.path}`);
    });

  keys
    .command('show')
    .description("show a keystore's address and public keys")
    .option(...nameOpt)
    .option(...pwOpt)
    .option('--verify', 'decrypt the keystore to check the password and the public key')
    .option('--json', 'print JSON')
    .action(async (opts: KeyOpts & { verify?: boolean }, cmd: Command) => {
      const dir = KeystoreDir.forDataDir(offlineDataDir(globalsOf(cmd), io.env));
      if (opts.verify) {
        const password = await resolvePassword(passwordSources(io, opts.passwordFile), { purpose: `keystore "${opts.name}"` });
        const { privateKey, path, ...info } = await dir.unlock(opts.name, password);
        privateKey.fill(0);
        return printKey(io, opts.json, path, info);
      }
      const d = await dir.describe(opts.name);
      if (!d.compressedPublicKey || !d.publicKey64) {
        throw new BridgeError({ code: 'KEYSTORE_NO_PUBKEY', message: `${d.path} has no public key metadata; run "fednode keys show --verify" to derive it with the password` });
      }
      printKey(io, opts.json, d.path, { address: d.address, compressedPublicKey: d.compressedPublicKey, publicKey64: d.publicKey64 });
    });
}

async function assertNewTarget(dir: KeystoreDir, name: string, path: string): Promise<void> {
  // Checked before asking for a password, so the operator isn't prompted for nothing.
  try {
    await dir.readJson(name);
  } catch (err) {
    if (err instanceof BridgeError && err.code === 'KEYSTORE_NOT_FOUND') return;
    throw err;
  }
  throw new BridgeError({ code: 'KEYSTORE_EXISTS', message: `refusing to overwrite existing file ${path}`, file: path });
}

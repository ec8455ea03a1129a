/**
 * Child-process entry for the devnet's bcoin regtest node:
 *   node dist/chains/bitcoin/regtest/daemon.js [--data-dir DIR] [--rpc-port N] [--api-key KEY | --no-auth] [--log-level L]
 * Prints one JSON line `{"ready":true,"rpcUrl":…,"apiKey":…}` on stdout once
 * the RPC server listens, and stops cleanly on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startBcoinRegtest, type BcoinRegtestOptions } from './bcoin-node.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    'rpc-port': { type: 'string' },
    'api-key': { type: 'string' },
    'no-auth': { type: 'boolean' },
    'log-level': { type: 'string' },
  },
});

const opts: BcoinRegtestOptions = {};
if (values['data-dir'] !== undefined) opts.dataDir = values['data-dir'];
if (values['rpc-port'] !== undefined) opts.rpcPort = Number(values['rpc-port']);
if (values['api-key'] !== undefined) opts.apiKey = values['api-key'];
if (values['no-auth'] === true) opts.noAuth = true;
if (values['log-level'] !== undefined) opts.logLevel = values['log-level'] as NonNullable<BcoinRegtestOptions['logLevel']>;

const node = await startBcoinRegtest(opts);
process.stdout.write(JSON.stringify({ ready: true, rpcUrl: node.rpcUrl, apiKey: node.apiKey }) + '\n');

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  node.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bcoin regtest stop failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

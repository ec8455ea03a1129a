import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BridgeError } from '../../../errors.js';
import { runDemo, DemoStepError, DEMO_DEFAULTS, type DemoResult } from '../../devnet/demo.js';
import { DEVNET_DEFAULTS, startDevnet, type RunningDevnet } from '../../devnet/devnet.js';
import { readDevnetState } from '../../devnet/layout.js';
import { writeLine, type CliIo } from '../context.js';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new BridgeError({ code: 'CLI_BAD_NUMBER', message: `${name} expects an integer, got ${JSON.stringify(v)}` });
  return n;
};
const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new BridgeError({ code: 'CLI_BAD_NUMBER', message: `${name} expects a positive number, got ${JSON.stringify(v)}` });
  return n;
};

/** Prints the demo's outcome: the JSON line in --exit mode, else nothing more. Returns the exit code. */
function reportDemo(io: CliIo, json: boolean, outcome: { result?: DemoResult; error?: unknown }): number {
  if (outcome.result) {
    if (json) writeLine(io.stdout, JSON.stringify({ ok: true, depositToMintSeconds: outcome.result.depositToMintSeconds, burnToPayoutSeconds: outcome.result.burnToPayoutSeconds }));
    return 0;
  }
  const err = outcome.error;
  const step = err instanceof DemoStepError ? err.step : 'setup';
  const message = (err as Error).message ?? String(err);
  if (json) writeLine(io.stdout, JSON.stringify({ ok: false, step, error: message }));
  io.stderr.write(`error: ${message}\n`);
  return 1;
}

/** Resolves on the first SIGINT/SIGTERM (and removes its handlers); a second one exits at once. */
function untilSignal(io: CliIo): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let done: (s: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((r) => { done = r; });
  let count = 0;
  const on = (s: NodeJS.Signals): void => {
    if (++count > 1) {
      io.stderr.write(`second ${s}: exiting now (the EVM node is killed on exit; check for leftover processes with ps)\n`);
      process.exit(130);
    }
    done(s);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { promise, dispose: () => { process.off('SIGINT', on); process.off('SIGTERM', on); } };
}

export function registerDevnetCommands(program: Command, io: CliIo): void {
  program
    .command('devnet')
    .description('run a whole federation on this machine: EVM node, bitcoin regtest, contracts, N validators')
    .option('-n, --validators <n>', 'number of validators', int('--validators'), DEVNET_DEFAULTS.validators)
    .option('--dir <path>', 'directory for all devnet data', DEVNET_DEFAULTS.dir)
    .option('--reset', 'delete everything in --dir first (keys included)')
    .option('--block-interval <s>', 'seconds between mined bitcoin blocks', positive('--block-interval'), DEVNET_DEFAULTS.blockIntervalSec)
    .option('--base-port <port>', 'move every port: EVM <port>, bitcoin <port>+1, HTTP <port>+100+i, p2p <port>+200+i', int('--base-port'))
    .option('--demo', 'run the demo (one transfer each way) once the validators are up')
    .option('--exit', 'non-interactive: with --demo, stop after the demo and print one JSON line; without it, stop once everything is up')
    .option('--deposit-timeout <s>', 'demo: longest wait for the mint', positive('--deposit-timeout'), DEMO_DEFAULTS.depositTimeoutSec)
    .option('--payout-timeout <s>', 'demo: longest wait for the payout', positive('--payout-timeout'), DEMO_DEFAULTS.payoutTimeoutSec)
    .addHelpText('after', `
Ports (default): EVM 8545, bitcoin RPC 18443, validator i HTTP 8645+i-1, p2p 9651+i-1, all on 127.0.0.1.
Data: --dir holds the keys, configs, logs and chain data (see docs/DEVNET.md).
A second start reuses the keys; the EVM node keeps no state on disk, so both chains start afresh
and the contracts are redeployed. Ctrl-C stops every process the devnet started (twice: exit now).`)
    .action(async (opts: { validators: number; dir: string; reset?: boolean; blockInterval: number; basePort?: number; demo?: boolean; exit?: boolean; depositTimeout: number; payoutTimeout: number }) => {
      const json = opts.exit === true;
      // In --exit mode stdout carries only the result line; progress goes to stderr.
      const out = json ? io.stderr : io.stdout;
      const signal = untilSignal(io);
      let devnet: RunningDevnet | undefined;
      const t0 = performance.now();
      try {
        const starting = startDevnet({
          dir: resolve(opts.dir),
          validators: opts.validators,
          reset: opts.reset === true,
          blockIntervalSec: opts.blockInterval,
          basePort: opts.basePort,
          out,
          nodeStartTimeoutSec: DEVNET_DEFAULTS.nodeStartTimeoutSec,
        });
        const first = await Promise.race([starting, signal.promise]);
        if (typeof first === 'string') {
          // Interrupted while starting: let the start finish unwinding, then stop.
          writeLine(out, 'interrupted: stopping what was started…');
          devnet = await starting.catch(() => undefined);
          await devnet?.stop();
          process.exitCode = 130;
          return;
        }
        devnet = first;
        writeLine(out, `devnet up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${devnet.state.validators} validators, EVM ${devnet.state.evm.rpcUrl} (chain id ${devnet.state.evm.chainId}), bitcoin ${devnet.state.bitcoin.rpcUrl}`);
        writeLine(out, `deposit address ${devnet.state.federation.address}; BSH ${devnet.state.contracts.bsh}; BTCT ${devnet.state.contracts.btct}`);
        if (opts.demo) {
          writeLine(out, '— demo —');
          const outcome = await Promise.race([
            runDemo({ state: devnet.state, out, depositTimeoutSec: opts.depositTimeout, payoutTimeoutSec: opts.payoutTimeout }).then((result) => ({ result }), (error: unknown) => ({ error })),
            devnet.failed.then((why) => ({ error: new BridgeError({ code: 'DEVNET_NODE_EXITED', message: why }) })),
            signal.promise.then(() => ({ error: new BridgeError({ code: 'DEVNET_INTERRUPTED', message: 'interrupted' }) })),
          ]);
          const code = reportDemo(io, json, outcome);
          if (json || code !== 0) {
            if (code !== 0) writeLine(out, `logs: ${devnet.layout.logsDir}`);
            process.exitCode = code;
            return;
          }
        } else if (json) {
          writeLine(io.stdout, JSON.stringify({ ok: true, startSeconds: Number(((performance.now() - t0) / 1000).toFixed(2)) }));
          return;
        }
        writeLine(out, `demo: run "fednode demo --dir ${opts.dir}" in another terminal`);
        devnet.showStatus(io.stdout, (io.stdout as NodeJS.WriteStream).isTTY === true);
        const why = await Promise.race([signal.promise.then((s) => `received ${s}`), devnet.failed]);
        writeLine(out, `\n${why}: stopping the validators, bitcoin regtest and the EVM node…`);
        if (why !== `received SIGINT` && why !== 'received SIGTERM') process.exitCode = 1;
      } finally {
        if (devnet) {
          const t1 = performance.now();
          await devnet.stop();
          writeLine(out, `stopped (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
        }
        signal.dispose();
      }
    });

  program
    .command('demo')
    .description('against a running devnet: BTC deposit → BTCT mint, then BTCT burn → BTC payout')
    .option('--dir <path>', 'the devnet directory', DEVNET_DEFAULTS.dir)
    .option('--amount <sats>', 'deposit amount in satoshis', int('--amount'), Number(DEMO_DEFAULTS.amountSats))
    .option('--exit', 'non-interactive: print one JSON line with the timings and exit 0, or the failed step and exit 1')
    .option('--deposit-timeout <s>', 'longest wait for the mint', positive('--deposit-timeout'), DEMO_DEFAULTS.depositTimeoutSec)
    .option('--payout-timeout <s>', 'longest wait for the payout', positive('--payout-timeout'), DEMO_DEFAULTS.payoutTimeoutSec)
    .action(async (opts: { dir: string; amount: number; exit?: boolean; depositTimeout: number; payoutTimeout: number }) => {
      const json = opts.exit === true;
      const out = json ? io.stderr : io.stdout;
      let outcome: { result?: DemoResult; error?: unknown };
      try {
        const state = await readDevnetState(resolve(opts.dir));
        outcome = { result: await runDemo({ state, out, amountSats: BigInt(opts.amount), depositTimeoutSec: opts.depositTimeout, payoutTimeoutSec: opts.payoutTimeout }) };
      } catch (error) {
        outcome = { error };
      }
      process.exitCode = reportDemo(io, json, outcome);
    });
}

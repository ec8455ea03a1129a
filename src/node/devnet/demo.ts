/**
 * `fednode demo`: one transfer each way through a running devnet.
 *  1. user A pays BTC to the federation's address with user B's EVM address in the OP_RETURN;
 *  2. the validators derive, sign and relay the BTP block, and the BSH mints BTCT to user B;
 *  3. user B calls `BSH.transferToForeign(A's address, amount)`;
 *  4. the validators sign and broadcast the payout, and user A receives BTC on regtest.
 * Every wait is bounded; a failure names the step and what it was waiting for.
 */
import { Contract, Wallet, formatUnits, getBytes } from 'ethers';
import { bitcoinNetwork } from '../../chains/bitcoin/networks.js';
import { encodeDepositOpReturn } from '../../chains/bitcoin/deposits.js';
import { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import { createProvider, waitReceipt } from '../../chains/ethereum/provider.js';
import { payoutCoordinatorAbi } from '../../chains/ethereum/artifacts.js';
import { BridgeError } from '../../errors.js';
import type { DevnetState } from './layout.js';
import { pollUntil } from './processes.js';
import { Progress } from './progress.js';
import { fetchStatus } from './status.js';
import { DemoWallet } from './wallet.js';

export interface DemoOptions {
  state: DevnetState;
  /** Progress lines. */
  out: NodeJS.WritableStream;
  /** Deposit amount, sat. Default 0.01 BTC. */
  amountSats?: bigint;
  depositTimeoutSec?: number;
  payoutTimeoutSec?: number;
  /** Mine a block right after each Bitcoin send instead of waiting for the devnet's miner. Default true. */
  mineNow?: boolean;
}

export const DEMO_DEFAULTS = { amountSats: 1_000_000n, depositTimeoutSec: 120, payoutTimeoutSec: 150, mineNow: true } as const;

export type DemoStep = 'connect' | 'deposit' | 'mint' | 'burn' | 'payout';

export interface DemoResult {
  ok: true;
  depositToMintSeconds: number;
  burnToPayoutSeconds: number;
  depositTxid: string;
  payoutTxid: string;
  mintedSats: string;
  paidOutSats: string;
}

/** A failed demo step (`step` names it; the message says what was awaited). */
export class DemoStepError extends BridgeError {
  constructor(readonly step: DemoStep, cause: unknown) {
    super({ code: 'DEMO_STEP_FAILED', step, cause, message: `demo step "${step}" failed: ${(cause as Error).message ?? String(cause)}` });
  }
}

const btc = (sats: bigint): string => `${formatUnits(sats, 8)} BTC`;
const btct = (sats: bigint): string => `${formatUnits(sats, 8)} BTCT`;

/** Calls `fn` at most once per `periodMs` of elapsed time (for progress notes from a poll loop). */
function every(periodMs: number, fn: (elapsedMs: number) => void): (elapsedMs: number) => void {
  let next = periodMs;
  return (ms) => {
    if (ms < next) return;
    next = (Math.floor(ms / periodMs) + 1) * periodMs;
    fn(ms);
  };
}

async function inStep<T>(step: DemoStep, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof DemoStepError ? err : new DemoStepError(step, err);
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const o = { ...DEMO_DEFAULTS, ...opts };
  const { state } = o;
  const p = new Progress(o.out);
  const provider = createProvider(state.evm.rpcUrl, state.evm.chainId, { pollingIntervalMs: 100 });
  try {
    const rpc = new BitcoinRpcClient({ url: state.bitcoin.rpcUrl, timeoutMs: 5_000 });
    const network = bitcoinNetwork('regtest', { regtestFlavour: 'bcoin' });
    const userA = new DemoWallet(rpc, network, getBytes(state.demo.userA.privateKey), state.demo.userA.coins.map((c) => ({ txid: c.txid, vout: c.vout, valueSats: BigInt(c.valueSats) })));
    const userB = new Wallet(state.demo.userB.privateKey, provider);
    const bsh = new Contract(state.contracts.bsh!, loadArtifact('BitcoinTokenService').abi, userB);
    const token = new Contract(state.contracts.btct!, loadArtifact('BTCT').abi, provider);
    const balanceB = async (): Promise<bigint> => (await token.getFunction('balanceOf')(userB.address)) as bigint;
    const coordinator = state.contracts.payout !== undefined ? new Contract(state.contracts.payout, payoutCoordinatorAbi(), provider) : undefined;
    /** Where the payout stands on the home chain, for the progress notes. */
    const payoutStage = async (): Promise<string> => {
      if (coordinator === undefined) return 'no payout coordinator deployed';
      try {
        const [inFlight, next, imported] = await Promise.all(['inFlight', 'nextBatchId', 'importedHeights'].map(async (f) => (await coordinator.getFunction(f)()) as bigint));
        const s = await fetchStatus(state.nodes[0]!.httpUrl);
        return `coordinator: ${inFlight! > 0n ? `batch ${inFlight} in flight` : `no batch in flight (next id ${next})`}, ${imported} BTP heights of deposits imported; v1 reports ${s?.pending?.withdrawals ?? '—'} pending withdrawals, ${s?.signatures?.payout ?? '—'} payout signatures`;
      } catch (err) {
        return `coordinator unreadable: ${(err as Error).message}`;
      }
    };
    const lastRelayed = async (): Promise<string> => {
      const s = await fetchStatus(state.nodes[0]!.httpUrl);
      return s?.btp?.lastRelayedHeight !== undefined ? String(s.btp.lastRelayedHeight) : '—';
    };

    const before = await inStep('connect', async () => {
      await rpc.getBlockCount();
      await provider.getBlockNumber();
      return { a: await userA.balance(), b: await balanceB() };
    });
    p.line(`user A (bitcoin) ${userA.address}: ${btc(before.a)}`);
    p.line(`user B (EVM)     ${userB.address}: ${btct(before.b)}`);
    p.line(`federation deposit address (epoch 0, P2WSH): ${state.federation.address}`);

    // 1. Deposit.
    const amount = o.amountSats;
    const deposit = await inStep('deposit', () => p.step(`user A pays ${btc(amount)} to the federation with user B's address in the OP_RETURN`, async () => {
      const sent = await userA.send([
        { script: getBytes(state.federation.script), valueSats: amount },
        { script: encodeDepositOpReturn({ recipient: getBytes(userB.address) }), valueSats: 0n },
      ]);
      if (o.mineNow) await rpc.generateToAddress(1, userA.address);
      return sent;
    }, (s) => `txid ${s.txid}`));
    const t0 = performance.now();

    // 2. Mint.
    const minted = await inStep('mint', () => p.wait(`waiting for the validators to derive, sign and relay the deposit's BTP block and the BSH to mint BTCT to user B (up to ${o.depositTimeoutSec} s)`, (note) =>
      pollUntil(async () => {
        const b = await balanceB();
        return b > before.b ? b - before.b : undefined;
      }, {
        timeoutMs: o.depositTimeoutSec * 1000,
        intervalMs: 500,
        what: 'BTCT minted to user B (are the validators up? see the status table and logs/)',
        onTick: every(10_000, (ms) => {
          void Promise.all([rpc.getBlockCount(), lastRelayed()]).then(([h, r]) => note(`${Math.round(ms / 1000)} s: bitcoin height ${h}, last relayed BTP height ${r}, BTCT not minted yet`), () => undefined);
        }),
      }),
    (m) => `${btct(m)} minted to user B`));
    const depositToMintSeconds = (performance.now() - t0) / 1000;

    // 3. Burn.
    const burnHeight = await rpc.getBlockCount();
    await inStep('burn', () => p.step(`user B calls transferToForeign("${userA.address}", ${minted}) on the BSH`, async () => {
      const tx = await bsh.getFunction('transferToForeign')(userA.address, minted);
      return waitReceipt(provider, tx);
    }, (r) => `tx ${r.hash}`));
    const t1 = performance.now();

    // 4. Payout.
    const own = new Set(userA.coins.map((c) => c.txid));
    let scanned = burnHeight;
    const payout = await inStep('payout', () => p.wait(`waiting for the validators to sign the payout, broadcast it and for it to confirm (up to ${o.payoutTimeoutSec} s)`, (note) =>
      pollUntil(async () => {
        const tip = await rpc.getBlockCount();
        if (tip <= scanned) return undefined;
        const found = await userA.scanReceived(scanned + 1, tip, own);
        scanned = tip;
        return found[0];
      }, {
        timeoutMs: o.payoutTimeoutSec * 1000,
        intervalMs: 500,
        what: `a payout to user A's address ${userA.address} in a Bitcoin block after height ${burnHeight}`,
        onTick: every(10_000, (ms) => {
          void payoutStage().then((stage) => note(`${Math.round(ms / 1000)} s: no payout to user A up to bitcoin height ${scanned}; ${stage}`));
        }),
      }),
    (c) => `${btc(c.valueSats)} to user A in ${c.txid}`));
    const burnToPayoutSeconds = (performance.now() - t1) / 1000;
    userA.coins.push(payout);

    const after = { a: await userA.balance(), b: await balanceB() };
    p.line('balances            before            after');
    p.line(`user A (BTC)   ${btc(before.a).padStart(16)}  ${btc(after.a).padStart(16)}`);
    p.line(`user B (BTCT)  ${btct(before.b).padStart(16)}  ${btct(after.b).padStart(16)}`);
    p.line(`deposit → mint ${depositToMintSeconds.toFixed(1)} s, burn → payout ${burnToPayoutSeconds.toFixed(1)} s`);
    return {
      ok: true,
      depositToMintSeconds: Number(depositToMintSeconds.toFixed(2)),
      burnToPayoutSeconds: Number(burnToPayoutSeconds.toFixed(2)),
      depositTxid: deposit.txid,
      payoutTxid: payout.txid,
      mintedSats: minted.toString(),
      paidOutSats: payout.valueSats.toString(),
    };
  } finally {
    provider.destroy();
  }
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Contract, JsonRpcProvider, ZeroAddress, getBytes, hexlify } from 'ethers';
import { Block, Transaction } from 'bitcoinjs-lib';
import { describe, expect, it } from 'vitest';
import { bitcoinNetwork } from '../../../src/chains/bitcoin/networks.js';
import { BitcoinRpcClient } from '../../../src/chains/bitcoin/rpc.js';
import { txidToInternal } from '../../../src/chains/bitcoin/payout.js';
import { loadArtifact, payoutCoordinatorAbi } from '../../../src/chains/ethereum/artifacts.js';
import { runDemo } from '../../../src/node/devnet/demo.js';
import { startDevnet, type RunningDevnet } from '../../../src/node/devnet/devnet.js';
import { pollUntil, portFree, spawnFednode, type ManagedChild } from '../../../src/node/devnet/processes.js';
import { fetchStatus, type ValidatorStatus } from '../../../src/node/devnet/status.js';
import { DemoWallet } from '../../../src/node/devnet/wallet.js';
import { withTempDir } from '../../helpers/cli.js';

// The issue: "with one of 4 validators killed (kill -9) during the scenario, both transfers still
// complete exactly once, and the restarted validator catches up". In process: startDevnet, SIGKILL
// one validator, run the demo with 3 of 4 (a quorum), restart the killed one on its own data dir.
const VICTIM = 2; // v2 (1-based); any of the four
const BATCH_CONFIRMED = 2; // PayoutBase.BATCH_CONFIRMED
const UTXO_MINTED = 1; // BitcoinTokenService.UTXO_MINTED
const WITHDRAWAL_QUEUED = 1; // BitcoinTokenService.WITHDRAWAL_QUEUED (not refunded)

function sink(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  return { out: new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }), text: () => chunks.join('') };
}

/** Display txid (hex, RPC order) → the contracts' internal byte order (bytes32). */
const internal = (txid: string): string => hexlify(txidToInternal(txid));

describe('devnet: one of 4 validators killed (SIGKILL) during the demo', () => {
  it('both transfers complete exactly once with 3 of 4, and the restarted validator catches up', async () => {
    await withTempDir(async (dir) => {
      const log = sink();
      const base = 31_000 + Math.floor(Math.random() * 200) * 100;
      let running: RunningDevnet | undefined;
      let restarted: ManagedChild | undefined;
      let provider: JsonRpcProvider | undefined;
      try {
        running = await startDevnet({ dir: join(dir, 'devnet'), validators: 4, reset: false, blockIntervalSec: 1, basePort: base, out: log.out, nodeStartTimeoutSec: 120 });
        const { state, layout } = running;
        const victimUrl = state.nodes[VICTIM - 1]!.httpUrl;
        const others = state.nodes.filter((_, j) => j !== VICTIM - 1).map((n) => n.httpUrl);

        // Kill -9 one validator.
        const victim = running.nodes[VICTIM - 1]!;
        expect(victim.exitCode()).toBe('running');
        expect(victim.child.pid).toBeGreaterThan(0);
        expect(victim.child.kill('SIGKILL')).toBe(true);
        await victim.exited;
        expect(victim.exitCode()).toBe(-1); // ended by a signal
        expect(await fetchStatus(victimUrl)).toBeUndefined();

        // The demo with 3 of 4 validators (a quorum): one transfer each way.
        const result = await runDemo({ state, out: log.out, depositTimeoutSec: 180, payoutTimeoutSec: 300 });
        expect(result.ok).toBe(true);
        expect(victim.exitCode()).toBe(-1); // still down throughout
        const amount = 1_000_000n; // DEMO_DEFAULTS.amountSats

        // Restart the killed validator: same config, same data directory (kill -9 left its db as it was).
        for (const port of [state.ports.http[VICTIM - 1]!, state.ports.p2p[VICTIM - 1]!]) {
          await pollUntil(async () => ((await portFree(port)) ? true : undefined), { timeoutMs: 20_000, intervalMs: 250, what: `port ${port} free` });
        }
        restarted = spawnFednode(`v${VICTIM}`, ['start', '--config', layout.nodeConfig(VICTIM)], layout.nodeLog(VICTIM));
        const r = restarted;
        await pollUntil(async () => {
          if (r.exitCode() !== 'running') throw new Error(`restarted v${VICTIM} exited (code ${String(r.exitCode())}); see ${layout.nodeLog(VICTIM)}`);
          return (await fetchStatus(victimUrl)) !== undefined ? true : undefined;
        }, { timeoutMs: 120_000, intervalMs: 250, what: `restarted v${VICTIM}'s /status` });

        provider = new JsonRpcProvider(state.evm.rpcUrl, state.evm.chainId, { staticNetwork: true, pollingInterval: 200 });
        const rpc = new BitcoinRpcClient({ url: state.bitcoin.rpcUrl, timeoutMs: 5_000 });
        const bsh = new Contract(state.contracts.bsh!, loadArtifact('BitcoinTokenService').abi, provider);
        const token = new Contract(state.contracts.btct!, loadArtifact('BTCT').abi, provider);
        const coordinator = new Contract(state.contracts.payout!, payoutCoordinatorAbi(), provider);
        const userB = state.demo.userB.address;

        // --- deposit minted exactly once ---
        const [dFee] = [await bsh.getFunction('depositFee')()] as [{ mode: bigint; fixedFee: bigint; ratioBps: bigint }];
        const expectedFee = Number(dFee.mode) === 0 ? dFee.fixedFee : (amount * dFee.ratioBps) / 10_000n;
        expect(BigInt(result.mintedSats)).toBe(amount - (expectedFee > amount ? amount : expectedFee));
        const mintsToB = await token.queryFilter(token.filters.Transfer!(ZeroAddress, userB), 0, 'latest');
        expect(mintsToB.map((e) => (e as unknown as { args: [string, string, bigint] }).args[2])).toEqual([BigInt(result.mintedSats)]);
        expect(await bsh.queryFilter(bsh.filters.DepositsMinted!(), 0, 'latest')).toHaveLength(1);
        const [ledgerAmount, , ledgerStatus, depositBtpHeight] = (await bsh.getFunction('utxoOf')(internal(result.depositTxid), 0)) as [bigint, bigint, bigint, bigint];
        expect(ledgerAmount).toBe(amount);
        expect(Number(ledgerStatus)).toBe(UTXO_MINTED);
        expect(depositBtpHeight).toBeGreaterThan(0n);
        expect(await bsh.getFunction('depositHeightCount')()).toBe(1n);
        expect(await bsh.getFunction('heightDepositCount')(depositBtpHeight)).toBe(1n);
        expect(await bsh.getFunction('depositedTotal')()).toBe(amount);
        // user B burned everything it got; what is left is fees: deposited − withdrawn (net).
        expect(await token.getFunction('balanceOf')(userB)).toBe(0n);
        const withdrawnNet = (await bsh.getFunction('withdrawnNetTotal')()) as bigint;
        expect(await token.getFunction('totalSupply')()).toBe(amount - withdrawnNet);

        // --- withdrawal paid exactly once ---
        expect(await bsh.getFunction('nextWithdrawalId')()).toBe(1n);
        const w = (await bsh.getFunction('withdrawals')(0n)) as [string, bigint, bigint, string];
        expect(w[0]).toBe(userB);
        expect(Number(w[2])).toBe(WITHDRAWAL_QUEUED); // not refunded
        // The payout output is the net amount minus its share of the miner fee (checked against the batch below).
        expect(BigInt(result.paidOutSats)).toBeGreaterThan(0n);
        expect(BigInt(result.paidOutSats)).toBeLessThan(w[1]);
        // The coordinator settles it once the PAYOUT_CONFIRMED record is relayed.
        const paidBatch = await pollUntil(async () => {
          const next = Number(await coordinator.getFunction('nextBatchId')());
          const found: number[] = [];
          for (let id = 1; id < next; id++) {
            const ws = (await coordinator.getFunction('batchWithdrawals')(id)) as bigint[];
            if (ws.map(Number).includes(0)) found.push(id);
          }
          if (found.length !== 1) return found.length > 1 ? found : undefined;
          const [batch, latest] = (await coordinator.getFunction('batchInfo')(found[0])) as [{ status: bigint; total: bigint; estFee: bigint }, { txid: string }];
          return Number(batch.status) === BATCH_CONFIRMED ? { id: found[0]!, txid: latest.txid, total: batch.total, estFee: batch.estFee } : undefined;
        }, { timeoutMs: 120_000, intervalMs: 500, what: 'the payout batch confirmed on the coordinator' });
        expect(Array.isArray(paidBatch), `withdrawal 0 in several batches: ${String(paidBatch)}`).toBe(false);
        const pb = paidBatch as { id: number; txid: string; total: bigint; estFee: bigint };
        expect(pb.txid).toBe(internal(result.payoutTxid));
        expect(((await coordinator.getFunction('batchWithdrawals')(pb.id)) as bigint[]).map(Number)).toEqual([0]);
        expect(pb.total).toBe(w[1]);
        expect(BigInt(result.paidOutSats)).toBe(w[1] - pb.estFee); // one withdrawal: it bears the whole fee
        expect(await coordinator.getFunction('settledWithdrawals')()).toBe(w[1]);

        // --- the restarted validator catches up and signs again ---
        const statuses = async (): Promise<ValidatorStatus[]> => (await Promise.all(others.map((u) => fetchStatus(u)))).filter((s): s is ValidatorStatus => s !== undefined);
        const target = Math.max(...(await statuses()).map((s) => s.bitcoin?.derivedHeight ?? -1));
        expect(target).toBeGreaterThanOrEqual(Number(depositBtpHeight));
        let lastSeen: ValidatorStatus | undefined;
        const caughtUp = await pollUntil(async () => {
          if (r.exitCode() !== 'running') throw new Error(`restarted v${VICTIM} exited (code ${String(r.exitCode())}); see ${layout.nodeLog(VICTIM)}`);
          const s = await fetchStatus(victimUrl);
          lastSeen = s ?? lastSeen;
          const derived = s?.bitcoin?.derivedHeight ?? -1;
          const signed = s?.btp?.lastSignedHeight ?? -1;
          return derived >= target && signed >= Number(depositBtpHeight) && (s?.p2p?.peers ?? 0) >= 1 ? s : undefined;
        }, { timeoutMs: 150_000, intervalMs: 500, what: `restarted v${VICTIM} deriving up to height ${target} and signing at or above the deposit's height ${depositBtpHeight}` }).catch(async (err: Error) => {
          const others = await statuses();
          throw new Error(`${err.message}\nv${VICTIM} last /status: ${JSON.stringify({ bitcoin: lastSeen?.bitcoin, btp: lastSeen?.btp, signatures: lastSeen?.signatures, peers: lastSeen?.p2p?.peers, ready: lastSeen?.ready })}\nothers: ${JSON.stringify(others.map((o) => ({ bitcoin: o.bitcoin, btp: o.btp })))}\nv${VICTIM} log tail:\n${(await readFile(layout.nodeLog(VICTIM), 'utf8')).split('\n').slice(-40).join('\n')}`);
        });
        expect(caughtUp.btp!.lastSignedHeight).toBeGreaterThanOrEqual(Number(depositBtpHeight));

        // Nothing paid twice: let a few more blocks come (all 4 validators up), then scan the chain.
        const tipNow = await rpc.getBlockCount();
        const tipLater = await pollUntil(async () => { const h = await rpc.getBlockCount(); return h >= tipNow + 3 ? h : undefined; }, { timeoutMs: 60_000, intervalMs: 250, what: '3 more bitcoin blocks' });
        const userA = new DemoWallet(rpc, bitcoinNetwork('regtest', { regtestFlavour: 'bcoin' }), getBytes(state.demo.userA.privateKey));
        expect(userA.address).toBe(state.demo.userA.address);
        const own = new Set([...state.demo.userA.coins.map((c) => c.txid), result.depositTxid]);
        // Every block after segwit activation (452 bootstrap blocks; the user's funding is in `own`;
        // coinbases are the demo mining to user A's address, not payouts).
        const paid: { txid: string; valueSats: bigint }[] = [];
        const scriptA = hexlify(userA.outputScript);
        for (let h = 450; h <= tipLater; h++) {
          const block = Block.fromHex(await rpc.getBlockHex(await rpc.getBlockHash(h)));
          for (const tx of block.transactions ?? []) {
            if (tx.isCoinbase() || own.has(tx.getId())) continue;
            for (const o of tx.outs) if (hexlify(o.script) === scriptA) paid.push({ txid: tx.getId(), valueSats: BigInt(o.value) });
          }
        }
        expect(paid.map((c) => c.txid)).toEqual([result.payoutTxid]);
        expect(paid[0]!.valueSats).toBe(BigInt(result.paidOutSats));
        const mempool = await rpc.call<string[]>('getrawmempool');
        for (const txid of mempool) {
          const tx = Transaction.fromHex(await rpc.getRawTransaction(txid));
          expect(tx.outs.some((o) => hexlify(o.script) === hexlify(userA.outputScript)), `mempool tx ${txid} pays user A`).toBe(false);
        }
      } catch (err) {
        console.error(log.text());
        throw err;
      } finally {
        provider?.destroy();
        await restarted?.stop();
        await running?.stop();
      }
      expect(restarted!.exitCode()).not.toBe('running');
      const s = running!.state;
      for (const p of [s.ports.evm, s.ports.bitcoin, ...s.ports.http, ...s.ports.p2p]) expect(await portFree(p), `port ${p}`).toBe(true);
      for (const c of running!.nodes) expect(c.exitCode(), c.name).not.toBe('running');
    });
  }, 600_000);
});

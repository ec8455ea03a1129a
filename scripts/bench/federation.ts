/**
 * `npm run bench:federation`: 7 validators on loopback (real EVM node, real bcoin regtest, real
 * libp2p, real level databases; test/e2e/harness.ts), measured twice:
 * - `processes` (the headline figures): each validator is its own `fednode start` process, as
 *   it is deployed (needs `npm run build`). Quorum times come from the nodes' JSON logs
 *   ("quorum reached", `at` = when the quorum-th signature was counted).
 * - `inProcess`: the same 7 validators in this one process, sharing one event loop with bcoin;
 *   a stress figure (every validator's work queues behind the others'), not the deployment.
 *
 * 1. Quorum latency: per Bitcoin block carrying one deposit, the time from the moment the
 *    block giving it its k-th confirmation is mined (the mining call returns) until a quorum
 *    proof exists (the first validator whose aggregator holds ≥ N/2+1 valid signatures on the
 *    decision); p50/p99 over SAMPLES blocks. Blocks are paced: the next one is mined once the
 *    previous block was accepted by the BMV.
 * 2. Deposits per BTP block sustained: blocks carrying DEPOSITS_PER_BLOCK deposits each (one
 *    transaction with one OP_RETURN and that many outputs to the federation), one block after
 *    another; every deposit must be minted. Reported with the time from the k-th confirmation
 *    to the BMV accepting the block.
 * 3. The bare signing + verification cost of the same work (N signatures and N×N recoveries per
 *    block: every validator verifies every signature), without I/O.
 * Writes bench/results/federation.json.
 */
import '../../src/polyfill.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { defaultBackend } from '../../src/chains/btp/secp256k1.js';
import { recoverSigner, signDecision } from '../../src/chains/btp/sign.js';
import { existsSync, readFileSync } from 'node:fs';
import { FEDNODE_BIN, getJson, spawnFednode, type ManagedChild } from '../../src/node/devnet/processes.js';
import { freePort, startHarness, waitFor, type Harness } from '../../test/e2e/harness.js';

const VALIDATORS = Number(process.env.FED_BENCH_VALIDATORS ?? 7);
const SAMPLES = Number(process.env.FED_BENCH_SAMPLES ?? 25);
const DEPOSITS_PER_BLOCK = Number(process.env.FED_BENCH_DEPOSITS ?? 100);
const THROUGHPUT_BLOCKS = Number(process.env.FED_BENCH_BLOCKS ?? 3);
const K = 2;
/** FED_BENCH_PACED=0: mine the next sample as soon as the previous one has its quorum (overlapping relays). */
const PACED = process.env.FED_BENCH_PACED !== '0';

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Where quorum and derivation times come from: in-process events, or the child nodes' logs. */
interface TimingSource {
  /** Earliest quorum time (unix ms) at `height` across validators, waiting for it (bounded). */
  at(height: number, timeoutMs: number): Promise<number>;
  /** When the first and the last validator derived (and signed) `height`. */
  derived(height: number): { first: number; last: number } | undefined;
}

class Timings {
  readonly quorum = new Map<number, number>();
  readonly derivedAt = new Map<number, { first: number; last: number }>();
  onQuorum(height: number, at: number): void {
    const prev = this.quorum.get(height);
    if (prev === undefined || at < prev) this.quorum.set(height, at);
  }
  onDerived(height: number, at: number): void {
    const d = this.derivedAt.get(height);
    this.derivedAt.set(height, d === undefined ? { first: at, last: at } : { first: Math.min(d.first, at), last: Math.max(d.last, at) });
  }
}

function inProcessTimings(h: Harness): TimingSource {
  const t = new Timings();
  for (const x of h.nodes) {
    x.validator!.pipeline.on('derived', ({ height }) => t.onDerived(height, Date.now()));
    x.validator!.pipeline.on('quorum', ({ height, at }) => t.onQuorum(height, at));
  }
  return {
    derived: (height) => t.derivedAt.get(height),
    async at(height, timeoutMs) {
      await waitFor(() => t.quorum.has(height), timeoutMs, `quorum at height ${height}`, 10);
      // Other validators' quorum events arriving in the same turn may be earlier: let them land.
      await new Promise((r) => setTimeout(r, 50));
      return t.quorum.get(height)!;
    },
  };
}

/** Reads the child nodes' JSON log files incrementally ("quorum reached" / "derived BTP block"). */
function logTimings(files: string[]): TimingSource {
  const t = new Timings();
  const offsets = files.map(() => 0);
  const partial = files.map(() => '');
  const read = (): void => {
    files.forEach((f, i) => {
      if (!existsSync(f)) return;
      const buf = readFileSync(f);
      if (buf.length <= offsets[i]!) return;
      const text = partial[i] + buf.subarray(offsets[i]).toString('utf8');
      offsets[i] = buf.length;
      const lines = text.split('\n');
      partial[i] = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg?: string; height?: number; at?: number; time?: string };
        if (rec.msg === 'quorum reached' && typeof rec.height === 'number' && typeof rec.at === 'number') t.onQuorum(rec.height, rec.at);
        if (rec.msg === 'derived BTP block' && typeof rec.height === 'number' && rec.time !== undefined) t.onDerived(rec.height, Date.parse(rec.time));
      }
    });
  };
  return {
    derived: (height) => {
      read();
      return t.derivedAt.get(height);
    },
    async at(height, timeoutMs) {
      await waitFor(() => {
        read();
        return t.quorum.has(height);
      }, timeoutMs, `quorum at height ${height}`, 20);
      // The other nodes' lines for this height may still be in flight: let them land.
      await new Promise((r) => setTimeout(r, 200));
      read();
      return t.quorum.get(height)!;
    },
  };
}

function bareCrypto(n: number, rounds: number): number {
  const backend = defaultBackend();
  const keys = Array.from({ length: n }, (_, i) => getBytes(keccak256(toUtf8Bytes(`bench-fed-${i}`))));
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const hash = getBytes(keccak256(toUtf8Bytes(`decision-${r}`)));
    const sigs = keys.map((k) => signDecision(hash, k, backend));
    for (let v = 0; v < n; v++) for (const s of sigs) if (recoverSigner(hash, s, backend) === null) throw new Error('bad signature');
  }
  return (performance.now() - t0) / rounds;
}

/**
 * The settings of a latency-minded operator: the Bitcoin RPC polled every 50 ms, the aggregator
 * ticking every 50 ms, 100 ms of extra collection after quorum. Everything else is the default.
 */
const BENCH_SETTINGS = { bitcoinPollMs: 50, tickIntervalMs: 50, collectAfterQuorumMs: 100 } as const;
const benchConfig = (): Record<string, unknown> => ({
  ethereum: { pollIntervalMs: 1_000 },
  validator: { homePollIntervalMs: 2_000, regossipIntervalMs: 2_000, heartbeatIntervalMs: 5_000, relayRetryMs: 1_000, takeoverTimeoutMs: 15_000 },
});

interface LatencyResult {
  quorumLatencyMs: { p50: number; p99: number; max: number; samples: number };
  derivedLatencyMs: { firstP50: number; lastP50: number; lastP99: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

const log = (s: string): void => console.log(`[bench:federation] ${s}`);

async function startBench(): Promise<Harness> {
  return startHarness({ validators: VALIDATORS, confirmations: K, ...BENCH_SETTINGS, p2p: { gossipHeartbeatMs: 1_000 }, config: benchConfig });
}

/** Quorum latency, one deposit per block: from the k-th confirmation's mining call returning to the first quorum. */
async function measureLatency(h: Harness, src: TimingSource, label: string): Promise<LatencyResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const latencies: number[] = [];
  const derivedFirst: number[] = [];
  const derivedLast: number[] = [];
  for (let i = 0; i < SAMPLES + 2; i++) {
    const recipient = new Wallet(keccak256(toUtf8Bytes(`bench-recipient-${label}-${i}`))).address;
    await h.deposit(recipient, 50_000n);
    await h.mine(1);
    const height = await h.btc.rpc.getBlockCount();
    await h.mine(K - 1);
    const minedAt = Date.now();
    const at = await src.at(height, 30_000);
    // Paced like Bitcoin (a block every ~10 minutes): the next block comes once this one is
    // relayed and accepted, so a sample never overlaps the previous block's relay and minting.
    // Back-to-back load is what the throughput phase measures.
    if (PACED) await waitFor(async () => Number(await h.bmv.getFunction('getHeight')()) >= height, 60_000, `block ${height} accepted`, 100);
    if (i < 2) continue; // the first two warm the mesh and the JIT
    latencies.push(at - minedAt);
    const d = src.derived(height);
    if (d !== undefined) {
      derivedFirst.push(d.first - minedAt);
      derivedLast.push(d.last - minedAt);
    }
  }
  loop.disable();
  for (const a of [latencies, derivedFirst, derivedLast]) a.sort((x, y) => x - y);
  const r: LatencyResult = {
    quorumLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)!, samples: latencies.length },
    derivedLatencyMs: { firstP50: percentile(derivedFirst, 50), lastP50: percentile(derivedLast, 50), lastP99: percentile(derivedLast, 99) },
    eventLoopDelayMs: { p50: Math.round(loop.percentile(50) / 1e6), p99: Math.round(loop.percentile(99) / 1e6), max: Math.round(loop.max / 1e6) },
  };
  log(`${label}: derived (first / last validator) p50 ${r.derivedLatencyMs.firstP50} / ${r.derivedLatencyMs.lastP50} ms`);
  log(`${label}: quorum latency over ${latencies.length} blocks: p50 ${r.quorumLatencyMs.p50} ms, p99 ${r.quorumLatencyMs.p99} ms, max ${r.quorumLatencyMs.max} ms`);
  return r;
}

/** Deposits per BTP block sustained: blocks of DEPOSITS_PER_BLOCK deposits each, every one minted. */
async function measureThroughput(h: Harness): Promise<{ blocks: number; depositsMinted: number; confirmationToAcceptedMs: number[] }> {
  const endToEnd: number[] = [];
  let minted = 0;
  for (let b = 0; b < THROUGHPUT_BLOCKS; b++) {
    const recipient = new Wallet(keccak256(toUtf8Bytes(`bench-bulk-${b}`))).address;
    const outs = [{ script: encodeDepositOpReturn({ recipient: getBytes(recipient) }), valueSats: 0n }];
    for (let d = 0; d < DEPOSITS_PER_BLOCK; d++) outs.push({ script: h.deployed.epoch0Script.p2wshOutput, valueSats: 20_000n + BigInt(d) });
    await h.faucet.send(outs);
    await h.mine(1);
    const height = await h.btc.rpc.getBlockCount();
    await h.mine(K - 1);
    const minedAt = Date.now();
    await waitFor(async () => Number(await h.bmv.getFunction('getHeight')()) >= height, 120_000, `block ${height} accepted`, 100);
    endToEnd.push(Date.now() - minedAt);
    const expected = BigInt(DEPOSITS_PER_BLOCK) * 20_000n + BigInt((DEPOSITS_PER_BLOCK * (DEPOSITS_PER_BLOCK - 1)) / 2);
    await waitFor(async () => (await h.balance(recipient)) === expected, 30_000, `block ${height}'s deposits minted`, 100);
    minted += DEPOSITS_PER_BLOCK;
  }
  log(`${THROUGHPUT_BLOCKS} blocks × ${DEPOSITS_PER_BLOCK} deposits minted (${minted}); k-th confirmation → BMV accepted: ${endToEnd.join(', ')} ms`);
  return { blocks: THROUGHPUT_BLOCKS, depositsMinted: minted, confirmationToAcceptedMs: endToEnd };
}

/** Each validator as its own `fednode start` process (the deployment model); throughput measured here too. */
async function runProcesses(): Promise<LatencyResult & { throughput: Awaited<ReturnType<typeof measureThroughput>> }> {
  if (!existsSync(join(FEDNODE_BIN, '../../dist/node/cli/main.js'))) throw new Error('run `npm run build` first: the benchmark starts bin/fednode.js');
  log(`processes: starting ${VALIDATORS} validators as child processes (k = ${K})`);
  const h = await startBench();
  const children: ManagedChild[] = [];
  try {
    const ports = await Promise.all(h.nodes.map(() => freePort()));
    const logs = h.nodes.map((x) => join(x.dir, 'node.log'));
    for (const [i] of h.nodes.entries()) children.push(spawnFednode(`v${i}`, ['start', '--config', await h.writeDataDir(i, ports[i]!)], logs[i]!));
    const peersOf = async (i: number): Promise<number | undefined> => (await getJson<{ p2p?: { peers?: number } }>(`http://127.0.0.1:${ports[i]}/status`))?.p2p?.peers;
    await waitFor(async () => {
      const dead = children.find((c) => c.exitCode() !== 'running');
      if (dead !== undefined) throw new Error(`${dead.name} exited (${String(dead.exitCode())}); see its node.log`);
      return (await Promise.all(h.nodes.map((_, i) => peersOf(i)))).every((p) => p === VALIDATORS - 1);
    }, 60_000, 'full mesh of the child validators', 250);
    const lat = await measureLatency(h, logTimings(logs), 'processes');
    const throughput = await measureThroughput(h);
    return { ...lat, throughput };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await h.stop();
  }
}

/** All validators in this process (one event loop shared with bcoin). */
async function runInProcess(): Promise<LatencyResult> {
  log(`inProcess: starting ${VALIDATORS} validators in this process (k = ${K})`);
  const h = await startBench();
  try {
    await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
    await waitFor(async () => (await Promise.all(h.nodes.map((x) => x.validator!.status()))).every((s) => s.p2p.peers === VALIDATORS - 1), 30_000, 'full mesh');
    return await measureLatency(h, inProcessTimings(h), 'inProcess');
  } finally {
    await h.stop();
  }
}

async function main(): Promise<void> {
  const processes = await runProcesses();
  const inProcess = process.env.FED_BENCH_IN_PROCESS === '0' ? undefined : await runInProcess();

  // The bare crypto of one block's collection.
  const bare = bareCrypto(VALIDATORS, 200);
  log(`bare signing + verification per block (${VALIDATORS} signatures, ${VALIDATORS * VALIDATORS} recoveries): ${bare.toFixed(2)} ms`);

  const { throughput, ...latency } = processes;
  const result = {
    validators: VALIDATORS,
    quorumLatencyMs: latency.quorumLatencyMs,
    // Stage breakdown: when the first and the last validator had derived (and signed) the block.
    derivedLatencyMs: latency.derivedLatencyMs,
    depositsPerBlock: DEPOSITS_PER_BLOCK,
    bareCryptoMs: Number(bare.toFixed(3)),
    confirmations: K,
    paced: PACED,
    throughput,
    inProcess,
    loadAverage1m: Number((await import('node:os')).loadavg()[0]!.toFixed(2)),
    cpus: (await import('node:os')).cpus().length,
    settings: {
      ...BENCH_SETTINGS,
      other: 'defaults (ethereum poll 1 s, home poll 2 s, regossip 2 s, heartbeat 5 s, gossipsub heartbeat 1 s)',
      host: 'loopback; headline: each validator its own process, bcoin in the bench process, the EVM node in a child process; inProcess: all validators and bcoin in one process',
    },
    measuredAt: new Date().toISOString(),
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results/federation.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

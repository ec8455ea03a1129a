/**
 * `npm run bench:federation`: 7 validators in one process on loopback (real EVM node, real bcoin
 * regtest, real libp2p, real level databases; test/e2e/harness.ts).
 *
 * 1. Quorum latency: per Bitcoin block carrying one deposit, the time from the moment the
 *    block giving it its k-th confirmation is mined (the mining call returns) until a quorum
 *    proof exists (the first validator whose aggregator holds ≥ N/2+1 valid signatures on the
 *    decision); p50/p99 over SAMPLES blocks.
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
import { Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { defaultBackend } from '../../src/chains/btp/secp256k1.js';
import { recoverSigner, signDecision } from '../../src/chains/btp/sign.js';
import { startHarness, waitFor, type Harness } from '../../test/e2e/harness.js';

const VALIDATORS = Number(process.env.FED_BENCH_VALIDATORS ?? 7);
const SAMPLES = Number(process.env.FED_BENCH_SAMPLES ?? 25);
const DEPOSITS_PER_BLOCK = Number(process.env.FED_BENCH_DEPOSITS ?? 100);
const THROUGHPUT_BLOCKS = Number(process.env.FED_BENCH_BLOCKS ?? 3);
const K = 2;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Earliest quorum time (unix ms) at `height` across validators, waiting for it (bounded). */
function quorumWatch(h: Harness): { at(height: number, timeoutMs: number): Promise<number>; derived(height: number): { first: number; last: number } | undefined } {
  const first = new Map<number, number>();
  const waiters = new Map<number, () => void>();
  const derived = new Map<number, { first: number; last: number }>();
  for (const x of h.nodes) {
    x.validator!.pipeline.on('derived', ({ height }) => {
      const now = Date.now();
      const d = derived.get(height);
      derived.set(height, d === undefined ? { first: now, last: now } : { first: d.first, last: now });
    });
    x.validator!.pipeline.on('quorum', ({ height, at }) => {
      const prev = first.get(height);
      if (prev === undefined || at < prev) first.set(height, at);
      waiters.get(height)?.();
    });
  }
  return {
    derived: (height) => derived.get(height),
    async at(height, timeoutMs) {
      if (!first.has(height)) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no quorum at height ${height} within ${timeoutMs} ms`)), timeoutMs);
          waiters.set(height, () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      // Other validators' quorum events arriving in the same turn may be earlier: let them land.
      await new Promise((r) => setTimeout(r, 20));
      return first.get(height)!;
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

async function main(): Promise<void> {
  const log = (s: string): void => console.log(`[bench:federation] ${s}`);
  log(`starting ${VALIDATORS} validators (k = ${K})`);
  const h = await startHarness({ validators: VALIDATORS, confirmations: K, bitcoinPollMs: 50, collectAfterQuorumMs: 100 });
  try {
    await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
    await waitFor(async () => (await Promise.all(h.nodes.map((x) => x.validator!.status()))).every((s) => s.p2p.peers === VALIDATORS - 1), 30_000, 'full mesh');
    const q = quorumWatch(h);

    // 1. Quorum latency, one deposit per block.
    const latencies: number[] = [];
    const derivedFirst: number[] = [];
    const derivedLast: number[] = [];
    for (let i = 0; i < SAMPLES + 2; i++) {
      const recipient = new Wallet(keccak256(toUtf8Bytes(`bench-recipient-${i}`))).address;
      await h.deposit(recipient, 50_000n);
      await h.mine(1);
      const height = await h.btc.rpc.getBlockCount();
      await h.mine(K - 1);
      const minedAt = Date.now();
      const at = await q.at(height, 30_000);
      if (i >= 2) {
        // the first two warm the mesh and the JIT
        latencies.push(at - minedAt);
        const d = q.derived(height);
        if (d !== undefined) {
          derivedFirst.push(d.first - minedAt);
          derivedLast.push(d.last - minedAt);
        }
      }
    }
    latencies.sort((a, b) => a - b);
    derivedFirst.sort((a, b) => a - b);
    derivedLast.sort((a, b) => a - b);
    log(`derived (first / last validator) p50 ${percentile(derivedFirst, 50)} / ${percentile(derivedLast, 50)} ms`);
    log(`quorum latency over ${latencies.length} blocks: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms`);

    // 2. Throughput: blocks of DEPOSITS_PER_BLOCK deposits each.
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

    // 3. The bare crypto of one block's collection.
    const bare = bareCrypto(VALIDATORS, 200);
    log(`bare signing + verification per block (${VALIDATORS} signatures, ${VALIDATORS * VALIDATORS} recoveries): ${bare.toFixed(2)} ms`);

    const result = {
      validators: VALIDATORS,
      quorumLatencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1), samples: latencies.length },
      // Stage breakdown: when the first and the last validator had derived (and signed) the block.
      derivedLatencyMs: { firstP50: percentile(derivedFirst, 50), lastP50: percentile(derivedLast, 50), lastP99: percentile(derivedLast, 99) },
      loadAverage1m: Number((await import('node:os')).loadavg()[0]!.toFixed(2)),
      depositsPerBlock: DEPOSITS_PER_BLOCK,
      bareCryptoMs: Number(bare.toFixed(3)),
      confirmations: K,
      throughput: { blocks: THROUGHPUT_BLOCKS, depositsMinted: minted, confirmationToAcceptedMs: endToEnd },
      settings: { bitcoinPollMs: 50, collectAfterQuorumMs: 100, tickIntervalMs: 20, host: 'loopback, one process' },
      measuredAt: new Date().toISOString(),
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), '../../bench/results/federation.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${out}`);
  } finally {
    await h.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

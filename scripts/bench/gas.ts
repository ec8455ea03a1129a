/**
 * Gas benchmark (issue 4): gas per deposit when one BTP block carries 1, 10 and 100 deposits with
 * N = 4, 15 and 50 validators, against (a) the Terra-Bridge baseline, where each of N/2+1
 * validators sends `submitSignature(deposit, signature)` (ecrecover + bitmap vote, mint on the last
 * vote), and (b) one bare ERC-20 `mint(to, amount)` transaction. Every deposit pays a fresh
 * recipient. Real EVM (hardhat node, osaka rules); gas from receipts, base cost included.
 *
 *   npm run bench:gas            → bench/results/gas.json and a markdown table on stdout
 */
import '../../src/polyfill.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Contract, Wallet, getBytes, hexlify, keccak256, toUtf8Bytes, AbiCoder, type JsonRpcProvider } from 'ethers';
import { startDevChain } from '../../src/chains/ethereum/devchain.js';
import { createProvider, waitReceipt, MAX_TX_GAS } from '../../src/chains/ethereum/provider.js';
import { deployContract } from '../../src/chains/ethereum/artifacts.js';
import { deployBridge, BITCOIN_ADDRESS_PARAMS } from '../../src/chains/ethereum/contracts.js';
import { buildBlock, buildMessageProof, encodeBTPMessage, encodeRelayMessage, signDecision, sortValidators, type BtpChainState } from '../../src/chains/btp/index.js';
import { encodeRecord } from '../../src/chains/bitcoin/records.js';

const SRC_UID = '0x1.btc';
const SRC_BMC = 'btp://0x1.btc/federation';
const DST_BMC = 'btp://0x7a69.eth/bmc';
const VALIDATOR_COUNTS = [4, 15, 50];
const BATCHES = [1, 10, 100];

interface Row { kind: 'deposit'; scheme: 'fednode' | 'terra-baseline'; validators: number; batch: number; gasPerDeposit: number }

let fresh = 0;
function freshAddress(): string {
  fresh++;
  return hexlify(getBytes(keccak256(toUtf8Bytes(`recipient-${fresh}`))).subarray(12));
}
function txid(i: number): Uint8Array {
  return getBytes(keccak256(toUtf8Bytes(`txid-${i}`)));
}

async function fednodeRow(provider: JsonRpcProvider, deployer: Wallet, n: number, batch: number): Promise<number> {
  const keys = Array.from({ length: n }, (_, i) => keccak256(toUtf8Bytes(`bench-validator-${n}-${i}`)));
  const byAddr = new Map(keys.map((k) => [new Wallet(k).address.toLowerCase(), k]));
  let state: BtpChainState = { networkId: 1, lastNetworkSectionHash: null, nextMessageSn: 0, validators: sortValidators(keys.map((k) => getBytes(new Wallet(k).address))) };
  const genesis = buildBlock(state, { srcNetworkUid: SRC_UID, networkTypeId: 2, height: 1000, messages: [] })!;
  state = genesis.nextState;
  const d = await deployBridge(deployer, provider, {
    admin: deployer.address, srcNetworkUid: SRC_UID, networkTypeId: 2, firstBlockHeader: hexlify(genesis.headerBytes),
    bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest,
  });
  // Default fees (a ratio) and a relayer share, as a deployment would run.
  await waitReceipt(provider, await d.bsh.getFunction('setFee')(true, 1, 0, 10));
  await waitReceipt(provider, await d.bsh.getFunction('setRelayerShare')(1000));
  const relay = async (height: number, count: number): Promise<bigint> => {
    const messages = Array.from({ length: count }, (_, i) => encodeBTPMessage({
      src: SRC_BMC, dst: DST_BMC, svc: 'btc', sn: BigInt(state.nextMessageSn + i),
      payload: encodeRecord({ type: 'deposit-mint', txid: txid(fresh + 1_000_000 * n + i), vout: i, amountSats: 100_000n + BigInt(i), epoch: 0, recipient: getBytes(freshAddress()) }),
      nsn: 0n, feeInfo: null,
    }));
    const b = buildBlock(state, { srcNetworkUid: SRC_UID, networkTypeId: 2, height, messages })!;
    // N/2+1 signatures, like an aggregator that stops at quorum after its deadline
    const quorum = Math.floor(n / 2) + 1;
    const sigs = state.validators.map((v, i) => (i < quorum ? signDecision(b.decisionHash, getBytes(byAddr.get(hexlify(v).toLowerCase())!)) : null));
    state = b.nextState;
    const rm = encodeRelayMessage({ items: [
      { type: 1, blockUpdate: { header: b.header, proof: { signatures: sigs } } },
      { type: 2, messageProof: buildMessageProof(messages, 0, messages.length) },
    ] });
    const tx = await d.bmc.getFunction('handleRelayMessage')(SRC_BMC, hexlify(rm), { gasLimit: MAX_TX_GAS });
    const r = await waitReceipt(provider, tx);
    return r.gasUsed;
  };
  await relay(1001, 1); // warm-up: steady-state storage (non-zero supply, fee slots, usage window)
  const gas = await relay(1002, batch);
  return Number(gas) / batch;
}

async function baselineRow(provider: JsonRpcProvider, deployer: Wallet, voters: Wallet[], n: number, batch: number): Promise<number> {
  const validators = voters.slice(0, n);
  const bridge = await deployContract(deployer, provider, 'TerraBaselineBridge', [validators.map((w) => w.address)]);
  const quorum = Math.floor(n / 2) + 1;
  const coder = AbiCoder.defaultAbiCoder();
  const deposit = async (i: number): Promise<bigint> => {
    const dep = { txid: hexlify(txid(9_000_000 + fresh)), vout: i, recipient: freshAddress(), amount: 100_000n + BigInt(i) };
    const id = keccak256(coder.encode(['bytes32', 'uint32', 'address', 'uint64'], [dep.txid, dep.vout, dep.recipient, dep.amount]));
    let total = 0n;
    for (let v = 0; v < quorum; v++) {
      const s = validators[v]!.signingKey.sign(id);
      const sig = hexlify(new Uint8Array([...getBytes(s.r), ...getBytes(s.s), s.v]));
      const tx = await (bridge.connect(validators[v]!) as Contract).getFunction('submitSignature')(dep, sig, { gasLimit: 500_000n });
      total += (await waitReceipt(provider, tx)).gasUsed;
    }
    return total;
  };
  await deposit(0); // warm-up: non-zero totalSupply, like the fednode warm-up
  let sum = 0n;
  for (let i = 0; i < batch; i++) sum += await deposit(i + 1);
  return Number(sum) / batch;
}

async function bareMint(provider: JsonRpcProvider, deployer: Wallet): Promise<number> {
  const token = await deployContract(deployer, provider, 'BareERC20');
  await waitReceipt(provider, await token.getFunction('mint')(freshAddress(), 1n)); // non-zero totalSupply
  const r = await waitReceipt(provider, await token.getFunction('mint')(freshAddress(), 100_000n));
  return Number(r.gasUsed);
}

async function main(): Promise<void> {
  const chain = await startDevChain({ accounts: 52, blockGasLimit: 60_000_000 });
  const provider = createProvider(chain.rpcUrl, chain.chainId, { pollingIntervalMs: 10 });
  try {
    const wallets = chain.accounts.map((k) => new Wallet(k, provider));
    const deployer = wallets[0]!;
    const voters = wallets.slice(1);
    const erc20MintGas = await bareMint(provider, deployer);
    // GAS_BENCH_ONLY=N:B measures one fednode row (while tuning the contracts) and writes nothing.
    const only = process.env.GAS_BENCH_ONLY?.match(/^(\d+):(\d+)$/);
    if (only) {
      const [n, b] = [Number(only[1]), Number(only[2])];
      console.log(`fednode N=${n} B=${b}: ${Math.round(await fednodeRow(provider, deployer, n, b))} gas/deposit (bare mint ${erc20MintGas})`);
      return;
    }
    const rows: Row[] = [];
    for (const n of VALIDATOR_COUNTS) {
      for (const batch of BATCHES) {
        rows.push({ kind: 'deposit', scheme: 'fednode', validators: n, batch, gasPerDeposit: Math.round(await fednodeRow(provider, deployer, n, batch)) });
      }
    }
    for (const n of VALIDATOR_COUNTS) {
      for (const batch of BATCHES) {
        rows.push({ kind: 'deposit', scheme: 'terra-baseline', validators: n, batch, gasPerDeposit: Math.round(await baselineRow(provider, deployer, voters, n, batch)) });
      }
    }
    const here = dirname(fileURLToPath(import.meta.url));
    const out = resolve(here, '../../bench/results/gas.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ erc20MintGas, rows }, null, 2)}\n`);

    const base = (n: number, b: number): number => rows.find((r) => r.scheme === 'terra-baseline' && r.validators === n && r.batch === b)!.gasPerDeposit;
    console.log(`bare ERC-20 mint (one transaction, fresh recipient): ${erc20MintGas} gas\n`);
    console.log('| validators N | deposits per BTP block | fednode gas/deposit | × bare mint | Terra baseline gas/deposit | baseline ÷ fednode |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const r of rows.filter((x) => x.scheme === 'fednode')) {
      const bl = base(r.validators, r.batch);
      console.log(`| ${r.validators} | ${r.batch} | ${r.gasPerDeposit} | ${(r.gasPerDeposit / erc20MintGas).toFixed(2)} | ${bl} | ${(bl / r.gasPerDeposit).toFixed(1)} |`);
    }
    console.log(`\nwritten to ${join('bench', 'results', 'gas.json')}`);
  } finally {
    provider.destroy();
    await chain.stop();
  }
}

await main();

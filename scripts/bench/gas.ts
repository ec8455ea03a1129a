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
import { deployBridge, deployRegistry, stakeValidator, BITCOIN_ADDRESS_PARAMS } from '../../src/chains/ethereum/contracts.js';
import { encodeDepositImport, witnessSigArg } from '../../src/chains/ethereum/bindings.js';
import { federationScript } from '../../src/chains/bitcoin/scripts.js';
import { signPayoutInputs } from '../../src/chains/bitcoin/payout-signing.js';
import type { FederationUtxo } from '../../src/chains/bitcoin/payout.js';
import { Transaction, networks, payments } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { buildBlock, buildMessageProof, encodeBTPMessage, encodeRelayMessage, signDecision, sortValidators, type BtpChainState } from '../../src/chains/btp/index.js';
import { encodeRecord } from '../../src/chains/bitcoin/records.js';

const SRC_UID = '0x1.btc';
const SRC_BMC = 'btp://0x1.btc/federation';
const DST_BMC = 'btp://0x7a69.eth/bmc';
const VALIDATOR_COUNTS = [4, 15, 50];
const BATCHES = [1, 10, 100];

interface Row { kind: 'deposit'; scheme: 'fednode' | 'terra-baseline'; validators: number; batch: number; gasPerDeposit: number }
/** Gas per recorded witness signature (one validator's submitSignature over every input). */
interface WitnessRow { kind: 'witness'; scheme: 'fednode-submitSignature' | 'fednode-submitSignatures'; validators: number; inputs: number; gasPerSignature: number }
/** Gas to approve one batch: every quorum validator's signatures on every input. */
interface ApprovalRow { kind: 'batch-approval'; scheme: 'fednode-submitSignature' | 'fednode-submitSignatures' | 'terra-baseline'; validators: number; inputs: number; transactions: number; gas: number }
/** Gas per withdrawal over its whole life: transferToForeign + its share of closeBatch, approval (one tx per validator) and confirmation relay. */
interface WithdrawalRow { kind: 'withdrawal'; scheme: 'fednode'; validators: number; batch: number; inputs: number; gasPerWithdrawal: number; transferToForeign: number; closeBatch: number; approval: number; confirmation: number }

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

interface PayoutBench { withdrawal: WithdrawalRow; approvals: ApprovalRow[]; witness: WitnessRow[] }

/**
 * One payout batch of `batch` withdrawals on a fednode deployment with `n` staked validators:
 * bootstrap reserve + one deposit (2 inputs), withdrawals, closeBatch, the quorum's witnesses
 * (measured both as one submitSignature per validator and as one submitSignatures), and the
 * PAYOUT_CONFIRMED relay.
 */
async function payoutBench(provider: JsonRpcProvider, wallets: Wallet[], n: number, batch: number): Promise<PayoutBench> {
  const deployer = wallets[0]!;
  const user = wallets[n + 1]!;
  const keys = Array.from({ length: n }, (_, i) => keccak256(toUtf8Bytes(`bench-payout-${n}-${i}`)));
  const registry = await deployRegistry(deployer, provider, deployer.address, { maxActive: n, maxChurn: n, minStakeWei: 10n ** 15n });
  for (let i = 0; i < n; i++) await stakeValidator(registry, provider, { operator: wallets[1 + i]!, signingKey: keys[i]!, peerId: '0x01', amountWei: 10n ** 15n });
  await waitReceipt(provider, await registry.getFunction('bootstrap')());
  const byAddr = new Map(keys.map((k) => [new Wallet(k).address.toLowerCase(), k]));
  let state: BtpChainState = { networkId: 1, lastNetworkSectionHash: null, nextMessageSn: 0, validators: sortValidators(keys.map((k) => getBytes(new Wallet(k).address))) };
  const genesis = buildBlock(state, { srcNetworkUid: SRC_UID, networkTypeId: 2, height: 1000, messages: [] })!;
  state = genesis.nextState;
  const d = await deployBridge(deployer, provider, {
    admin: deployer.address, srcNetworkUid: SRC_UID, networkTypeId: 2, firstBlockHeader: hexlify(genesis.headerBytes),
    bmcBtpAddress: DST_BMC, bitcoin: BITCOIN_ADDRESS_PARAMS.regtest, registry,
  });
  let height = 1001;
  const relay = async (payloads: Uint8Array[]): Promise<bigint> => {
    const messages = payloads.map((payload, i) => encodeBTPMessage({ src: SRC_BMC, dst: DST_BMC, svc: 'btc', sn: BigInt(state.nextMessageSn + i), payload, nsn: 0n, feeInfo: null }));
    const b = buildBlock(state, { srcNetworkUid: SRC_UID, networkTypeId: 2, height: height++, messages })!;
    const quorum = Math.floor(n / 2) + 1;
    const sigs = state.validators.map((v, i) => (i < quorum ? signDecision(b.decisionHash, getBytes(byAddr.get(hexlify(v).toLowerCase())!)) : null));
    state = b.nextState;
    const rm = encodeRelayMessage({ items: [
      { type: 1, blockUpdate: { header: b.header, proof: { signatures: sigs } } },
      { type: 2, messageProof: buildMessageProof(messages, 0, messages.length) },
    ] });
    return (await waitReceipt(provider, await d.bmc.getFunction('handleRelayMessage')(SRC_BMC, hexlify(rm), { gasLimit: MAX_TX_GAS }))).gasUsed;
  };
  const m = Math.floor(n / 2) + 1;
  const script = federationScript({ keys: keys.map((k) => secp256k1.getPublicKey(getBytes(k), true)), threshold: m, epoch: 0 });
  const reserveTxid = txid(7_000_000 + n);
  const depTxid = txid(7_100_000 + n);
  await waitReceipt(provider, await d.payout.getFunction('initReserve')(hexlify(reserveTxid), 0, 100_000n, 0));
  await relay([encodeRecord({ type: 'deposit-mint', txid: depTxid, vout: 0, amountSats: 10_000_000_000n, epoch: 0, recipient: getBytes(user.address) })]);
  await waitReceipt(provider, await d.payout.getFunction('importDeposits')([encodeDepositImport([{ txid: depTxid, vout: 0 }])]));
  const bsh = d.bsh.connect(user) as Contract;
  let transferGas = 0n;
  for (let i = 0; i < batch; i++) {
    const address = payments.p2wpkh({ hash: Buffer.from(getBytes(keccak256(toUtf8Bytes(`payee-${n}-${batch}-${i}`))).subarray(0, 20)), network: networks.regtest }).address!;
    transferGas += (await waitReceipt(provider, await bsh.getFunction('transferToForeign')(address, 1_000_000n + BigInt(i)))).gasUsed;
  }
  const closed = await waitReceipt(provider, await d.payout.getFunction('closeBatch')({ gasLimit: MAX_TX_GAS }));
  const ev = closed.logs.map((l) => { try { return d.payout.interface.parseLog(l); } catch { return null; } }).find((x) => x?.name === 'BatchClosed')!;
  const batchId = ev.args[0] as bigint;
  const tx = Transaction.fromHex((ev.args[3] as string).slice(2));
  const [txids, vouts, amounts] = await d.payout.getFunction('batchInputs')(batchId);
  const inputs: FederationUtxo[] = (txids as string[]).map((t, i) => ({ txid: Buffer.from(getBytes(t)).reverse().toString('hex'), vout: Number(vouts[i]), amountSats: amounts[i] as bigint, height: 0, script, kind: 'p2wsh' }));
  const sigsBy = keys.slice(0, m).map((k) => signPayoutInputs(tx, inputs, getBytes(k)).map(witnessSigArg));
  // (a) one submitSignature per validator (Terra-Bridge style), measured on a snapshot
  const snap = (await provider.send('evm_snapshot', [])) as string;
  let perValidator = 0n;
  for (const sigs of sigsBy) perValidator += (await waitReceipt(provider, await d.payout.getFunction('submitSignature')(batchId, 0, sigs, { gasLimit: MAX_TX_GAS }))).gasUsed;
  await provider.send('evm_revert', [snap]);
  // (b) all of them in one submitSignatures
  const all = sigsBy.flat();
  const batched = (await waitReceipt(provider, await d.payout.getFunction('submitSignatures')(batchId, 0, all, { gasLimit: MAX_TX_GAS }))).gasUsed;
  const nIn = inputs.length;
  const confirmGas = await relay([encodeRecord({ type: 'payout-confirmed', txid: getBytes(ev.args[2] as string), batchId, btcHeight: 900 })]);
  const approvalBaseline = await baselineApproval(provider, deployer, wallets.slice(1, 1 + n), n);
  const perTransfer = Number(transferGas) / batch;
  return {
    withdrawal: {
      kind: 'withdrawal', scheme: 'fednode', validators: n, batch, inputs: nIn,
      gasPerWithdrawal: Math.round(perTransfer + Number(closed.gasUsed + perValidator + confirmGas) / batch),
      transferToForeign: Math.round(perTransfer), closeBatch: Number(closed.gasUsed), approval: Number(perValidator), confirmation: Number(confirmGas),
    },
    approvals: [
      { kind: 'batch-approval', scheme: 'fednode-submitSignature', validators: n, inputs: nIn, transactions: m, gas: Number(perValidator) },
      { kind: 'batch-approval', scheme: 'fednode-submitSignatures', validators: n, inputs: nIn, transactions: 1, gas: Number(batched) },
      { kind: 'batch-approval', scheme: 'terra-baseline', validators: n, inputs: nIn, transactions: m, gas: approvalBaseline },
    ],
    witness: [
      { kind: 'witness', scheme: 'fednode-submitSignature', validators: n, inputs: nIn, gasPerSignature: Math.round(Number(perValidator) / all.length) },
      { kind: 'witness', scheme: 'fednode-submitSignatures', validators: n, inputs: nIn, gasPerSignature: Math.round(Number(batched) / all.length) },
    ],
  };
}

/** Terra-Bridge baseline of one approval: N/2+1 `submitSignature` transactions over one message. */
async function baselineApproval(provider: JsonRpcProvider, deployer: Wallet, validators: Wallet[], n: number): Promise<number> {
  const bridge = await deployContract(deployer, provider, 'TerraBaselineBridge', [validators.map((w) => w.address)]);
  const coder = AbiCoder.defaultAbiCoder();
  const vote = async (i: number): Promise<bigint> => {
    const dep = { txid: hexlify(txid(8_000_000 + fresh++)), vout: i, recipient: freshAddress(), amount: 100_000n };
    const id = keccak256(coder.encode(['bytes32', 'uint32', 'address', 'uint64'], [dep.txid, dep.vout, dep.recipient, dep.amount]));
    let total = 0n;
    for (let v = 0; v < Math.floor(n / 2) + 1; v++) {
      const s = validators[v]!.signingKey.sign(id);
      const sig = hexlify(new Uint8Array([...getBytes(s.r), ...getBytes(s.s), s.v]));
      total += (await waitReceipt(provider, await (bridge.connect(validators[v]!) as Contract).getFunction('submitSignature')(dep, sig, { gasLimit: 500_000n }))).gasUsed;
    }
    return total;
  };
  await vote(0);
  return Number(await vote(1));
}

async function bareMint(provider: JsonRpcProvider, deployer: Wallet): Promise<number> {
  const token = await deployContract(deployer, provider, 'BareERC20');
  await waitReceipt(provider, await token.getFunction('mint')(freshAddress(), 1n)); // non-zero totalSupply
  const r = await waitReceipt(provider, await token.getFunction('mint')(freshAddress(), 100_000n));
  return Number(r.gasUsed);
}

async function main(): Promise<void> {
  const chain = await startDevChain({ accounts: 56, blockGasLimit: 60_000_000 });
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
    const rows: (Row | WitnessRow | ApprovalRow | WithdrawalRow)[] = [];
    // GAS_BENCH_PAYOUT_ONLY=1 measures the payout rows only and prints them.
    const payoutRows: (WitnessRow | ApprovalRow | WithdrawalRow)[] = [];
    for (const [n, b] of [[15, 1], [15, 10], [15, 50], [50, 1]] as const) {
      const r = await payoutBench(provider, wallets, n, b);
      payoutRows.push(r.withdrawal);
      if (b === 1) payoutRows.push(...r.approvals, ...r.witness);
    }
    if (process.env.GAS_BENCH_PAYOUT_ONLY) {
      console.log(JSON.stringify(payoutRows, null, 2));
      return;
    }
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
    rows.push(...payoutRows);
    const here = dirname(fileURLToPath(import.meta.url));
    const out = resolve(here, '../../bench/results/gas.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ erc20MintGas, rows }, null, 2)}\n`);

    const deposits = rows.filter((r): r is Row => r.kind === 'deposit');
    const base = (n: number, b: number): number => deposits.find((r) => r.scheme === 'terra-baseline' && r.validators === n && r.batch === b)!.gasPerDeposit;
    console.log(`bare ERC-20 mint (one transaction, fresh recipient): ${erc20MintGas} gas\n`);
    console.log('| validators N | deposits per BTP block | fednode gas/deposit | × bare mint | Terra baseline gas/deposit | baseline ÷ fednode |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    for (const r of deposits.filter((x) => x.scheme === 'fednode')) {
      const bl = base(r.validators, r.batch);
      console.log(`| ${r.validators} | ${r.batch} | ${r.gasPerDeposit} | ${(r.gasPerDeposit / erc20MintGas).toFixed(2)} | ${bl} | ${(bl / r.gasPerDeposit).toFixed(1)} |`);
    }
    console.log('\n| kind | scheme | N | batch / inputs | gas |');
    console.log('|---|---|---:|---:|---:|');
    for (const r of payoutRows) {
      if (r.kind === 'withdrawal') console.log(`| withdrawal | ${r.scheme} | ${r.validators} | ${r.batch} | ${r.gasPerWithdrawal} per withdrawal |`);
      else if (r.kind === 'batch-approval') console.log(`| batch-approval | ${r.scheme} | ${r.validators} | ${r.inputs} inputs | ${r.gas} (${r.transactions} tx) |`);
      else console.log(`| witness | ${r.scheme} | ${r.validators} | ${r.inputs} inputs | ${r.gasPerSignature} per signature |`);
    }
    console.log(`\nwritten to ${join('bench', 'results', 'gas.json')}`);
  } finally {
    provider.destroy();
    await chain.stop();
  }
}

await main();

/**
 * Shared fixtures for the home-contract tests: one real EVM node per test file, a federation of
 * signing keys, and BTP blocks / relay messages made with the TypeScript builder of src/chains/btp.
 */
import { Contract, Wallet, getBytes, hexlify, keccak256, toUtf8Bytes, type JsonRpcProvider, type Result, type TransactionReceipt } from 'ethers';
import { expect } from 'vitest';
import {
  buildBlock,
  buildMessageProof,
  encodeBTPMessage,
  encodeRelayMessage,
  signDecision,
  sortValidators,
  type BtpChainState,
  type BuiltBlock,
  type RelayMessage,
} from '../../src/chains/btp/index.js';
import { encodeRecord, type BtcRecord } from '../../src/chains/bitcoin/records.js';
import { encodeDepositImport, type LedgerOutpoint } from '../../src/chains/ethereum/bindings.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { startDevChain, type DevChain } from '../../src/chains/ethereum/devchain.js';
import { createProvider } from '../../src/chains/ethereum/provider.js';
import { BITCOIN_ADDRESS_PARAMS, decodeCustomError, deployBridge, deployRegistry, stakeValidator, type BitcoinAddressParams, type BridgeDeployment, type PayoutParams } from '../../src/chains/ethereum/contracts.js';

export const SRC_UID = '0x1.btc';
export const SRC_BMC = 'btp://0x1.btc/federation';
export const NETWORK_TYPE_ID = 2;
export const NETWORK_ID = 1;

export interface Env {
  chain: DevChain;
  provider: JsonRpcProvider;
  wallets: Wallet[];
}

export async function startEnv(accounts = 12): Promise<Env> {
  const chain = await startDevChain({ accounts });
  const provider = createProvider(chain.rpcUrl, chain.chainId);
  const wallets = chain.accounts.map((k) => new Wallet(k, provider));
  return { chain, provider, wallets };
}

export async function stopEnv(env: Env | undefined): Promise<void> {
  env?.provider.destroy();
  await env?.chain.stop();
}

export async function snapshot(provider: JsonRpcProvider): Promise<string> {
  return (await provider.send('evm_snapshot', [])) as string;
}

export async function revertTo(provider: JsonRpcProvider, id: string): Promise<void> {
  expect(await provider.send('evm_revert', [id])).toBe(true);
}

export async function mine(provider: JsonRpcProvider, blocks: number): Promise<void> {
  await provider.send('hardhat_mine', [`0x${blocks.toString(16)}`]);
}

export async function increaseTime(provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds]);
  await provider.send('evm_mine', []);
}

/** Expects `p` to revert with the custom error `name` (decoded with every fednode ABI). */
export async function expectRevert(p: Promise<unknown>, name: string): Promise<unknown[]> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected revert ${name}`).toBeDefined();
  const data = findRevertData(err);
  expect(data, `no revert data in ${String(err)}`).toBeDefined();
  const decoded = decodeCustomError(data!);
  expect(decoded?.name, `revert data ${data}`).toBe(name);
  return decoded!.args;
}

function findRevertData(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (x: unknown): string | undefined => {
    if (x === null || typeof x !== 'object' || seen.has(x)) return undefined;
    seen.add(x);
    const d = (x as { data?: unknown }).data;
    if (typeof d === 'string' && d.startsWith('0x') && d.length >= 10) return d;
    for (const k of ['error', 'info', 'cause', 'revert', 'data']) {
      const r = walk((x as Record<string, unknown>)[k]);
      if (r) return r;
    }
    return undefined;
  };
  return walk(e);
}

/** A federation of signing keys that produces signed BTP blocks and relay messages. */
export class Federation {
  readonly keys: Map<string, string>;
  state: BtpChainState;

  constructor(signingKeys: string[], readonly dstBmc: string) {
    this.keys = new Map(signingKeys.map((k) => [new Wallet(k).address.toLowerCase(), k]));
    this.state = {
      networkId: NETWORK_ID,
      lastNetworkSectionHash: null,
      nextMessageSn: 0,
      validators: sortValidators(signingKeys.map((k) => getBytes(new Wallet(k).address))),
    };
  }

  addKeys(keys: string[]): void {
    for (const k of keys) this.keys.set(new Wallet(k).address.toLowerCase(), k);
  }

  /** The first header (carries the initial ProofContext), for the BMV constructor. */
  genesis(height: number): string {
    const b = buildBlock(this.state, { srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, height, messages: [] })!;
    this.state = b.nextState;
    return hexlify(b.headerBytes);
  }

  btpMessage(payload: Uint8Array, sn: number): Uint8Array {
    return encodeBTPMessage({ src: SRC_BMC, dst: this.dstBmc, svc: 'btc', sn: BigInt(sn), payload, nsn: 0n, feeInfo: null });
  }

  /**
   * Builds the block at `height` carrying `payloads` and signs it. `signers` picks which current
   * validators sign (default all); `foreign` adds signatures by keys at given positions.
   */
  block(
    height: number,
    payloads: Uint8Array[],
    opts: { nextValidators?: string[]; signers?: (addr: string, i: number) => boolean; forge?: Map<number, string> } = {},
  ): { built: BuiltBlock; relay: string; proofSigs: (Uint8Array | null)[]; decisionHash: string } {
    const sn0 = this.state.nextMessageSn;
    const messages = payloads.map((p, i) => this.btpMessage(p, sn0 + i));
    const next = opts.nextValidators ? sortValidators(opts.nextValidators.map((a) => getBytes(a))) : undefined;
    const built = buildBlock(this.state, {
      srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, height, messages,
      ...(next ? { nextValidators: next } : {}),
    });
    if (built === null) throw new Error('empty block');
    const sigs = this.state.validators.map((v, i) => {
      const addr = hexlify(v).toLowerCase();
      const forged = opts.forge?.get(i);
      if (forged) return signDecision(built.decisionHash, getBytes(forged));
      if (opts.signers && !opts.signers(addr, i)) return null;
      const key = this.keys.get(addr);
      return key ? signDecision(built.decisionHash, getBytes(key)) : null;
    });
    this.state = built.nextState;
    return { built, relay: relayOf(built, sigs, messages), proofSigs: sigs, decisionHash: hexlify(built.decisionHash) };
  }
}

/** Relay message = BlockUpdate(built, sigs) + one MessageProof over `messages` (if any). */
export function relayOf(built: BuiltBlock, sigs: (Uint8Array | null)[], messages: Uint8Array[]): string {
  const rm: RelayMessage = {
    items: [
      { type: 1, blockUpdate: { header: built.header, proof: { signatures: sigs } } },
      ...(messages.length > 0 ? [{ type: 2 as const, messageProof: buildMessageProof(messages, 0, messages.length) }] : []),
    ],
  };
  return hexlify(encodeRelayMessage(rm));
}

/** Deterministic keys for tests. */
export function testKeys(n: number, seed = 'fed'): string[] {
  return Array.from({ length: n }, (_, i) => keccak256(toUtf8Bytes(`${seed}-${i}`)));
}

export function txidOf(i: number, salt = 0): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, i);
  new DataView(b.buffer).setUint32(4, salt);
  b[31] = 0xab;
  return b;
}

export function depositMint(i: number, recipient: string, amountSats: bigint, opts: { vout?: number; epoch?: number; salt?: number } = {}): Uint8Array {
  return encodeRecord({ type: 'deposit-mint', txid: txidOf(i, opts.salt ?? 0), vout: opts.vout ?? 0, amountSats, epoch: opts.epoch ?? 0, recipient: getBytes(recipient) });
}

/** Splits the BMV's packed message blob (u32 big-endian length ‖ message, per message). */
export function unpackMessages(blob: string): string[] {
  const b = getBytes(blob);
  const out: string[] = [];
  for (let p = 0; p < b.length; ) {
    const len = new DataView(b.buffer, b.byteOffset + p, 4).getUint32(0);
    out.push(hexlify(b.subarray(p + 4, p + 4 + len)));
    p += 4 + len;
  }
  return out;
}

export type { Contract };

// ------------------------------------------------------------------ payout fixture

/** A staked, bootstrapped federation (registry epoch 0) with the whole bridge deployed. */
export interface PayoutFixture {
  admin: Wallet;
  d: BridgeDeployment;
  fed: Federation;
  /** Signing keys (hex) of epoch 0's validators. */
  signingKeys: string[];
  /** Next BTP height to use. */
  height: number;
  /** Ledger outpoints the BSH recorded per BTP height (for importDeposits). */
  recorded: Map<number, LedgerOutpoint[]>;
}

export const PAYOUT_DST_BMC = 'btp://0x7a69.eth/bmc';

/**
 * Registry with `n` staked validators (operators = wallets[2..]), epoch 0 bootstrapped, and the
 * bridge (BMC/BMV/BSH/BTCT + payout coordinator) deployed by wallets[0] in fednode mode.
 */
export async function setupPayout(
  env: Env,
  n: number,
  opts: { seed?: string; bitcoin?: BitcoinAddressParams; payout?: Partial<PayoutParams>; startHeight?: number } = {},
): Promise<PayoutFixture> {
  const admin = env.wallets[0]!;
  const signingKeys = testKeys(n, opts.seed ?? 'payout');
  const registry = await deployRegistry(admin, env.provider, admin.address, { maxActive: n, maxChurn: n, minStakeWei: 10n ** 15n, activationMarginSec: 60, epochDurationSec: 60 });
  for (let i = 0; i < n; i++) {
    await stakeValidator(registry, env.provider, { operator: env.wallets[2 + i]!, signingKey: signingKeys[i]!, peerId: '0x01', amountWei: 10n ** 15n });
  }
  await waitReceipt(env.provider, await registry.getFunction('bootstrap')());
  const fed = new Federation(signingKeys, PAYOUT_DST_BMC);
  const height = opts.startHeight ?? 1000;
  const d = await deployBridge(admin, env.provider, {
    admin: admin.address, srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID, firstBlockHeader: fed.genesis(height),
    bmcBtpAddress: PAYOUT_DST_BMC, bitcoin: opts.bitcoin ?? BITCOIN_ADDRESS_PARAMS.regtest, registry, ...(opts.payout ? { payout: opts.payout } : {}),
  });
  return { admin, d, fed, signingKeys, height: height + 1, recorded: new Map() };
}

/** Relays a BTP block carrying `records` at the fixture's next height; remembers new deposit outpoints. */
export async function deliverRecords(env: Env, f: PayoutFixture, records: BtcRecord[], from?: Wallet): Promise<TransactionReceipt> {
  const h = f.height++;
  const b = f.fed.block(h, records.map(encodeRecord));
  const bmc = f.d.bmc.connect(from ?? env.wallets[1]!) as Contract;
  const r = await waitReceipt(env.provider, await bmc.getFunction('handleRelayMessage')(SRC_BMC, b.relay));
  const deps = records.filter((x): x is Exclude<BtcRecord, { type: 'payout-confirmed' }> => x.type !== 'payout-confirmed');
  if (deps.length > 0) f.recorded.set(h, [...(f.recorded.get(h) ?? []), ...deps.map((x) => ({ txid: x.txid, vout: x.vout }))]);
  return r;
}

/** Imports every recorded height the coordinator has not imported yet. */
export async function importAll(env: Env, f: PayoutFixture): Promise<void> {
  const done = Number(await f.d.payout.getFunction('importedHeights')());
  const total = Number(await f.d.bsh.getFunction('depositHeightCount')());
  const entries: string[] = [];
  for (let i = done; i < total; i++) {
    const h = Number(await f.d.bsh.getFunction('depositHeights')(i));
    entries.push(encodeDepositImport(f.recorded.get(h) ?? []));
  }
  if (entries.length > 0) await waitReceipt(env.provider, await f.d.payout.getFunction('importDeposits')(entries));
}

/** Parsed logs of `name` emitted by `c` in a receipt. */
export function eventsOf(c: Contract, r: TransactionReceipt, name: string): Result[] {
  const out: Result[] = [];
  const addr = c.target.toString().toLowerCase();
  for (const log of r.logs) {
    if (log.address.toLowerCase() !== addr) continue;
    const parsed = c.interface.parseLog(log);
    if (parsed?.name === name) out.push(parsed.args);
  }
  return out;
}

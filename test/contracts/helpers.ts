/**
 * Shared fixtures for the home-contract tests: one real EVM node per test file, a federation of
 * signing keys, and BTP blocks / relay messages made with the TypeScript builder of src/chains/btp.
 */
import { Contract, Wallet, getBytes, hexlify, keccak256, toUtf8Bytes, type JsonRpcProvider } from 'ethers';
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
import { encodeRecord } from '../../src/chains/bitcoin/records.js';
import { startDevChain, type DevChain } from '../../src/chains/ethereum/devchain.js';
import { createProvider } from '../../src/chains/ethereum/provider.js';
import { decodeCustomError } from '../../src/chains/ethereum/contracts.js';

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

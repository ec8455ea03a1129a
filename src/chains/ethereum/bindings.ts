/**
 * Typed wrappers over the deployed home contracts for the node (relayer, watcher, CLI): each
 * method is one contract call with TypeScript types in and out, and sends poll for their receipt.
 */
import { Contract, type JsonRpcProvider, type Signer, type TransactionReceipt } from 'ethers';
import { loadArtifact } from './artifacts.js';
import { MAX_TX_GAS, waitReceipt } from './provider.js';
import { withDecodedRevert } from './contracts.js';
import { BridgeError } from '../../errors.js';
import type { FederationOutputKind } from '../bitcoin/weight.js';

export interface HomeAddresses {
  bmc: string;
  bmv: string;
  bsh: string;
  btct: string;
  registry?: string;
}

export interface BlockRecord {
  signers: bigint;
  setId: number;
  acceptedAt: bigint;
}

export interface LedgerEntry {
  amountSats: bigint;
  epoch: number;
  /** 0 unknown, 1 minted, 2 refund, 3 unclaimed. */
  status: number;
  btpHeight: bigint;
  /** The federation output paid (deposit record type flag 0x80, docs/PROTOCOL.md §3). */
  outputKind: FederationOutputKind;
}

export interface EpochInfo {
  frozenAt: bigint;
  activationMtp: bigint;
  activationBtcHeight: bigint;
  frozen: boolean;
  active: boolean;
}

/** One object per node for every home-contract call it makes. */
export class HomeContracts {
  readonly bmc: Contract;
  readonly bmv: Contract;
  readonly bsh: Contract;
  readonly btct: Contract;
  readonly registry: Contract | undefined;

  constructor(readonly provider: JsonRpcProvider, runner: Signer | JsonRpcProvider, addrs: HomeAddresses) {
    this.bmc = new Contract(addrs.bmc, loadArtifact('BtpMessageCenter').abi, runner);
    this.bmv = new Contract(addrs.bmv, loadArtifact('BtpMessageVerifier').abi, runner);
    this.bsh = new Contract(addrs.bsh, loadArtifact('BitcoinTokenService').abi, runner);
    this.btct = new Contract(addrs.btct, loadArtifact('BTCT').abi, runner);
    this.registry = addrs.registry ? new Contract(addrs.registry, loadArtifact('ValidatorRegistry').abi, runner) : undefined;
  }

  private async send(c: Contract, fn: string, args: unknown[], gasLimit?: bigint): Promise<TransactionReceipt> {
    return withDecodedRevert(async () => {
      const tx = await c.getFunction(fn)(...args, ...(gasLimit !== undefined ? [{ gasLimit }] : []));
      return waitReceipt(this.provider, tx);
    });
  }

  /** Submits a relay message (hex) from the federation BMC at `prev`; gas is estimated unless given (≤ 2^24). */
  async relay(prev: string, relayMessage: string, gasLimit?: bigint): Promise<TransactionReceipt> {
    const limit = gasLimit ?? (await this.estimateRelayGas(prev, relayMessage));
    return this.send(this.bmc, 'handleRelayMessage', [prev, relayMessage], limit);
  }

  /** eth_estimateGas of a relay plus 10 %, capped at the per-transaction limit. */
  async estimateRelayGas(prev: string, relayMessage: string): Promise<bigint> {
    const est = await withDecodedRevert(() => this.bmc.getFunction('handleRelayMessage').estimateGas(prev, relayMessage));
    const padded = (est * 11n) / 10n;
    return padded > MAX_TX_GAS ? MAX_TX_GAS : padded;
  }

  /** Adds a validator's late signature to a BTP block's participation record. */
  async recordSignature(btpHeight: number, index: number, signature: string): Promise<TransactionReceipt> {
    return this.send(this.bmv, 'recordSignature', [btpHeight, index, signature]);
  }

  async blockRecord(btpHeight: number): Promise<BlockRecord> {
    const [signers, setId, acceptedAt] = (await this.bmv.getFunction('blockRecord')(btpHeight)) as [bigint, bigint, bigint];
    return { signers, setId: Number(setId), acceptedAt };
  }

  /** The BMV's verifier state: last height, next message SN, current ProofContext. */
  async verifierState(): Promise<{ height: bigint; nextMessageSn: bigint; networkSectionHash: string; validators: string[] }> {
    const [height, nextMessageSn, networkSectionHash, validators] = await Promise.all([
      this.bmv.getFunction('getHeight')() as Promise<bigint>,
      this.bmv.getFunction('getNextMessageSn')() as Promise<bigint>,
      this.bmv.getFunction('networkSectionHash')() as Promise<string>,
      this.bmv.getFunction('currentValidators')() as Promise<string[]>,
    ]);
    return { height, nextMessageSn, networkSectionHash, validators: [...validators] };
  }

  /** Burns BTCT and queues a withdrawal to a Bitcoin address. */
  async transferToForeign(recipient: string, amountSats: bigint): Promise<TransactionReceipt> {
    return this.send(this.bsh, 'transferToForeign', [recipient, amountSats]);
  }

  /** Mints queued deposits while allowed. */
  async processPending(max: number): Promise<TransactionReceipt> {
    return this.send(this.bsh, 'processPending', [max]);
  }

  async ledgerEntry(txidInternal: string, vout: number): Promise<LedgerEntry> {
    const [amountSats, epoch, status, btpHeight, kind] = (await this.bsh.getFunction('utxoOf')(txidInternal, vout)) as [bigint, bigint, bigint, bigint, bigint];
    return { amountSats, epoch: Number(epoch), status: Number(status), btpHeight, outputKind: kind === 1n ? 'p2sh-p2wsh' : 'p2wsh' };
  }

  async balanceOf(account: string): Promise<bigint> {
    return (await this.btct.getFunction('balanceOf')(account)) as bigint;
  }

  private reg(): Contract {
    if (!this.registry) throw new Error('no registry configured');
    return this.registry;
  }

  async currentEpoch(): Promise<number> {
    return Number(await this.reg().getFunction('currentEpoch')());
  }

  /** Signing addresses of an epoch in ProofContext (ascending) order. */
  async epochValidators(epoch: number): Promise<string[]> {
    return [...((await this.reg().getFunction('epochValidators')(epoch)) as string[])];
  }

  async epochInfo(epoch: number): Promise<EpochInfo> {
    const [frozenAt, activationMtp, activationBtcHeight, frozen, active] = (await this.reg().getFunction('epochInfo')(epoch)) as [bigint, bigint, bigint, boolean, boolean];
    return { frozenAt, activationMtp, activationBtcHeight, frozen, active };
  }

  /** Freezes the next epoch's set (permissionless once the epoch duration passed). */
  async freezeNextEpoch(): Promise<TransactionReceipt> {
    return this.send(this.reg(), 'freezeNextEpoch', []);
  }

  /** A parameter's value in force at Bitcoin median-time-past `mtp`. */
  async paramAt(key: string, mtp: bigint): Promise<bigint | undefined> {
    const [value, set] = (await this.reg().getFunction('paramAt')(key, mtp)) as [bigint, boolean];
    return set ? value : undefined;
  }
}

/** An outpoint the BSH recorded (txid in internal byte order, as in the deposit record). */
export interface LedgerOutpoint {
  txid: Uint8Array;
  vout: number;
}

/**
 * One BTP height's `PayoutCoordinator.importDeposits` entry: every ledger outpoint the BSH
 * recorded at that height, `txid 32 ‖ vout u32 BE` each, sorted ascending by (txid as a
 * big-endian integer, vout) — the contract checks the count, the order and each ledger word.
 */
export function encodeDepositImport(outpoints: readonly LedgerOutpoint[]): string {
  const sorted = [...outpoints].sort((a, b) => Buffer.compare(Buffer.from(a.txid), Buffer.from(b.txid)) || a.vout - b.vout);
  const out = new Uint8Array(36 * sorted.length);
  sorted.forEach((o, i) => {
    if (o.txid.length !== 32) throw new BridgeError({ code: 'ETH_BAD_OUTPOINT', index: i, bytes: o.txid.length });
    out.set(o.txid, 36 * i);
    new DataView(out.buffer).setUint32(36 * i + 32, o.vout, false);
  });
  return `0x${Buffer.from(out).toString('hex')}`;
}

/** `PayoutCoordinator.WitnessSig` of one signature made by `signPayoutInputs` (src/chains/bitcoin/payout-signing.ts). */
export interface WitnessSigArg {
  input: number;
  keyIndex: number;
  recid: number;
  r: string;
  s: string;
}

export function witnessSigArg(s: { inputIndex: number; keyIndex: number; signature: { compact: Uint8Array; recovery: number } }): WitnessSigArg {
  const hex = (b: Uint8Array): string => `0x${Buffer.from(b).toString('hex')}`;
  return { input: s.inputIndex, keyIndex: s.keyIndex, recid: s.signature.recovery, r: hex(s.signature.compact.subarray(0, 32)), s: hex(s.signature.compact.subarray(32, 64)) };
}

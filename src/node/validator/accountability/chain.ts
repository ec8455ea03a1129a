/**
 * Chain reads (eth_call through the node's EthRpc) and call data of the accountability duties:
 * the Slasher, the BMV's participation records, the payout coordinator's batch duties and the
 * registry's epoch sets (docs/SLASHING.md).
 */
import { Interface, ZeroAddress, getAddress } from 'ethers';
import { loadArtifact } from '../../../chains/ethereum/artifacts.js';
import type { EthRpc } from '../../../chains/ethereum/rpc/client.js';
import { BridgeError } from '../../../errors.js';
import type { DutyView } from './rules.js';

export interface AccountabilityContracts {
  slasher: string;
  bmv: string;
  registry: string;
  /** The payout coordinator (batch duties, Bitcoin evidence); absent: batch duties are not kept. */
  payout?: string;
}

let ifaces: { slasher: Interface; bmv: Interface; registry: Interface; payout: Interface } | undefined;
export function accountabilityInterfaces(): { slasher: Interface; bmv: Interface; registry: Interface; payout: Interface } {
  ifaces ??= {
    slasher: new Interface(loadArtifact('Slasher').abi),
    bmv: new Interface(loadArtifact('BtpMessageVerifier').abi),
    registry: new Interface(loadArtifact('ValidatorRegistry').abi),
    payout: new Interface(loadArtifact('PayoutCoordinator').abi),
  };
  return ifaces;
}

/** The slasher the registry names (`registry.slasher()`), or undefined while none is set. */
export async function slasherOfRegistry(rpc: EthRpc, registry: string): Promise<string | undefined> {
  const { registry: r } = accountabilityInterfaces();
  const out = r.decodeFunctionResult('slasher', await rpc.call({ to: registry, data: r.encodeFunctionData('slasher') }))[0] as string;
  return out === ZeroAddress ? undefined : getAddress(out);
}

export interface BlockRecord {
  signers: bigint;
  setId: bigint;
  /** 0: the BMV never accepted the block. */
  acceptedAt: bigint;
}

export class AccountabilityChain {
  readonly #rpc: EthRpc;
  readonly c: AccountabilityContracts;
  readonly #i = accountabilityInterfaces();
  /** Immutable per set / epoch: cached. */
  readonly #sets = new Map<string, string[]>();

  constructor(rpc: EthRpc, contracts: AccountabilityContracts) {
    this.#rpc = rpc;
    this.c = contracts;
  }

  async #call(to: string, iface: Interface, fn: string, args: unknown[] = []): Promise<unknown[]> {
    return [...iface.decodeFunctionResult(fn, await this.#rpc.call({ to, data: iface.encodeFunctionData(fn, args) }))];
  }

  head(): Promise<number> {
    return this.#rpc.blockNumber();
  }

  async blockRecord(height: bigint): Promise<BlockRecord> {
    const [signers, setId, acceptedAt] = (await this.#call(this.c.bmv, this.#i.bmv, 'blockRecord', [height])) as bigint[];
    return { signers: signers!, setId: setId!, acceptedAt: acceptedAt! };
  }

  async setValidators(setId: bigint): Promise<string[]> {
    const k = `set:${setId}`;
    let v = this.#sets.get(k);
    if (v === undefined) {
      v = ((await this.#call(this.c.bmv, this.#i.bmv, 'getValidators', [setId]))[0] as string[]).map((a) => a.toLowerCase());
      this.#sets.set(k, v);
    }
    return v;
  }

  async epochValidators(epoch: bigint): Promise<string[]> {
    const k = `epoch:${epoch}`;
    let v = this.#sets.get(k);
    if (v === undefined) {
      v = ((await this.#call(this.c.registry, this.#i.registry, 'epochValidators', [epoch]))[0] as string[]).map((a) => a.toLowerCase());
      this.#sets.set(k, v);
    }
    return v;
  }

  async signatureWindow(): Promise<bigint> {
    return (await this.#call(this.c.bmv, this.#i.bmv, 'signatureWindow'))[0] as bigint;
  }

  async dutyBlocks(): Promise<bigint> {
    return ((await this.#call(this.c.slasher, this.#i.slasher, 'params'))[0] as bigint);
  }

  async blockSettled(height: bigint): Promise<boolean> {
    return (await this.#call(this.c.slasher, this.#i.slasher, 'blockSettled', [height]))[0] as boolean;
  }

  async batchSettled(batchId: bigint): Promise<boolean> {
    return (await this.#call(this.c.slasher, this.#i.slasher, 'batchSettled', [batchId]))[0] as boolean;
  }

  async btpEvidenceUsed(validator: string, height: bigint): Promise<boolean> {
    return (await this.#call(this.c.slasher, this.#i.slasher, 'btpEvidenceUsed', [validator, height]))[0] as boolean;
  }

  async bitcoinEvidenceUsed(validator: string, sighash: string): Promise<boolean> {
    return (await this.#call(this.c.slasher, this.#i.slasher, 'bitcoinEvidenceUsed', [validator, sighash]))[0] as boolean;
  }

  #payout(): string {
    if (this.c.payout === undefined) throw new BridgeError({ code: 'ACCOUNTABILITY_NO_PAYOUT', message: 'no payout coordinator configured' });
    return this.c.payout;
  }

  async isDerivedSighash(sighash: string): Promise<boolean> {
    return (await this.#call(this.#payout(), this.#i.payout, 'isDerivedSighash', [sighash]))[0] as boolean;
  }

  async wasFederationOutpoint(txidInternal: string, vout: number): Promise<boolean> {
    return (await this.#call(this.#payout(), this.#i.payout, 'wasFederationOutpoint', [txidInternal, vout]))[0] as boolean;
  }

  /** The BTP block's duty as the slasher judges it; undefined for a block the BMV never accepted. */
  async blockDuty(height: bigint): Promise<DutyView | undefined> {
    const rec = await this.blockRecord(height);
    if (rec.acceptedAt === 0n) return undefined;
    const [t, window, validators, settled] = await Promise.all([this.dutyBlocks(), this.signatureWindow(), this.setValidators(rec.setId), this.blockSettled(height)]);
    return { kind: 'block', id: height, deadline: rec.acceptedAt + (window > t ? window : t), settled, validators, signed: rec.signers };
  }

  /** The batch's duty; undefined while it is not approved. */
  async batchDuty(batchId: bigint): Promise<DutyView | undefined> {
    const [approvedAt, epoch, signed] = (await this.#call(this.#payout(), this.#i.payout, 'batchDuty', [batchId])) as bigint[];
    if (approvedAt === 0n) return undefined;
    const [t, validators, settled] = await Promise.all([this.dutyBlocks(), this.epochValidators(epoch!), this.batchSettled(batchId)]);
    return { kind: 'batch', id: batchId, deadline: approvedAt! + t, settled, validators, signed: signed! };
  }

  encode(contract: 'slasher' | 'bmv', fn: string, args: unknown[]): string {
    return this.#i[contract].encodeFunctionData(fn, args);
  }
}

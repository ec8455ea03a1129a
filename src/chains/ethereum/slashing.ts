/**
 * The slashing contract (contracts/slashing/Slasher.sol, docs/SLASHING.md): deployment and wiring
 * to the registry, BMV and payout coordinator, and encoders that turn the evidence objects of
 * src/consensus/equivocation.ts into the contract's call arguments so a node can submit them.
 */
import { Contract, ContractFactory, computeAddress, hexlify, type ContractTransactionResponse, type JsonRpcProvider, type Signer } from 'ethers';
import { BridgeError } from '../../errors.js';
import type { BitcoinEquivocationEvidence, BtpEquivocationEvidence } from '../../consensus/equivocation.js';
import { loadArtifact } from './artifacts.js';
import type { BridgeDeployment } from './contracts.js';
import { MAX_TX_GAS, waitReceipt } from './provider.js';

/** Slashing parameters (basis points are of 10,000). */
export interface SlashingParams {
  /** T: home blocks after a BTP block's acceptance / a batch's approval before a missing signature is slashable. */
  dutyBlocks: number;
  /** Per missed duty, of the validator's stake at its first miss in the epoch. */
  missedDutyBps: number;
  /** Per validator per epoch, of the same base: a flood of duties in a short outage costs at most this. */
  missedDutyCapBps: number;
  /** Per piece of equivocation evidence, of the current stake; the validator is also ejected. */
  equivocationBps: number;
  /** Share of an equivocation slash credited to the evidence submitter. */
  reporterBps: number;
  /**
   * Share of a missed-duty slash credited to whoever reported it. Small on purpose: a relayer
   * leaving valid signatures out of its proof should not profit from the misses it provoked.
   */
  keeperBps: number;
}

export const DEFAULT_SLASHING_PARAMS: SlashingParams = {
  dutyBlocks: 300,
  missedDutyBps: 10,
  missedDutyCapBps: 500,
  equivocationBps: 5_000,
  reporterBps: 1_000,
  keeperBps: 100,
};

export interface SlasherDeployInput {
  /** ADMIN_ROLE of the slasher (parameters, treasury, the payout coordinator once). */
  admin: string;
  /** The ValidatorRegistry; the deploying signer must hold its ADMIN_ROLE (it calls `setSlasher`). */
  registry: Contract;
  /** The BMV (BtpMessageVerifier) whose participation records define BTP duties. */
  bmv: Contract;
  /** The payout coordinator (IPayoutDuties); omit to set it later with `setPayoutDuties` (once). */
  payout?: Contract | string;
  /** Receives the non-reporter share of slashed stake. */
  treasury: string;
  params?: Partial<SlashingParams>;
}

const addressOf = async (c: Contract | string): Promise<string> => (typeof c === 'string' ? c : c.getAddress());

/**
 * Deploys the Slasher and names it in the registry (`setSlasher`, once). After `deployBridge`,
 * {@link deploySlasherForBridge} does the same with the bridge's contracts.
 */
export async function deploySlasher(signer: Signer, provider: JsonRpcProvider, input: SlasherDeployInput): Promise<Contract> {
  const p = { ...DEFAULT_SLASHING_PARAMS, ...input.params };
  const art = loadArtifact('Slasher');
  const factory = new ContractFactory(art.abi, art.bytecode, signer);
  const payout = input.payout === undefined ? '0x0000000000000000000000000000000000000000' : await addressOf(input.payout);
  const tx = await factory.getDeployTransaction(
    input.admin, await input.registry.getAddress(), await input.bmv.getAddress(), payout, input.treasury,
    [p.dutyBlocks, p.missedDutyBps, p.missedDutyCapBps, p.equivocationBps, p.reporterBps, p.keeperBps],
    { gasLimit: MAX_TX_GAS },
  );
  const receipt = await waitReceipt(provider, await signer.sendTransaction(tx));
  if (receipt.contractAddress === null) throw new BridgeError({ code: 'DEPLOY_FAILED', name: 'Slasher', hash: receipt.hash });
  const slasher = new Contract(receipt.contractAddress, art.abi, signer);
  await waitReceipt(provider, await (input.registry.connect(signer) as Contract).getFunction('setSlasher')(receipt.contractAddress));
  return slasher;
}

/**
 * The devnet/production one-liner after `deployBridge` (fednode mode, so `bridge.registry` is
 * set): the slasher wired to the bridge's registry, BMV and payout coordinator.
 */
export async function deploySlasherForBridge(
  signer: Signer,
  provider: JsonRpcProvider,
  bridge: Pick<BridgeDeployment, 'registry' | 'bmv' | 'payout'>,
  opts: { admin: string; treasury: string; params?: Partial<SlashingParams> },
): Promise<Contract> {
  if (bridge.registry === undefined) throw new BridgeError({ code: 'SLASHING_NO_REGISTRY', message: 'the slasher needs a bridge deployed with a registry (fednode mode)' });
  return deploySlasher(signer, provider, { ...opts, registry: bridge.registry, bmv: bridge.bmv, payout: bridge.payout });
}

/** Wires the payout coordinator into a slasher deployed without one (admin, once). */
export async function setSlasherPayout(slasher: Contract, provider: JsonRpcProvider, payout: Contract | string): Promise<void> {
  await waitReceipt(provider, await slasher.getFunction('setPayoutDuties')(await addressOf(payout)));
}

/** Arguments of `Slasher.submitBtpEquivocation(validator, decisionA, signatureA, decisionB, signatureB)`. */
export function btpEquivocationArgs(e: BtpEquivocationEvidence): [string, string, string, string, string] {
  if (e.validator.length !== 20) throw new BridgeError({ code: 'SLASHING_BAD_EVIDENCE', field: 'validator', length: e.validator.length });
  return [hexlify(e.validator), hexlify(e.first.decision), hexlify(e.first.signature), hexlify(e.second.decision), hexlify(e.second.signature)];
}

/**
 * Arguments of `Slasher.submitBitcoinEquivocation(validator, preimage, signature)`: the validator
 * is named by its signing address (keccak of the uncompressed key), which the registry keys stakes
 * by; the evidence carries the compressed key of the Bitcoin script.
 */
export function bitcoinEquivocationArgs(e: BitcoinEquivocationEvidence): [string, string, string] {
  if (e.validatorKey.length !== 33) throw new BridgeError({ code: 'SLASHING_BAD_EVIDENCE', field: 'validatorKey', length: e.validatorKey.length });
  return [computeAddress(hexlify(e.validatorKey)), hexlify(e.preimage), hexlify(e.signature)];
}

/** Submits BTP equivocation evidence (the caller is rewarded with the reporter share). */
export async function submitBtpEquivocation(slasher: Contract, e: BtpEquivocationEvidence): Promise<ContractTransactionResponse> {
  return slasher.getFunction('submitBtpEquivocation')(...btpEquivocationArgs(e)) as Promise<ContractTransactionResponse>;
}

/** Submits Bitcoin equivocation evidence (the caller is rewarded with the reporter share). */
export async function submitBitcoinEquivocation(slasher: Contract, e: BitcoinEquivocationEvidence): Promise<ContractTransactionResponse> {
  return slasher.getFunction('submitBitcoinEquivocation')(...bitcoinEquivocationArgs(e)) as Promise<ContractTransactionResponse>;
}

/** Decodes a Slasher custom error from revert data; undefined if it is not one. */
export function decodeSlasherError(data: string): { name: string; args: unknown[] } | undefined {
  const iface = new Contract('0x0000000000000000000000000000000000000001', loadArtifact('Slasher').abi).interface;
  try {
    const e = iface.parseError(data);
    return e ? { name: e.name, args: [...e.args] } : undefined;
  } catch {
    return undefined;
  }
}

/** A BTP block's slashing duty as the slasher will judge it. */
export interface BlockDutyStatus {
  /** Home block after which `reportMissedBlock(height)` is allowed (`acceptedAt + max(T, signatureWindow)`). */
  deadline: bigint;
  /** Already reported (once per block). */
  settled: boolean;
  /** Validators of the block's ProofContext with no recorded signature so far. */
  missing: string[];
}

/**
 * What a keeper (or a validator checking on itself) needs before `reportMissedBlock`: undefined
 * for a block the BMV never accepted. A validator listed in `missing` before `deadline` can still
 * call the BMV's `recordSignature`.
 */
export async function blockDutyStatus(slasher: Contract, bmv: Contract, height: number | bigint): Promise<BlockDutyStatus | undefined> {
  const [signers, setId, acceptedAt] = (await bmv.getFunction('blockRecord')(height)) as [bigint, bigint, bigint];
  if (acceptedAt === 0n) return undefined;
  const [params, window, validators, settled] = await Promise.all([
    slasher.getFunction('params')() as Promise<[bigint, ...bigint[]]>,
    bmv.getFunction('signatureWindow')() as Promise<bigint>,
    bmv.getFunction('getValidators')(setId) as Promise<string[]>,
    slasher.getFunction('blockSettled')(height) as Promise<boolean>,
  ]);
  const t = params[0];
  return {
    deadline: acceptedAt + (window > t ? window : t),
    settled,
    missing: validators.filter((_, i) => ((signers >> BigInt(i)) & 1n) === 0n),
  };
}

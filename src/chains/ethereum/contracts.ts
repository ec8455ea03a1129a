/**
 * Deployment and wiring of fednode's home contracts (issue 4): the validator registry, the BMC,
 * the eth-type BMV, the Bitcoin token service and its BTCT token. Used by the devnet and tests.
 */
import { Contract, Wallet, getBytes, hexlify, keccak256, solidityPacked, type JsonRpcProvider, type Signer } from 'ethers';
import { BridgeError } from '../../errors.js';
import { deployContract, loadArtifact, payoutCoordinatorAbi } from './artifacts.js';
import { waitReceipt } from './provider.js';

/** Address parameters the token service uses to turn a Bitcoin address into an output script. */
export interface BitcoinAddressParams {
  /** bech32 human-readable part (lowercase). */
  hrp: string;
  p2pkhVersion: number;
  p2shVersion: number;
}

export const BITCOIN_ADDRESS_PARAMS = {
  mainnet: { hrp: 'bc', p2pkhVersion: 0x00, p2shVersion: 0x05 },
  testnet: { hrp: 'tb', p2pkhVersion: 0x6f, p2shVersion: 0xc4 },
  regtest: { hrp: 'bcrt', p2pkhVersion: 0x6f, p2shVersion: 0xc4 },
  /** bcoin's regtest (the devnet's Bitcoin node). */
  'bcoin-regtest': { hrp: 'rb', p2pkhVersion: 0x3c, p2shVersion: 0x26 },
} as const satisfies Record<string, BitcoinAddressParams>;

export interface RegistryParams {
  minStakeWei: bigint;
  unbondingPeriodSec: number;
  maxActive: number;
  maxChurn: number;
  activationMarginSec: number;
  epochDurationSec: number;
}

export const DEFAULT_REGISTRY_PARAMS: RegistryParams = {
  minStakeWei: 10n ** 18n,
  unbondingPeriodSec: 14 * 24 * 3600,
  maxActive: 50,
  maxChurn: 4,
  activationMarginSec: 3 * 3600,
  epochDurationSec: 24 * 3600,
};

/** Deploys the ValidatorRegistry. */
export async function deployRegistry(signer: Signer, provider: JsonRpcProvider, admin: string, params: Partial<RegistryParams> = {}): Promise<Contract> {
  const p = { ...DEFAULT_REGISTRY_PARAMS, ...params };
  return deployContract(signer, provider, 'ValidatorRegistry', [
    admin, p.minStakeWei, p.unbondingPeriodSec, p.maxActive, p.maxChurn, p.activationMarginSec, p.epochDurationSec,
  ]);
}

/** The digest a signing key signs to prove possession (ValidatorRegistry.popDigest). */
export function popDigest(chainId: bigint | number, registry: string, operator: string): string {
  return keccak256(solidityPacked(['string', 'uint256', 'address', 'address'], ['fednode:pop', BigInt(chainId), registry, operator]));
}

/** Raw (unprefixed) 65-byte R‖S‖V signature with V ∈ {0,1}, as BTP decisions are signed. */
export function signRaw(signingKey: string, digest: string): string {
  const sig = new Wallet(signingKey).signingKey.sign(digest);
  return hexlify(new Uint8Array([...getBytes(sig.r), ...getBytes(sig.s), sig.yParity]));
}

/** The 64-byte public key (x ‖ y) of a secp256k1 private key. */
export function publicKey64(signingKey: string): string {
  return hexlify(getBytes(new Wallet(signingKey).signingKey.publicKey).subarray(1));
}

export interface StakeInput {
  /** The operator account (owns the stake, pays gas). */
  operator: Wallet;
  /** The validator's signing key (its address is the BTP ProofContext id). */
  signingKey: string;
  /** libp2p peer id bytes (hex). */
  peerId: string;
  amountWei: bigint;
}

/** Registers and stakes a validator (with its proof of possession). */
export async function stakeValidator(registry: Contract, provider: JsonRpcProvider, input: StakeInput): Promise<void> {
  const addr = await registry.getAddress();
  const { chainId } = await provider.getNetwork();
  const pop = signRaw(input.signingKey, popDigest(chainId, addr, input.operator.address));
  const r = registry.connect(input.operator) as Contract;
  const tx = await r.getFunction('stake')(publicKey64(input.signingKey), input.peerId, pop, { value: input.amountWei });
  await waitReceipt(provider, tx);
}

export interface BridgeDeployInput {
  /** Holder of ADMIN_ROLE on every contract (a multisig or timelock in production). */
  admin: string;
  /** The source network UID, e.g. `0x1.btc`. */
  srcNetworkUid: string;
  networkTypeId: number;
  /** BTPBlockHeader bytes carrying the initial ProofContext. */
  firstBlockHeader: string;
  /** This BMC's BTP address, e.g. `btp://0x7a69.eth/bmc`. */
  bmcBtpAddress: string;
  bitcoin: BitcoinAddressParams;
  /** Staking registry (fednode mode); omit for a standalone BMV (the payout coordinator is then
   *  deployed too but cannot build epoch scripts, so it cannot close batches). */
  registry?: Contract;
  /** Payout coordinator parameters (defaults: PayoutCoordinator's). */
  payout?: Partial<PayoutParams>;
}

/** Governance parameters of the payout coordinator (docs/PROTOCOL.md §4.2, §4.6). */
export interface PayoutParams {
  /** Fee rate in sat per 1000 vB (FeeOracle; default 10,000 = 10 sat/vB). */
  feeRateSatPerKvB: bigint;
  maxInputs: number;
  maxWithdrawals: number;
  maxWeight: number;
  /** Home blocks after a version before `bumpFee` is allowed. */
  bumpAfterBlocks: number;
  /** Gas one approval may spend on signature checks (caps inputs at budget / (m × 10,000)). */
  approvalGasBudget: bigint;
}

export const DEFAULT_PAYOUT_PARAMS: PayoutParams = {
  feeRateSatPerKvB: 10_000n,
  maxInputs: 10,
  maxWithdrawals: 100,
  maxWeight: 100_000,
  bumpAfterBlocks: 100,
  approvalGasBudget: 15_000_000n,
};

export interface BridgeDeployment {
  bmc: Contract;
  bmv: Contract;
  bsh: Contract;
  btct: Contract;
  registry: Contract | undefined;
  /** PayoutCoordinator at its address with the merged ABI (coordinator + extension). */
  payout: Contract;
  /** Its helpers: epoch scripts (built from the registry), fee oracle, transaction codec. */
  epochScripts: Contract;
  feeOracle: Contract;
  payoutCodec: Contract;
}

/**
 * Deploys BMC, BMV and the Bitcoin token service (which creates BTCT), then wires them: the BMC
 * gets the verifier for `srcNetworkUid` and the `btc` service, the registry gets the BMV.
 * The deploying signer must hold ADMIN_ROLE of the BMC and registry for the wiring calls, so
 * `admin` should be the deployer here; hand roles over afterwards.
 */
export async function deployBridge(signer: Signer, provider: JsonRpcProvider, input: BridgeDeployInput): Promise<BridgeDeployment> {
  const registryAddr = input.registry ? await input.registry.getAddress() : '0x0000000000000000000000000000000000000000';
  const bmc = await deployContract(signer, provider, 'BtpMessageCenter', [input.admin, input.bmcBtpAddress]);
  const bmv = await deployContract(signer, provider, 'BtpMessageVerifier', [
    input.admin, await bmc.getAddress(), input.srcNetworkUid, input.networkTypeId, input.firstBlockHeader, registryAddr,
  ]);
  const bsh = await deployContract(signer, provider, 'BitcoinTokenService', [
    input.admin, await bmc.getAddress(), await bmv.getAddress(),
    [hexlify(new TextEncoder().encode(input.bitcoin.hrp)), input.bitcoin.p2pkhVersion, input.bitcoin.p2shVersion],
  ]);
  const btct = new Contract(await bsh.getFunction('token')(), loadArtifact('BTCT').abi, signer);
  await waitReceipt(provider, await bmc.getFunction('setVerifier')(input.srcNetworkUid, await bmv.getAddress()));
  await waitReceipt(provider, await bmc.getFunction('setService')('btc', await bsh.getAddress()));
  if (input.registry) {
    await waitReceipt(provider, await (input.registry.connect(signer) as Contract).getFunction('setVerifier')(await bmv.getAddress()));
  }
  const payout = await deployPayout(signer, provider, input.admin, bsh, registryAddr, input.payout);
  return { bmc, bmv, bsh, btct, registry: input.registry, ...payout };
}

/**
 * Deploys the payout coordinator (codec, epoch scripts, fee oracle, extension, coordinator) and
 * wires it to the BSH: PAYOUT_ROLE for the coordinator (refunds) and the epoch-script builder
 * (federation scripts), `setPayoutCoordinator` (confirmations). The signer must be the BSH admin
 * and `admin` (it also sets non-default parameters).
 */
export async function deployPayout(
  signer: Signer,
  provider: JsonRpcProvider,
  admin: string,
  bsh: Contract,
  registryAddr: string,
  params: Partial<PayoutParams> = {},
): Promise<{ payout: Contract; epochScripts: Contract; feeOracle: Contract; payoutCodec: Contract }> {
  const p = { ...DEFAULT_PAYOUT_PARAMS, ...params };
  const bshAddr = await bsh.getAddress();
  const payoutCodec = await deployContract(signer, provider, 'PayoutTxCodec', []);
  const codecAddr = await payoutCodec.getAddress();
  const epochScripts = await deployContract(signer, provider, 'EpochScripts', [bshAddr, registryAddr, codecAddr]);
  const scriptsAddr = await epochScripts.getAddress();
  const feeOracle = await deployContract(signer, provider, 'FeeOracle', [admin, registryAddr, scriptsAddr]);
  const common = [admin, bshAddr, registryAddr, codecAddr, scriptsAddr, await feeOracle.getAddress()];
  const ext = await deployContract(signer, provider, 'PayoutCoordinatorExt', common);
  const main = await deployContract(signer, provider, 'PayoutCoordinator', [...common, await ext.getAddress()]);
  const payout = new Contract(await main.getAddress(), payoutCoordinatorAbi(), signer);
  const role = (await bsh.getFunction('PAYOUT_ROLE')()) as string;
  await waitReceipt(provider, await bsh.getFunction('grantRole')(role, await payout.getAddress()));
  await waitReceipt(provider, await bsh.getFunction('grantRole')(role, scriptsAddr));
  await waitReceipt(provider, await bsh.getFunction('setPayoutCoordinator')(await payout.getAddress()));
  const d = DEFAULT_PAYOUT_PARAMS;
  if (p.maxInputs !== d.maxInputs || p.maxWithdrawals !== d.maxWithdrawals || p.maxWeight !== d.maxWeight || p.bumpAfterBlocks !== d.bumpAfterBlocks || p.approvalGasBudget !== d.approvalGasBudget) {
    await waitReceipt(provider, await payout.getFunction('setParams')(p.maxInputs, p.maxWithdrawals, p.maxWeight, p.bumpAfterBlocks, p.approvalGasBudget));
  }
  if (p.feeRateSatPerKvB !== d.feeRateSatPerKvB) {
    await waitReceipt(provider, await feeOracle.getFunction('setFeeRate')(p.feeRateSatPerKvB));
  }
  return { payout, epochScripts, feeOracle, payoutCodec };
}

/** Decodes a custom error from a revert's data using every fednode ABI; undefined if unknown. */
export function decodeCustomError(data: string): { name: string; args: unknown[] } | undefined {
  for (const name of ['BtpMessageVerifier', 'BtpMessageCenter', 'BitcoinTokenService', 'BTCT', 'ValidatorRegistry', 'PayoutCoordinator', 'PayoutCoordinatorExt', 'EpochScripts', 'FeeOracle', 'PayoutTxCodec'] as const) {
    const iface = new Contract('0x0000000000000000000000000000000000000001', loadArtifact(name).abi).interface;
    try {
      const e = iface.parseError(data);
      if (e) return { name: e.name, args: [...e.args] };
    } catch {
      // not this contract's error
    }
  }
  return undefined;
}

/** Throws a BridgeError naming the contract's custom error when `fn` reverts. */
export async function withDecodedRevert<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const data = (err as { data?: string }).data;
    const decoded = typeof data === 'string' ? decodeCustomError(data) : undefined;
    if (decoded) throw new BridgeError({ code: 'CONTRACT_REVERT', error: decoded.name, args: decoded.args.map(String), cause: err });
    throw err;
  }
}

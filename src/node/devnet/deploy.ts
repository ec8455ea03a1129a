/**
 * Deploys a whole federation on a development pair of chains (issue "[7 of 7]"): the validator
 * registry with every validator staked (proof of possession, peer id), epoch 0 bootstrapped, the
 * BMC/BMV/BSH/BTCT wired to it (and whatever else `deployBridge` deploys, e.g. the payout
 * coordinator), epoch 0's federation scripts marked on the BSH, and the bootstrap reserve paid to
 * epoch 0's P2WSH script on regtest. Returns the addresses and the genesis every validator loads.
 *
 * Order (each step depends on the previous one):
 *  1. registry, stakes, `bootstrap()` — epoch 0 = the staked set, ascending addresses;
 *  2. the reserve on Bitcoin, mined: its height H is epoch 0's activation height;
 *  3. the first BTP header at MainHeight H carrying epoch 0's ProofContext; the bridge with it;
 *  4. genesis: `bitcoin.startHeight` = H + 1, the first height validators derive.
 */
import { Contract, Wallet, getBytes, getCreateAddress, hexlify, type JsonRpcProvider, type Signer } from 'ethers';
import { peerIdFromString } from '@libp2p/peer-id';
import { federationScript, type FederationScript } from '../../chains/bitcoin/scripts.js';
import type { RegtestFaucet } from '../../chains/bitcoin/regtest/faucet.js';
import type { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { buildBlock, sortValidators } from '../../chains/btp/builder.js';
import { bitcoinSrcNetworkUid } from '../../chains/btp/network-uid.js';
import {
  BITCOIN_ADDRESS_PARAMS,
  deployBridge,
  deployRegistry,
  stakeValidator,
  type BitcoinAddressParams,
  type BridgeDeployment,
  type RegistryParams,
} from '../../chains/ethereum/contracts.js';
import { waitReceipt } from '../../chains/ethereum/provider.js';
import { deploySlasher, type SlashingParams } from '../../chains/ethereum/slashing.js';
import { BridgeError } from '../../errors.js';
import { formatGenesis, parseGenesis, type FederationGenesis } from '../genesis/genesis.js';

export interface FederationValidator {
  /** secp256k1 signing key (0x-hex, 32 bytes): its address is the BTP ProofContext id. */
  signingKey: string;
  /** Operator account key (0x-hex): owns the stake, pays gas. Needs stake + gas in its balance. */
  operatorKey: string;
  /** libp2p peer id: base58 (`12D3Koo…`) or its multihash bytes as 0x-hex. */
  peerId: string;
}

/** Registry parameters that suit a local devnet: short unbonding and epochs, 1 ETH minimum. */
export const DEVNET_REGISTRY_PARAMS: RegistryParams = {
  minStakeWei: 10n ** 18n,
  unbondingPeriodSec: 60,
  maxActive: 50,
  maxChurn: 4,
  // bcoin's regtest bootstrap mines hundreds of blocks at once, so block times (and the MTP) run
  // minutes ahead of the wall clock; a margin below that skew makes validators consider their
  // home view "behind" and stop signing.
  activationMarginSec: 3_600,
  epochDurationSec: 60,
};

export interface DeployFederationOptions {
  /** Funded account that deploys and holds ADMIN_ROLE everywhere (the devnet's admin). */
  deployer: Signer;
  provider: JsonRpcProvider;
  bitcoin: {
    rpc: BitcoinRpcClient;
    /** A bootstrapped faucet (segwit active, matured coinbases): pays the reserve and mines. */
    faucet: RegtestFaucet;
    network?: FederationGenesis['bitcoin']['network'];
    /** Address parameters the BSH parses withdrawal addresses with (default: bcoin's regtest). */
    addressParams?: BitcoinAddressParams;
  };
  validators: readonly FederationValidator[];
  /** Config `network` name (gossip topics). Default `devnet`. */
  network?: string;
  /** Stake per validator, wei. Default: the registry's minimum stake. */
  stakeWei?: bigint;
  registryParams?: Partial<RegistryParams>;
  /** Bootstrap reserve paid to epoch 0's P2WSH script, sat (≥ 546). Default 100,000. */
  reserveSats?: bigint;
  /** Default 2 (docs/BTP.md: from the deployment config). */
  networkTypeId?: number;
  /** Default 1. */
  networkId?: number;
  /** Default: the id pinned for the Bitcoin network (`0x10.btc` on regtest). */
  srcNetworkUid?: string;
  /** Derivation parameters used while the registry has none scheduled (genesis `derivation`). */
  derivation?: { minDepositSats?: number; oldAddressWindow?: number };
  /** Slashing parameters, or false to deploy no Slasher. Default: the Slasher with its default parameters. */
  slashing?: Partial<SlashingParams> | false;
  /** Receives the non-reporter share of slashed stake. Default: the deployer. */
  treasury?: string;
  /** Progress callback, one short line per step. */
  onStep?: (step: string) => void;
}

export interface FederationAddresses {
  staking: string;
  bmc: string;
  bmv: string;
  bsh: string;
  btct: string;
  payout?: string;
  /** The Slasher (config `ethereum.contracts.slasher`; not in the genesis). */
  slasher?: string;
}

export interface DeployedFederation {
  /** The contracts a node's config names (`ethereum.contracts`): usable as is. */
  addresses: FederationAddresses;
  /** Same as `addresses.slasher`. */
  slasherAddress: string | undefined;
  genesis: FederationGenesis;
  /** `formatGenesis(genesis)`: the text to write as genesis.json. */
  genesisJson: string;
  /** Everything `deployBridge` returned (contracts attached to the deployer). */
  bridge: BridgeDeployment;
  registry: Contract;
  slasher: Contract | undefined;
  /** Epoch 0's script (keys BIP-67 sorted). */
  epoch0Script: FederationScript;
  /** Epoch 0's validator addresses, ascending (ProofContext order). */
  epoch0: string[];
}

export const DEPLOY_DEFAULTS = {
  network: 'devnet',
  reserveSats: 100_000n,
  networkTypeId: 2,
  networkId: 1,
  bitcoinNetwork: 'regtest',
  minDepositSats: 10_000,
  oldAddressWindow: 6,
} as const;

/** The libp2p peer id as the registry stores it: multihash bytes (docs/P2P.md §envelope). */
export function peerIdBytes(peerId: string): string {
  if (/^0x([0-9a-fA-F]{2})+$/.test(peerId)) return peerId.toLowerCase();
  try {
    return hexlify(peerIdFromString(peerId).toMultihash().bytes);
  } catch (cause) {
    throw new BridgeError({ code: 'DEVNET_BAD_PEER_ID', peerId, cause, message: `not a libp2p peer id: ${JSON.stringify(peerId)}` });
  }
}

/** The signing threshold the BTP quorum and the Bitcoin script use for N validators (N/2+1). */
export function federationThreshold(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Compressed (33-byte) public key of a signing key: the validator's Bitcoin key. */
function compressedKey(signingKey: string): Uint8Array {
  return getBytes(new Wallet(signingKey).signingKey.compressedPublicKey);
}

export async function deployFederation(opts: DeployFederationOptions): Promise<DeployedFederation> {
  const step = opts.onStep ?? ((): void => undefined);
  const { deployer, provider } = opts;
  if (opts.validators.length === 0) throw new BridgeError({ code: 'DEVNET_NO_VALIDATORS', message: 'deployFederation needs at least one validator' });
  const signers = opts.validators.map((v) => new Wallet(v.signingKey).address);
  if (new Set(signers.map((a) => a.toLowerCase())).size !== signers.length) {
    throw new BridgeError({ code: 'DEVNET_DUPLICATE_SIGNING_KEY', message: 'two validators share a signing key' });
  }
  const reserveSats = opts.reserveSats ?? DEPLOY_DEFAULTS.reserveSats;
  if (reserveSats < 546n) throw new BridgeError({ code: 'DEVNET_RESERVE_DUST', reserveSats, message: `the bootstrap reserve must be at least 546 sat (dust), got ${reserveSats}` });
  const btcNetwork = opts.bitcoin.network ?? DEPLOY_DEFAULTS.bitcoinNetwork;
  const srcNetworkUid = opts.srcNetworkUid ?? bitcoinSrcNetworkUid(btcNetwork);
  const networkTypeId = opts.networkTypeId ?? DEPLOY_DEFAULTS.networkTypeId;
  const networkId = opts.networkId ?? DEPLOY_DEFAULTS.networkId;
  const admin = await deployer.getAddress();
  const { chainId } = await provider.getNetwork();

  // 1. Registry, stakes, epoch 0.
  const homeStartBlock = await provider.getBlockNumber();
  step('deploying the validator registry');
  const registryParams = { ...DEVNET_REGISTRY_PARAMS, ...opts.registryParams };
  const registry = await deployRegistry(deployer, provider, admin, registryParams);
  const stakeWei = opts.stakeWei ?? registryParams.minStakeWei;
  for (const [i, v] of opts.validators.entries()) {
    step(`staking validator ${i + 1}/${opts.validators.length} (${signers[i]})`);
    const operator = new Wallet(v.operatorKey, provider);
    await stakeValidator(registry, provider, { operator, signingKey: v.signingKey, peerId: peerIdBytes(v.peerId), amountWei: stakeWei });
  }
  step('bootstrapping epoch 0');
  await waitReceipt(provider, await registry.getFunction('bootstrap')());
  const epoch0 = ((await registry.getFunction('epochValidators')(0n)) as string[]).map((a) => a.toLowerCase());
  const expected = sortValidators(signers.map((a) => getBytes(a))).map((b) => hexlify(b).toLowerCase());
  if (epoch0.join() !== expected.join()) {
    throw new BridgeError({ code: 'DEVNET_EPOCH0_MISMATCH', epoch0, expected, message: 'the registry froze a different epoch 0 than the staked validators (maxActive too small?)' });
  }

  // 2. The bootstrap reserve, mined: its block is epoch 0's activation height.
  const threshold = federationThreshold(signers.length);
  const script = federationScript({ keys: opts.validators.map((v) => compressedKey(v.signingKey)), threshold, epoch: 0 });
  step(`funding the bootstrap reserve (${reserveSats} sat to epoch 0's P2WSH script)`);
  const sent = await opts.bitcoin.faucet.send([{ script: script.p2wshOutput, valueSats: reserveSats }]);
  await opts.bitcoin.faucet.mine(1);
  const out = await opts.bitcoin.rpc.getTxOut(sent.txid, 0, false);
  if (out === undefined || out.confirmations < 1 || out.valueSats !== reserveSats) {
    throw new BridgeError({ code: 'DEVNET_RESERVE_NOT_CONFIRMED', txid: sent.txid, message: `the reserve transaction ${sent.txid} is not confirmed on regtest` });
  }
  const activationHeight = await opts.bitcoin.rpc.getBlockCount();

  // 3. The first BTP header (epoch 0's ProofContext) and the bridge.
  const first = buildBlock(
    { networkId, lastNetworkSectionHash: null, nextMessageSn: 0, validators: expected.map((a) => getBytes(a)) },
    { srcNetworkUid, networkTypeId, height: activationHeight, messages: [] },
  );
  if (first === null) throw new BridgeError({ code: 'DEVNET_NO_FIRST_HEADER' });
  const firstBlockHeader = hexlify(first.headerBytes);
  // The BMC is deployBridge's first deployment: its address is known before it exists, and the
  // BMC's BTP address (the messages' `dst`) names it.
  const predictedBmc = getCreateAddress({ from: admin, nonce: await provider.getTransactionCount(admin, 'pending') }).toLowerCase();
  const bmcBtpAddress = `btp://0x${chainId.toString(16)}.eth/${predictedBmc}`;
  step('deploying BMC, BMV, BSH and BTCT');
  const bridge = await deployBridge(deployer, provider, {
    admin,
    srcNetworkUid,
    networkTypeId,
    firstBlockHeader,
    bmcBtpAddress,
    bitcoin: opts.bitcoin.addressParams ?? BITCOIN_ADDRESS_PARAMS['bcoin-regtest'],
    registry,
  });
  step('marking epoch 0\'s scripts as federation scripts on the BSH');
  for (const s of [script.p2wshOutput, script.p2shP2wshOutput]) {
    await waitReceipt(provider, await bridge.bsh.getFunction('setFederationScript')(hexlify(s), true));
  }

  const addresses: FederationAddresses = {
    staking: (await registry.getAddress()).toLowerCase(),
    bmc: (await bridge.bmc.getAddress()).toLowerCase(),
    bmv: (await bridge.bmv.getAddress()).toLowerCase(),
    bsh: (await bridge.bsh.getAddress()).toLowerCase(),
    btct: (await bridge.btct.getAddress()).toLowerCase(),
  };
  // The payout coordinator (deployed by deployBridge): the reserve becomes its first batch's input.
  const payout = (bridge as unknown as { payout?: Contract }).payout;
  if (payout !== undefined) {
    addresses.payout = (await payout.getAddress()).toLowerCase();
    step('registering the bootstrap reserve with the payout coordinator');
    const internalTxid = hexlify(getBytes(`0x${sent.txid}`).reverse());
    await waitReceipt(provider, await payout.getFunction('initReserve')(internalTxid, 0, reserveSats, 0));
  }

  let slasher: Contract | undefined;
  if (opts.slashing !== false) {
    step('deploying the Slasher');
    slasher = await deploySlasher(deployer, provider, {
      admin, registry, bmv: bridge.bmv, treasury: opts.treasury ?? admin,
      ...(payout !== undefined ? { payout } : {}),
      ...(opts.slashing !== undefined ? { params: opts.slashing } : {}),
    });
    addresses.slasher = (await slasher.getAddress()).toLowerCase();
  }

  // 4. Genesis.
  const genesis = parseGenesis({
    format: 'fednode-genesis',
    version: 1,
    network: opts.network ?? DEPLOY_DEFAULTS.network,
    chainId: Number(chainId),
    contracts: { staking: addresses.staking, bmc: addresses.bmc, bmv: addresses.bmv, bsh: addresses.bsh, btct: addresses.btct, ...(addresses.payout !== undefined ? { payout: addresses.payout } : {}) },
    srcNetworkUid,
    networkTypeId,
    networkId,
    srcBtpAddress: `btp://${srcNetworkUid}/federation`,
    dstBtpAddress: (await bridge.bmc.getFunction('btpAddress')()) as string,
    firstBlockHeader,
    bitcoin: {
      network: btcNetwork,
      startHeight: activationHeight + 1,
      reserve: { txid: sent.txid, vout: 0, amount: Number(reserveSats), epoch: 0, kind: 'p2wsh' },
    },
    epoch0: { validators: epoch0, threshold },
    derivation: { minDepositSats: opts.derivation?.minDepositSats ?? DEPLOY_DEFAULTS.minDepositSats, oldAddressWindow: opts.derivation?.oldAddressWindow ?? DEPLOY_DEFAULTS.oldAddressWindow },
    homeStartBlock,
  }, 'deployFederation');
  step('federation deployed');
  return { addresses, slasherAddress: addresses.slasher, genesis, genesisJson: formatGenesis(genesis), bridge, registry, slasher, epoch0Script: script, epoch0 };
}

/**
 * Compiled contract artifacts (`build/contracts/<Name>.json`, written by
 * `scripts/compile-contracts.mjs`) and a deploy helper that polls for the receipt.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Contract, ContractFactory, type InterfaceAbi, type JsonRpcProvider, type Signer } from 'ethers';
import { BridgeError } from '../../errors.js';
import { MAX_TX_GAS, waitReceipt } from './provider.js';

export interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
}

/** Names of the contracts fednode deploys or benchmarks. */
export type ContractName =
  | 'BtpMessageVerifier'
  | 'BtpMessageCenter'
  | 'BitcoinTokenService'
  | 'BTCT'
  | 'ValidatorRegistry'
  | 'TerraBaselineBridge'
  | 'BareERC20'
  | 'PayoutCoordinator'
  | 'PayoutCoordinatorExt'
  | 'PayoutTxCodec'
  | 'EpochScripts'
  | 'FeeOracle';

const ARTIFACT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../build/contracts');
const cache = new Map<string, Artifact>();

export function loadArtifact(name: ContractName | string, dir: string = ARTIFACT_DIR): Artifact {
  const key = join(dir, `${name}.json`);
  const hit = cache.get(key);
  if (hit) return hit;
  let art: Artifact;
  try {
    art = JSON.parse(readFileSync(key, 'utf8')) as Artifact;
  } catch (cause) {
    throw new BridgeError({ code: 'CONTRACT_ARTIFACT_MISSING', name, path: key, cause, message: `artifact ${name} missing: run npm run build:contracts` });
  }
  cache.set(key, art);
  return art;
}

/**
 * The PayoutCoordinator's full ABI: its own functions plus those of PayoutCoordinatorExt, which it
 * reaches by delegatecall from its fallback (one address, one storage; the split keeps both
 * contracts under the 24 KB code-size limit).
 */
export function payoutCoordinatorAbi(): InterfaceAbi {
  const main = loadArtifact('PayoutCoordinator').abi as readonly { type: string; name?: string; inputs?: { type: string }[] }[];
  const ext = loadArtifact('PayoutCoordinatorExt').abi as readonly { type: string; name?: string; inputs?: { type: string }[] }[];
  const key = (f: { type: string; name?: string; inputs?: { type: string }[] }): string => `${f.type}:${f.name ?? ''}(${(f.inputs ?? []).map((i) => i.type).join(',')})`;
  const seen = new Set(main.map(key));
  return [...main, ...ext.filter((f) => f.type !== 'constructor' && !seen.has(key(f)))] as InterfaceAbi;
}

/** Deploys `name` with constructor `args` and returns the attached Contract once mined. */
export async function deployContract(
  signer: Signer,
  provider: JsonRpcProvider,
  name: ContractName,
  args: unknown[] = [],
  overrides: { gasLimit?: bigint; value?: bigint } = {},
): Promise<Contract> {
  const art = loadArtifact(name);
  const factory = new ContractFactory(art.abi, art.bytecode, signer);
  const tx = await factory.getDeployTransaction(...args, { gasLimit: overrides.gasLimit ?? MAX_TX_GAS, ...(overrides.value !== undefined ? { value: overrides.value } : {}) });
  const sent = await signer.sendTransaction(tx);
  const receipt = await waitReceipt(provider, sent);
  if (receipt.contractAddress === null) throw new BridgeError({ code: 'DEPLOY_FAILED', name, hash: sent.hash });
  return new Contract(receipt.contractAddress, art.abi, signer);
}

/**
 * ethers v6 provider settings that behave on a local or remote EVM JSON-RPC node (DESIGN.md §6):
 * a static network (no chain-id probe per call), no request batching, no response cache, and a
 * short polling interval so receipts are seen quickly.
 */
import { JsonRpcProvider, Network, Wallet, type TransactionReceipt, type TransactionResponse } from 'ethers';
import { BridgeError } from '../../errors.js';

export interface ProviderOptions {
  /** Polling interval for filters and receipts, in ms. */
  pollingIntervalMs: number;
}

export const DEFAULT_PROVIDER_OPTIONS: ProviderOptions = { pollingIntervalMs: 50 };

export function createProvider(rpcUrl: string, chainId: number, opts: Partial<ProviderOptions> = {}): JsonRpcProvider {
  const o = { ...DEFAULT_PROVIDER_OPTIONS, ...opts };
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(rpcUrl, network, {
    staticNetwork: network,
    batchMaxCount: 1,
    cacheTimeout: -1,
    pollingInterval: o.pollingIntervalMs,
  });
  provider.pollingInterval = o.pollingIntervalMs;
  return provider;
}

/** A wallet bound to `provider`. */
export function createWallet(privateKey: string, provider: JsonRpcProvider): Wallet {
  return new Wallet(privateKey, provider);
}

/** The largest gas limit fednode puts on one transaction (the osaka per-transaction cap, EIP-7825). */
export const MAX_TX_GAS = 1n << 24n;

/**
 * Polls for a receipt instead of relying on `wait()`, which can miss receipts after pipelined
 * sends on a local node. Throws a BridgeError when the transaction reverted or never mined.
 */
export async function waitReceipt(
  provider: JsonRpcProvider,
  tx: TransactionResponse | string,
  opts: { timeoutMs?: number; allowRevert?: boolean } = {},
): Promise<TransactionReceipt> {
  const hash = typeof tx === 'string' ? tx : tx.hash;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
    const r = await provider.getTransactionReceipt(hash);
    if (r !== null) {
      if (r.status !== 1 && opts.allowRevert !== true) throw new BridgeError({ code: 'TX_REVERTED', hash });
      return r;
    }
    await new Promise((res) => setTimeout(res, provider.pollingInterval));
  }
  throw new BridgeError({ code: 'TX_RECEIPT_TIMEOUT', hash });
}

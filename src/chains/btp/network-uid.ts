/**
 * The federation's BTP SrcNetworkUID (`0x<id>.btc`, BTP 2.0 network address
 * form), one id per Bitcoin network, pinned in docs/BTP.md.
 */
export const BITCOIN_NETWORK_UID_IDS = {
  mainnet: 0x1,
  testnet: 0x2,
  signet: 0x3,
  testnet4: 0x4,
  regtest: 0x10,
} as const;

export type BitcoinNetworkName = keyof typeof BITCOIN_NETWORK_UID_IDS;

export function bitcoinSrcNetworkUid(network: BitcoinNetworkName): string {
  return `0x${BITCOIN_NETWORK_UID_IDS[network].toString(16)}.btc`;
}

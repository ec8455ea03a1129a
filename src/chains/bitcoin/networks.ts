import { networks, type Network } from 'bitcoinjs-lib';
import { BridgeError } from '../../errors.js';

/** The Bitcoin networks fednode knows. */
export type BitcoinNetworkName = 'mainnet' | 'testnet' | 'signet' | 'regtest';

/** Which regtest implementation's address prefixes to use: they differ between Core and bcoin. */
export type RegtestFlavour = 'core' | 'bcoin';

export interface NetworkOptions {
  /** Regtest address prefixes; default `core` (bech32 `bcrt`, P2SH 0xc4), or `bcoin` (`rb`, 0x26) when regtestBech32 is `rb`. */
  regtestFlavour?: RegtestFlavour;
  /** Overrides the regtest bech32 human-readable part (BIP-173) whatever the flavour. */
  regtestBech32?: string;
}

/** bcoin 1.0.2 regtest prefixes (lib/protocol/networks.js). */
const BCOIN_REGTEST: Network = {
  ...networks.regtest,
  bech32: 'rb',
  pubKeyHash: 0x3c,
  scriptHash: 0x26,
};

/**
 * bitcoinjs-lib network parameters for `name`. Signet shares testnet's
 * prefixes (BIP-325: "same as testnet3").
 */
export function bitcoinNetwork(name: BitcoinNetworkName, opts: NetworkOptions = {}): Network {
  switch (name) {
    case 'mainnet':
      return networks.bitcoin;
    case 'testnet':
    case 'signet':
      return networks.testnet;
    case 'regtest': {
      // A config that only says `rb` (bcoin's HRP) means bcoin's base58 prefixes too.
      const flavour = opts.regtestFlavour ?? (opts.regtestBech32 === BCOIN_REGTEST.bech32 ? 'bcoin' : 'core');
      const base = flavour === 'bcoin' ? BCOIN_REGTEST : networks.regtest;
      return opts.regtestBech32 === undefined ? base : { ...base, bech32: opts.regtestBech32 };
    }
    default:
      throw new BridgeError({ code: 'BTC_UNKNOWN_NETWORK', network: String(name) });
  }
}

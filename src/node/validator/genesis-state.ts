import { getBytes } from 'ethers';
import { decodeHeader, decodeProofContext } from '../../chains/btp/codec.js';
import { headerNetworkSectionHash } from '../../chains/btp/hashes.js';
import type { BtpChainState } from '../../chains/btp/builder.js';
import type { BTPBlockHeader } from '../../chains/btp/types.js';
import { initialDerivationState, type DerivationConfig, type DerivationState } from '../../consensus/derivation.js';
import { outpointKey } from '../../consensus/ledger.js';
import { BridgeError } from '../../errors.js';
import type { FednodeConfig } from '../config/schema.js';
import type { FederationGenesis } from '../genesis/genesis.js';

/**
 * What the validator takes from the federation's genesis file (pure): the
 * derivation constants, the BTP chain state right after the first header (the
 * BMV's constructor argument), and the first derivation state (epoch 0
 * current from `bitcoin.startHeight`, the bootstrap reserve in the ledger).
 */

export interface GenesisChain {
  readonly header: BTPBlockHeader;
  /** Chain state after the genesis header: its NetworkSection hash, next SN, epoch 0's set. */
  readonly chain: BtpChainState;
  /** Encoded ProofContext the genesis header carries (epoch 0's set). */
  readonly proofContext: Uint8Array;
}

export function derivationConfigOf(g: FederationGenesis): DerivationConfig {
  return { srcNetworkUid: g.srcNetworkUid, networkTypeId: g.networkTypeId, srcBtpAddress: g.srcBtpAddress, dstBtpAddress: g.dstBtpAddress };
}

export function genesisChain(g: FederationGenesis): GenesisChain {
  const header = decodeHeader(getBytes(g.firstBlockHeader));
  if (header.nextProofContext === null) {
    throw new BridgeError({ code: 'GENESIS_INVALID', message: 'the genesis header carries no NextProofContext (epoch 0 set)', problems: ['firstBlockHeader: no NextProofContext'] });
  }
  const validators = decodeProofContext(header.nextProofContext).validators;
  const epoch0 = g.epoch0.validators.map((a) => a.toLowerCase());
  const inHeader = validators.map((v) => `0x${Buffer.from(v).toString('hex')}`);
  if (epoch0.join() !== inHeader.join()) {
    throw new BridgeError({ code: 'GENESIS_INVALID', message: 'epoch0.validators differ from the genesis header ProofContext', problems: ['epoch0.validators'], epoch0, header: inHeader });
  }
  if (header.networkId !== g.networkId) {
    throw new BridgeError({ code: 'GENESIS_INVALID', message: `genesis header network id ${header.networkId} ≠ networkId ${g.networkId}`, problems: ['networkId'] });
  }
  return {
    header,
    proofContext: header.nextProofContext,
    chain: { networkId: header.networkId, lastNetworkSectionHash: headerNetworkSectionHash(header), nextMessageSn: header.firstMessageSn + header.messageCount, validators },
  };
}

/** The derivation state of a first start. `prevMedianTime`: Core mediantime of block startHeight − 1, when known. */
export function genesisDerivationState(g: FederationGenesis, prevMedianTime: number | null = null): DerivationState {
  const { chain } = genesisChain(g);
  const start = g.bitcoin.startHeight;
  const r = g.bitcoin.reserve;
  return initialDerivationState({
    chain,
    nextHeight: start,
    prevMedianTime,
    activations: [[0, start]],
    ledger: r === null ? [] : [[outpointKey(r.txid, r.vout), { amountSats: BigInt(r.amount), epoch: r.epoch, kind: r.kind, height: Math.max(0, start - 1) }]],
  });
}

/**
 * The genesis must describe the federation this node is configured for: same network name,
 * home chain id, Bitcoin network, and (where the config names them) the same contracts and
 * SrcNetworkUID. Throws `GENESIS_MISMATCH` listing every difference.
 */
export function checkGenesisAgainstConfig(g: FederationGenesis, config: FednodeConfig): void {
  const problems: string[] = [];
  if (g.network !== config.network) problems.push(`network: genesis ${g.network}, config ${config.network}`);
  if (g.chainId !== config.ethereum.chainId) problems.push(`chainId: genesis ${g.chainId}, config ethereum.chainId ${config.ethereum.chainId}`);
  if (g.bitcoin.network !== config.bitcoin.network) problems.push(`bitcoin.network: genesis ${g.bitcoin.network}, config ${config.bitcoin.network}`);
  const c = config.ethereum.contracts;
  for (const name of ['staking', 'bmc', 'bmv', 'bsh', 'btct', 'payout'] as const) {
    const mine = c[name];
    const theirs = g.contracts[name];
    if (mine !== undefined && theirs !== undefined && mine.toLowerCase() !== theirs.toLowerCase()) problems.push(`contracts.${name}: genesis ${theirs}, config ${mine}`);
  }
  if (config.btp.srcNetworkUid !== undefined && config.btp.srcNetworkUid !== g.srcNetworkUid) problems.push(`srcNetworkUid: genesis ${g.srcNetworkUid}, config ${config.btp.srcNetworkUid}`);
  if (problems.length > 0) {
    throw new BridgeError({ code: 'GENESIS_MISMATCH', message: `genesis does not match the config: ${problems.join('; ')}`, problems });
  }
}

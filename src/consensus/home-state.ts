import type { FederationScript } from '../chains/bitcoin/scripts.js';

/**
 * What BTP derivation needs from the home contract (DESIGN.md §2 "Validator
 * set changes": every parameter that affects derivation is scheduled ahead of
 * time). The node fills it from contract reads; nothing here reads a chain.
 */

/** Parameters that change only with an epoch (scheduled with the epoch's set). */
export interface EpochParams {
  /** Deposits below this are not minted (refund or unclaimed, PROTOCOL.md §2.3). */
  readonly minDepositSats: bigint;
  /** Old scripts stay deposit scripts for this many Bitcoin blocks after their successor activates. */
  readonly oldAddressWindow: number;
}

export interface EpochInfo extends EpochParams {
  readonly epoch: number;
  /** The frozen set, canonical ProofContext order: strictly ascending 20-byte addresses. */
  readonly validators: readonly Uint8Array[];
  /** The epoch's federation script (its keys are the validators' compressed keys, BIP-67 order). */
  readonly script: FederationScript;
  /**
   * T, unix seconds. The epoch becomes current at the first Bitcoin block
   * whose BIP-113 median-time-past (median of the 11 previous blocks'
   * timestamps) is ≥ T; see docs/CONSENSUS.md §2.3.
   */
  readonly activationTime: number;
  /** Set once the activation height is known (the genesis epoch, and every epoch the chain has activated). */
  readonly activationHeight?: number;
}

/** A snapshot of home state as read at one home block. */
export interface HomeSnapshot {
  /** Timestamp (unix seconds) of the home block the snapshot was read at. */
  readonly viewTime: number;
  /** That home block's number (diagnostics only). */
  readonly homeBlock?: number;
  /** Every epoch the contract knows, including the next frozen one; any order. */
  readonly epochs: readonly EpochInfo[];
  /**
   * The contract freezes any change at least this long before it takes
   * effect, so a view fresher than this is complete for every Bitcoin block
   * derived now (docs/CONSENSUS.md §2.1).
   */
  readonly schedulingMarginSeconds: number;
}

import type { FederationOutputKind } from '../../../chains/bitcoin/weight.js';

/**
 * What the payout pipeline reads from and sends to the home chain's
 * `PayoutCoordinator` (DESIGN.md §2 "home → Bitcoin", docs/PAYOUTS.md). The
 * pipeline only depends on this interface; `ethers-contract.ts` implements it
 * over the node's failover RPC, tests implement it in memory.
 */

/** One input of a closed batch as the contract lists it (`batchInputs`), in input order. */
export interface BatchInputView {
  /** Display-order txid hex (as RPC shows it). */
  readonly txid: string;
  readonly vout: number;
  readonly amountSats: bigint;
  /** Epoch whose script locks the UTXO (its `<epoch> DROP` tag). */
  readonly epoch: number;
  readonly kind: FederationOutputKind;
}

/** One withdrawal paid by the batch (`batchWithdrawals`), any order. */
export interface WithdrawalView {
  readonly id: bigint;
  /** BTCT burned net of the bridge fee, satoshis; the miner-fee share is taken from it. */
  readonly amountSats: bigint;
  readonly outputScript: Uint8Array;
}

export type BatchKind = 'payout' | 'sweep';

/** A closed batch (`batchInfo` + `batchInputs` + `batchWithdrawals`). */
export interface BatchView {
  readonly batchId: bigint;
  readonly kind: BatchKind;
  /** Newest version (0 = the original; each `bumpFee` adds one). */
  readonly latestVersion: bigint;
  /** Approved version, if any (quorum recorded on chain). */
  readonly approvedVersion: bigint | undefined;
  /** Settled: confirmed on Bitcoin at depth k (reported by a BTP block), or conflicted/refunded. Nothing more to do. */
  readonly confirmed: boolean;
  /** Epoch whose P2WSH script receives the change (payout) or the swept value (sweep). */
  readonly changeEpoch: number;
  /**
   * Fee rate(s), sat/kvB, version 0 may have been built with: the contract does not store the
   * rate of a closed batch, so the adapter recovers one from the estimate it keeps
   * (`floor(1000 × estFee / vsize)` builds the same bytes); re-derivation accepts the first that matches.
   */
  readonly feeRateCandidates: readonly bigint[];
  /** Miner fee (Σ fee shares, then raised by each bump) of each version, index = version. */
  readonly versionFees: readonly bigint[];
  readonly inputs: readonly BatchInputView[];
  readonly withdrawals: readonly WithdrawalView[];
  /** Home block at which the batch was closed (a lower bound for event queries). */
  readonly closedAtBlock: number;
}

/** The unsigned transaction of one version (`versionTx`) as the contract serialised it. */
export interface VersionTxView {
  /** Display-order txid hex. */
  readonly txid: string;
  /** Non-witness serialisation. */
  readonly unsignedTx: Uint8Array;
}

/** The contract's `WitnessSig` struct: one signature for one input. */
export interface WitnessSig {
  readonly input: number;
  /** Position of the signer's key in that input's script key order (BIP-67). */
  readonly keyIndex: number;
  /** ECDSA recovery id, 0 or 1. */
  readonly recid: number;
  readonly r: Uint8Array;
  readonly s: Uint8Array;
}

/** One `WitnessRecorded` event. */
export interface WitnessRecord {
  readonly batchId: bigint;
  readonly version: bigint;
  /** Lowercase 0x address of the validator whose signatures these are. */
  readonly validator: string;
  readonly sigs: readonly WitnessSig[];
}

/** What the keeper duties need to know (cheap views, read once per tick). */
export interface KeeperView {
  /** Id of the batch in flight (closed, not confirmed), if any. */
  readonly inFlight: bigint | undefined;
  /** Id `closeBatch()` would assign next (rotation key of the close duty). */
  readonly nextBatchId: bigint;
  /** Withdrawals queued and not yet in a batch. */
  readonly queuedWithdrawals: number;
  /** BTP heights with deposits the BSH recorded that the coordinator has not imported yet. */
  readonly importBacklog: number;
  /** How many deposit heights the coordinator has imported (index of the next one). */
  readonly importedHeights: number;
  /** `closeBatch()` would succeed now (nothing in flight, deposits imported, something payable). */
  readonly closeDue: boolean;
  /** The in-flight batch may be fee-bumped now (the contract's home-block delay has passed, surplus allows). */
  readonly bumpDue: boolean;
}

/** A home transaction for the TxSender: target and calldata. */
export interface EncodedCall {
  readonly to: string;
  readonly data: string;
}

export interface PayoutContract {
  keeperView(): Promise<KeeperView>;
  /** Undefined when no batch with this id was closed. */
  batch(batchId: bigint): Promise<BatchView | undefined>;
  versionTx(batchId: bigint, version: bigint): Promise<VersionTxView>;
  /** The contract's own BIP-143 sighashes of a version, in input order (cross-check only; never signed from). */
  sighashes(batchId: bigint, version: bigint): Promise<Uint8Array[]>;
  /** Witness script of an epoch's federation script. */
  epochScript(epoch: number): Promise<Uint8Array>;
  /** `WitnessRecorded` events of a batch (all versions), from `fromBlock`. */
  witnessRecords(batchId: bigint, fromBlock: number): Promise<WitnessRecord[]>;
  /** The BSH's deposit heights from index `from` (at most `max`): BTP height and outpoint count. */
  depositHeights(from: number, max: number): Promise<{ height: number; count: number }[]>;
  encodeImportDeposits(heights: readonly Uint8Array[]): EncodedCall;
  encodeCloseBatch(): EncodedCall;
  encodeBumpFee(batchId: bigint): EncodedCall;
  encodeSubmitSignatures(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall;
  encodeSubmitSignature(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall;
}

/** A deposit outpoint the node's own BTP derivation recorded (deposit-mint, -refund or -unclaimed). */
export interface DepositOutpoint {
  /** Display-order txid hex. */
  readonly txid: string;
  readonly vout: number;
}

/** One input signature on the wire (docs/P2P.md §4.3): 65-byte r‖s‖v. */
export interface GossipInputSignature {
  index: number;
  signature: Uint8Array;
}

/** The `payout-witness` gossip item (same shape as `src/node/p2p` `PayoutWitness`). */
export interface GossipWitness {
  batchId: bigint;
  version: bigint;
  /** Txid of the version, internal byte order. */
  txid: Uint8Array;
  inputs: GossipInputSignature[];
}

export type GossipVerdict = 'reject' | 'ignore' | void;

/** The `payout-witness` topic: the composition root maps it to `host.publish` / `host.handle`. */
export interface WitnessGossip {
  /** False when the outbound queue is full. */
  publish(w: GossipWitness): boolean;
  /** Registers the single handler; returns an unsubscribe function. */
  subscribe(handler: (w: GossipWitness, meta: { signer: string }) => GossipVerdict | Promise<GossipVerdict>): () => void;
}

import type { Transaction } from 'bitcoinjs-lib';
import { BridgeError } from '../errors.js';
import { buildBlock, type BtpChainState, type BuiltBlock } from '../chains/btp/builder.js';
import { encodeBTPMessage } from '../chains/btp/codec.js';
import { compareBytes, equalBytes } from '../chains/btp/bytes.js';
import { classifyDeposits, federationViewAt, matchFederationOutput, spendsFederation, UNKNOWN_BATCH_ID, type FederationView } from '../chains/bitcoin/deposits.js';
import { parsePayoutOpReturn } from '../chains/bitcoin/payout.js';
import { BTC_SERVICE, encodeRecord, type BtcRecord } from '../chains/bitcoin/records.js';
import type { FederationScript } from '../chains/bitcoin/scripts.js';
import type { EpochInfo, HomeSnapshot } from './home-state.js';
import { ledgerFromJson, ledgerToJson, outpointKey, type Ledger, type LedgerEntry, type LedgerEntryJson, type OutpointKey } from './ledger.js';

/**
 * BTP block derivation (DESIGN.md §2 "Bitcoin -> home" step 2; byte rules in
 * docs/CONSENSUS.md §2). A pure function of the Bitcoin block, the previous
 * derivation state and the home snapshot: no proposer, Round 0, so every
 * honest validator computes byte-identical blocks.
 */

/** Deployment constants that go into every block (BTP.md §4). */
export interface DerivationConfig {
  /** SrcNetworkUID signed in every decision, e.g. `0x1.btc`. */
  readonly srcNetworkUid: string;
  readonly networkTypeId: number;
  /** BTPMessage `src`: the federation's BTP address, e.g. `btp://0x1.btc/federation` (the home BMC's link `prev`). */
  readonly srcBtpAddress: string;
  /** BTPMessage `dst`: the home BMC's BTP address. */
  readonly dstBtpAddress: string;
}

/** The watcher's view of one Bitcoin block at k confirmations. */
export interface ObservedBlock {
  readonly height: number;
  /** Display-order block hash. */
  readonly hash: string;
  /** The block's transactions in block order (coinbase first), as the RPC gives them. */
  readonly transactions: readonly Transaction[];
  /**
   * Core's `mediantime` of this block: median of its own and its 10
   * predecessors' timestamps (= BIP-113 MTP of the next block).
   */
  readonly medianTime: number;
}

export interface DerivationState {
  /** The builder's state: last NetworkSection hash, next message SN, the set that signs the next block. */
  readonly chain: BtpChainState;
  /** Next Bitcoin height to derive; heights are derived strictly in order. */
  readonly nextHeight: number;
  /** Core `mediantime` of block nextHeight − 1 (null before the first derived block). */
  readonly prevMedianTime: number | null;
  /** Activation heights the derivation established or was given, by epoch. */
  readonly activations: ReadonlyMap<number, number>;
  readonly ledger: Ledger;
}

export interface DeriveOptions {
  /** The caller's clock, unix seconds: only used to judge the home view's age. */
  readonly now: number;
}

export interface DerivedHeight {
  readonly height: number;
  /** Null when the height carries no message and no set change (no BTP block). */
  readonly block: BuiltBlock | null;
  /** The btc-service records, in message order. */
  readonly records: readonly BtcRecord[];
  /** Set when block `height + 1` is the first of `epoch` (this block carries its NextProofContext). */
  readonly activation?: { readonly epoch: number; readonly height: number };
  readonly state: DerivationState;
}

export type DerivationErrorCode =
  | 'CONSENSUS_HOME_VIEW_STALE'
  | 'CONSENSUS_HOME_VIEW_BEHIND_CHAIN'
  | 'CONSENSUS_HEIGHT_OUT_OF_ORDER'
  | 'CONSENSUS_NO_CURRENT_EPOCH'
  | 'CONSENSUS_VALIDATOR_SET_MISMATCH'
  | 'CONSENSUS_ACTIVATION_MISSED'
  | 'CONSENSUS_ACTIVATION_MISMATCH'
  | 'CONSENSUS_BAD_SNAPSHOT';

function fail(code: DerivationErrorCode, context: Record<string, unknown>): never {
  throw new BridgeError({ code, ...context });
}

/** Starting state, e.g. right after the genesis BTP header (the BMV's constructor argument). */
export function initialDerivationState(init: {
  chain: BtpChainState;
  nextHeight: number;
  prevMedianTime?: number | null;
  activations?: Iterable<readonly [number, number]>;
  ledger?: Iterable<readonly [OutpointKey, LedgerEntry]>;
}): DerivationState {
  return {
    chain: init.chain,
    nextHeight: init.nextHeight,
    prevMedianTime: init.prevMedianTime ?? null,
    activations: new Map(init.activations ?? []),
    ledger: new Map(init.ledger ?? []),
  };
}

function checkSnapshot(s: HomeSnapshot): EpochInfo[] {
  const epochs = [...s.epochs].sort((a, b) => a.epoch - b.epoch);
  for (let i = 0; i < epochs.length; i++) {
    const e = epochs[i]!;
    if (i > 0 && epochs[i - 1]!.epoch === e.epoch) fail('CONSENSUS_BAD_SNAPSHOT', { reason: 'duplicate epoch', epoch: e.epoch });
    for (let j = 1; j < e.validators.length; j++) {
      if (compareBytes(e.validators[j - 1]!, e.validators[j]!) >= 0) fail('CONSENSUS_BAD_SNAPSHOT', { reason: 'validators not strictly ascending', epoch: e.epoch });
    }
    if ((e.script.epoch ?? 0) !== e.epoch) fail('CONSENSUS_BAD_SNAPSHOT', { reason: 'script epoch tag', epoch: e.epoch, scriptEpoch: e.script.epoch });
  }
  return epochs;
}

function sameSet(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => equalBytes(x, b[i]!));
}

/**
 * The home view must be complete for this block: changes are frozen at
 * least `margin` before they take effect, so a view read at home time t
 * knows every change effective at MTP ≤ t + margin (docs/CONSENSUS.md §2.1).
 */
export function checkHomeViewFresh(snapshot: HomeSnapshot, now: number, medianTime?: number): void {
  const margin = snapshot.schedulingMarginSeconds;
  if (now - snapshot.viewTime > margin) {
    fail('CONSENSUS_HOME_VIEW_STALE', { viewTime: snapshot.viewTime, now, marginSeconds: margin, ageSeconds: now - snapshot.viewTime });
  }
  if (medianTime !== undefined && medianTime > snapshot.viewTime + margin) {
    fail('CONSENSUS_HOME_VIEW_BEHIND_CHAIN', { viewTime: snapshot.viewTime, medianTime, marginSeconds: margin });
  }
}

/** Activation height of `e`: what the derivation established, else what the snapshot says. Mismatch is an error. */
function activationOf(e: EpochInfo, activations: ReadonlyMap<number, number>): number | undefined {
  const mine = activations.get(e.epoch);
  if (mine !== undefined && e.activationHeight !== undefined && mine !== e.activationHeight) {
    fail('CONSENSUS_ACTIVATION_MISMATCH', { epoch: e.epoch, derived: mine, snapshot: e.activationHeight });
  }
  return mine ?? e.activationHeight;
}

/** Derives the BTP block (or none) for Bitcoin block `block.height`. Never mutates `state`. */
export function deriveHeight(state: DerivationState, block: ObservedBlock, snapshot: HomeSnapshot, config: DerivationConfig, opts: DeriveOptions): DerivedHeight {
  const b = block.height;
  if (b !== state.nextHeight) fail('CONSENSUS_HEIGHT_OUT_OF_ORDER', { expected: state.nextHeight, got: b });
  checkHomeViewFresh(snapshot, opts.now, block.medianTime);
  const epochs = checkSnapshot(snapshot);

  // Current epoch: the last one activated at or below b.
  const activated = epochs
    .map((e) => ({ e, at: activationOf(e, state.activations) }))
    .filter((x): x is { e: EpochInfo; at: number } => x.at !== undefined && x.at <= b);
  const current = activated[activated.length - 1];
  if (current === undefined) fail('CONSENSUS_NO_CURRENT_EPOCH', { height: b });
  if (!sameSet(current.e.validators, state.chain.validators)) {
    fail('CONSENSUS_VALIDATOR_SET_MISMATCH', { height: b, epoch: current.e.epoch });
  }

  // Is b the last block before the next epoch? (MTP of b+1 = Core mediantime of b ≥ T.)
  const next = epochs.find((e) => e.epoch === current.e.epoch + 1);
  let activation: { epoch: number; height: number } | undefined;
  if (next !== undefined) {
    const known = activationOf(next, state.activations);
    if (known !== undefined && known <= b) {
      fail('CONSENSUS_ACTIVATION_MISMATCH', { epoch: next.epoch, snapshot: known, height: b, reason: 'activation at or below a height derived under the previous epoch' });
    }
    if (block.medianTime >= next.activationTime) {
      if (state.prevMedianTime !== null && state.prevMedianTime >= next.activationTime) {
        // The epoch should have activated earlier: the set was frozen too late for us to see it.
        fail('CONSENSUS_ACTIVATION_MISSED', { epoch: next.epoch, height: b, activationTime: next.activationTime, prevMedianTime: state.prevMedianTime });
      }
      if (known !== undefined && known !== b + 1) fail('CONSENSUS_ACTIVATION_MISMATCH', { epoch: next.epoch, snapshot: known, derived: b + 1 });
      activation = { epoch: next.epoch, height: b + 1 };
    }
  }

  const { records, ledger } = blockRecords(block, b, epochs, activated, current.e, state.ledger);
  const sn0 = state.chain.nextMessageSn;
  const messages = records.map((r, i) =>
    encodeBTPMessage({ src: config.srcBtpAddress, dst: config.dstBtpAddress, svc: BTC_SERVICE, sn: BigInt(sn0 + i), payload: encodeRecord(r), nsn: 0n, feeInfo: null }),
  );
  const built = buildBlock(state.chain, {
    srcNetworkUid: config.srcNetworkUid,
    networkTypeId: config.networkTypeId,
    height: b,
    messages,
    ...(activation !== undefined ? { nextValidators: epochs.find((e) => e.epoch === activation!.epoch)!.validators } : {}),
  });
  const activations = new Map(state.activations);
  if (activation !== undefined) activations.set(activation.epoch, activation.height);
  return {
    height: b,
    block: built,
    records,
    ...(activation !== undefined ? { activation } : {}),
    state: {
      chain: built?.nextState ?? state.chain,
      nextHeight: b + 1,
      prevMedianTime: block.medianTime,
      activations,
      ledger,
    },
  };
}

/**
 * Records of block b in transaction order (PROTOCOL.md §2.2, §3), and the
 * ledger after it. The ledger is updated transaction by transaction, so a
 * transaction spending a federation output created earlier in the same
 * block is recognised as a federation transaction too.
 */
function blockRecords(
  block: ObservedBlock,
  b: number,
  epochs: readonly EpochInfo[],
  activated: readonly { e: EpochInfo; at: number }[],
  current: EpochInfo,
  before: Ledger,
): { records: BtcRecord[]; ledger: Map<OutpointKey, LedgerEntry> } {
  const ledger = new Map(before);
  const base = federationViewAt(
    b,
    activated.map((x) => ({ script: x.e.script, activationHeight: x.at })),
    { oldAddressWindow: current.oldAddressWindow, minDepositSats: current.minDepositSats },
  );
  const allScripts: FederationScript[] = epochs.map((e) => e.script);
  const view: FederationView = {
    ...base,
    allScripts,
    isFederationOutpoint: (txid, vout) => ledger.has(outpointKey(txid, vout)),
  };
  const records: BtcRecord[] = [];
  for (const tx of block.transactions) {
    if (tx.isCoinbase()) continue;
    const txid = tx.getId();
    if (spendsFederation(tx, view)) {
      const batchId = tx.outs.map((o) => parsePayoutOpReturn(o.script)).find((x) => x !== undefined) ?? UNKNOWN_BATCH_ID;
      records.push({ type: 'payout-confirmed', txid: Uint8Array.from(tx.getHash()), batchId, btcHeight: b });
      for (const input of tx.ins) ledger.delete(outpointKey(Buffer.from(input.hash).reverse().toString('hex'), input.index));
      // Change and sweep outputs to any epoch's script stay the federation's (never deposits).
      tx.outs.forEach((o, vout) => {
        const m = matchFederationOutput(o.script, allScripts);
        if (m !== undefined) ledger.set(outpointKey(txid, vout), { amountSats: o.value, epoch: m.script.epoch ?? 0, kind: m.kind, height: b });
      });
      continue;
    }
    for (const d of classifyDeposits(tx, view)) {
      records.push(d.record);
      ledger.set(outpointKey(txid, d.vout), { amountSats: d.amountSats, epoch: d.epoch, kind: d.kind, height: b });
    }
  }
  return { records, ledger };
}

/** JSON form of the state (the node persists it between heights). */
export interface DerivationStateJson {
  chain: { networkId: number; lastNetworkSectionHash: string | null; nextMessageSn: number; validators: string[] };
  nextHeight: number;
  prevMedianTime: number | null;
  activations: [number, number][];
  ledger: LedgerEntryJson[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

export function derivationStateToJson(s: DerivationState): DerivationStateJson {
  return {
    chain: {
      networkId: s.chain.networkId,
      lastNetworkSectionHash: s.chain.lastNetworkSectionHash === null ? null : hex(s.chain.lastNetworkSectionHash),
      nextMessageSn: s.chain.nextMessageSn,
      validators: s.chain.validators.map(hex),
    },
    nextHeight: s.nextHeight,
    prevMedianTime: s.prevMedianTime,
    activations: [...s.activations.entries()].sort((a, b) => a[0] - b[0]),
    ledger: ledgerToJson(s.ledger),
  };
}

export function derivationStateFromJson(j: DerivationStateJson): DerivationState {
  return {
    chain: {
      networkId: j.chain.networkId,
      lastNetworkSectionHash: j.chain.lastNetworkSectionHash === null ? null : unhex(j.chain.lastNetworkSectionHash),
      nextMessageSn: j.chain.nextMessageSn,
      validators: j.chain.validators.map(unhex),
    },
    nextHeight: j.nextHeight,
    prevMedianTime: j.prevMedianTime,
    activations: new Map(j.activations),
    ledger: ledgerFromJson(j.ledger),
  };
}

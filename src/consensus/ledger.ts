import type { FederationOutputKind } from '../chains/bitcoin/weight.js';

/**
 * The federation UTXO ledger as BTP derivation sees it: every output the BTP
 * blocks have recorded as the federation's (deposits, and outputs of
 * federation transactions to any federation script), minus those spent. It
 * is a pure function of the Bitcoin chain from a starting ledger (the
 * bootstrap reserve), so every validator holds the same one
 * (PROTOCOL.md §2.2 rule 2: validators must use the ledger, not witnesses).
 */
export interface LedgerEntry {
  readonly amountSats: bigint;
  readonly epoch: number;
  readonly kind: FederationOutputKind;
  /** Bitcoin height of the block that created it. */
  readonly height: number;
}

/** Key of an outpoint: display-order txid hex, ':', vout. */
export type OutpointKey = string;

export function outpointKey(displayTxid: string, vout: number): OutpointKey {
  return `${displayTxid.toLowerCase()}:${vout}`;
}

export type Ledger = ReadonlyMap<OutpointKey, LedgerEntry>;

export interface LedgerEntryJson {
  outpoint: string;
  amountSats: string;
  epoch: number;
  kind: FederationOutputKind;
  height: number;
}

/** Sorted by outpoint key, so two equal ledgers serialise to the same JSON. */
export function ledgerToJson(l: Ledger): LedgerEntryJson[] {
  return [...l.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([outpoint, e]) => ({ outpoint, amountSats: e.amountSats.toString(), epoch: e.epoch, kind: e.kind, height: e.height }));
}

export function ledgerFromJson(entries: readonly LedgerEntryJson[]): Map<OutpointKey, LedgerEntry> {
  return new Map(entries.map((e) => [e.outpoint, { amountSats: BigInt(e.amountSats), epoch: e.epoch, kind: e.kind, height: e.height }]));
}

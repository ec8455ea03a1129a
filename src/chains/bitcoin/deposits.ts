import { opcodes, script as bscript, type Transaction } from 'bitcoinjs-lib';
import { concatBytes, equalBytes } from './bytes.js';
import { MAX_OP_RETURN_DATA_BYTES } from './constants.js';
import type { FederationScript } from './scripts.js';
import { paymentScriptKind } from './output-scripts.js';
import { parsePayoutOpReturn } from './payout.js';
import { MAX_REFUND_SCRIPT_BYTES, type BtcRecord } from './records.js';
import type { FederationOutputKind } from './weight.js';
import { BridgeError } from '../../errors.js';

/** Deposit OP_RETURN data prefix: ASCII "FND" and format version 1. */
export const DEPOSIT_MAGIC = Uint8Array.of(0x46, 0x4e, 0x44, 0x01);

/** Batch id reported for a federation spend that carries no payout OP_RETURN: the contract treats it as unapproved. */
export const UNKNOWN_BATCH_ID = (1n << 64n) - 1n;

export interface DepositMetadata {
  /** 20-byte EVM address, or undefined when absent/zero (unusable). */
  readonly recipient: Uint8Array | undefined;
  readonly refundScript: Uint8Array | undefined;
}

/**
 * The deposit OP_RETURN: `OP_RETURN <"FND" 0x01 ‖ recipient 20 [‖ len u8 ‖ refundScript]>`,
 * 24 bytes, or 25 + len with a refund script (≤ 42 bytes): at most 67 ≤ 80 bytes.
 * A zero recipient means "no recipient, refund only".
 */
export function encodeDepositOpReturn(meta: { recipient?: Uint8Array; refundScript?: Uint8Array }): Uint8Array {
  const recipient = meta.recipient ?? new Uint8Array(20);
  if (recipient.length !== 20) throw new BridgeError({ code: 'BTC_DEPOSIT_BAD_RECIPIENT', bytes: recipient.length });
  const refund = meta.refundScript;
  if (refund !== undefined && (paymentScriptKind(refund) === undefined || refund.length > MAX_REFUND_SCRIPT_BYTES)) {
    throw new BridgeError({ code: 'BTC_DEPOSIT_BAD_REFUND_SCRIPT', bytes: refund.length });
  }
  const data = concatBytes(DEPOSIT_MAGIC, recipient, ...(refund ? [Uint8Array.of(refund.length), refund] : []));
  if (data.length > MAX_OP_RETURN_DATA_BYTES) throw new BridgeError({ code: 'BTC_DEPOSIT_OP_RETURN_TOO_LARGE', bytes: data.length, limit: MAX_OP_RETURN_DATA_BYTES });
  return bscript.compile([opcodes.OP_RETURN, data]);
}

/**
 * Reads the first OP_RETURN output whose single push starts with the magic.
 * Returns undefined when there is none or it is malformed (wrong length,
 * non-standard refund script): such a deposit has no usable metadata.
 */
export function parseDepositMetadata(tx: Transaction): DepositMetadata | undefined {
  for (const out of tx.outs) {
    if (out.script[0] !== opcodes.OP_RETURN) continue;
    const chunks = bscript.decompile(out.script);
    if (chunks === null || chunks.length !== 2 || !(chunks[1] instanceof Uint8Array)) continue;
    const data = chunks[1];
    if (data.length < 4 || !equalBytes(data.subarray(0, 4), DEPOSIT_MAGIC)) continue;
    return decodeMetadata(data);
  }
  return undefined;
}

function decodeMetadata(data: Uint8Array): DepositMetadata | undefined {
  if (data.length < 24) return undefined;
  const rawRecipient = data.slice(4, 24);
  const recipient = rawRecipient.every((b) => b === 0) ? undefined : rawRecipient;
  if (data.length === 24) return { recipient, refundScript: undefined };
  const len = data[24]!;
  if (data.length !== 25 + len) return undefined;
  const refundScript = data.slice(25);
  if (paymentScriptKind(refundScript) === undefined) return undefined;
  return { recipient, refundScript };
}

/** What a validator knows about the federation when it reads Bitcoin block b (all scheduled ahead: DESIGN §2). */
export interface FederationView {
  /** Scripts whose deposits are honoured at this height: the current epoch and old ones still inside the window. */
  readonly depositScripts: readonly FederationScript[];
  /** Every federation script of every epoch, to recognise federation transactions. */
  readonly allScripts: readonly FederationScript[];
  readonly minDepositSats: bigint;
  /**
   * Ledger lookup (display txid): true when the outpoint is a known federation UTXO of any epoch.
   * Authoritative when given; see {@link spendsFederation} for the fallback without it.
   */
  readonly isFederationOutpoint?: (txid: string, vout: number) => boolean;
}

/** An epoch's script and the Bitcoin height from which it is the current one. */
export interface ScheduledEpoch {
  readonly script: FederationScript;
  /** The first block whose median-time-past reached the epoch's activation time (DESIGN §2 "Validator set changes"). */
  readonly activationHeight: number;
}

/**
 * The view at Bitcoin height `height`: deposits are honoured to the current
 * epoch's script and to an older epoch's while fewer than `oldAddressWindow`
 * blocks have passed since the epoch after it activated (window counted in
 * Bitcoin blocks: an old script is honoured up to height successor + window − 1).
 */
export function federationViewAt(
  height: number,
  epochs: readonly ScheduledEpoch[],
  params: { oldAddressWindow: number; minDepositSats: bigint; isFederationOutpoint?: (txid: string, vout: number) => boolean },
): FederationView {
  const sorted = [...epochs].sort((a, b) => a.activationHeight - b.activationHeight);
  const active = sorted.filter((e) => e.activationHeight <= height);
  const depositScripts = active
    .filter((e, i) => {
      const next = active[i + 1];
      return next === undefined || height < next.activationHeight + params.oldAddressWindow;
    })
    .map((e) => e.script)
    .reverse();
  return {
    depositScripts,
    allScripts: sorted.map((e) => e.script),
    minDepositSats: params.minDepositSats,
    ...(params.isFederationOutpoint ? { isFederationOutpoint: params.isFederationOutpoint } : {}),
  };
}

export type DepositReason = 'ok' | 'below-minimum' | 'no-metadata' | 'no-recipient';

export interface DepositOutput {
  readonly vout: number;
  readonly amountSats: bigint;
  readonly epoch: number;
  readonly kind: FederationOutputKind;
  readonly record: BtcRecord;
  readonly reason: DepositReason;
}

/** Matches an output script against the federation scripts: epoch and address kind, or undefined. */
export function matchFederationOutput(outputScript: Uint8Array, scripts: readonly FederationScript[]): { script: FederationScript; kind: FederationOutputKind } | undefined {
  for (const s of scripts) {
    if (equalBytes(outputScript, s.p2wshOutput)) return { script: s, kind: 'p2wsh' };
    if (equalBytes(outputScript, s.p2shP2wshOutput)) return { script: s, kind: 'p2sh-p2wsh' };
  }
  return undefined;
}

/**
 * True when `tx` spends a federation outpoint of any epoch.
 *
 * With a ledger (`isFederationOutpoint`) the ledger alone decides: it is
 * exact. Without one, an input counts when its last witness item is a
 * federation witness script and its scriptSig is empty (P2WSH) or exactly
 * the script's P2SH-P2WSH redeem push. That fallback needs no UTXO lookup
 * but can be imitated by a (non-standard) taproot script-path spend whose
 * control block happens to equal a federation script, so validators that
 * derive BTP blocks must pass the ledger.
 */
export function spendsFederation(tx: Transaction, view: FederationView): boolean {
  const ledger = view.isFederationOutpoint;
  if (ledger !== undefined) return tx.ins.some((input) => ledger(Buffer.from(input.hash).reverse().toString('hex'), input.index));
  return tx.ins.some((input) => {
    const last = input.witness[input.witness.length - 1];
    if (last === undefined) return false;
    return view.allScripts.some((s) => {
      if (!equalBytes(last, s.witnessScript)) return false;
      return input.script.length === 0 || equalBytes(input.script, bscript.compile([s.p2shRedeemScript]));
    });
  });
}

/**
 * Deposit records of one transaction, one per output to a deposit script,
 * in output order. Empty for federation transactions (DESIGN §2 step 1).
 */
export function classifyDeposits(tx: Transaction, view: FederationView): DepositOutput[] {
  const matches = tx.outs
    .map((o, vout) => ({ o, vout, m: matchFederationOutput(o.script, view.depositScripts) }))
    .filter((x) => x.m !== undefined);
  if (matches.length === 0 || spendsFederation(tx, view)) return [];
  const meta = parseDepositMetadata(tx);
  const txid = Uint8Array.from(tx.getHash());
  return matches.map(({ o, vout, m }) => {
    const epoch = m!.script.epoch ?? 0;
    // The record says which output kind was paid (type byte flag, docs/PROTOCOL.md §3): the
    // contract needs it to spend the UTXO. P2WSH is the default and leaves the field absent.
    const base = { txid, vout, amountSats: o.value, epoch, ...(m!.kind === 'p2sh-p2wsh' ? { outputKind: 'p2sh-p2wsh' as const } : {}) };
    const below = o.value < view.minDepositSats;
    let record: BtcRecord;
    let reason: DepositReason;
    if (meta?.recipient !== undefined && !below) {
      record = { type: 'deposit-mint', ...base, recipient: meta.recipient };
      reason = 'ok';
    } else {
      reason = below ? 'below-minimum' : meta === undefined ? 'no-metadata' : 'no-recipient';
      record = meta?.refundScript !== undefined ? { type: 'deposit-refund', ...base, refundScript: meta.refundScript } : { type: 'deposit-unclaimed', ...base };
    }
    return { vout, amountSats: o.value, epoch, kind: m!.kind, record, reason };
  });
}

/**
 * Every record Bitcoin block `height` contributes, in transaction order then
 * output order: deposits to federation scripts, and one `payout-confirmed`
 * per federation transaction (batch id from its payout OP_RETURN, or
 * {@link UNKNOWN_BATCH_ID} when it carries none).
 */
export function extractBlockRecords(txs: readonly Transaction[], height: number, view: FederationView): BtcRecord[] {
  const records: BtcRecord[] = [];
  for (const tx of txs) {
    if (tx.isCoinbase()) continue;
    if (spendsFederation(tx, view)) {
      const tagged = tx.outs.map((o) => parsePayoutOpReturn(o.script)).find((b) => b !== undefined);
      records.push({ type: 'payout-confirmed', txid: Uint8Array.from(tx.getHash()), batchId: tagged ?? UNKNOWN_BATCH_ID, btcHeight: height });
      continue;
    }
    records.push(...classifyDeposits(tx, view).map((d) => d.record));
  }
  return records;
}

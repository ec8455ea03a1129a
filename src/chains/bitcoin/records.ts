import { BridgeError } from '../../errors.js';
import { concatBytes, u32be, u64be } from './bytes.js';
import type { FederationOutputKind } from './weight.js';

/**
 * Payloads of the BTPMessages (service `"btc"`) fednode puts in BTP blocks.
 * One record, big-endian, no padding (the Solidity BSH reads it with a few
 * mloads). Layouts: docs/PROTOCOL.md §Messages.
 */
export const BTC_SERVICE = 'btc';

export const RecordType = {
  DepositMint: 0x01,
  DepositRefund: 0x02,
  DepositUnclaimed: 0x03,
  PayoutConfirmed: 0x10,
} as const;

/**
 * Set in the type byte of a deposit record (0x81/0x82/0x83) when the
 * federation output paid is P2SH-P2WSH; clear for P2WSH. The contract needs
 * the kind to spend the UTXO: the P2SH-P2WSH scriptSig is part of the
 * spending txid and its input weight differs (docs/PROTOCOL.md §3).
 */
export const P2SH_P2WSH_FLAG = 0x80;

/** Refund scripts are standard P2PKH/P2SH/P2WPKH/P2WSH/P2TR scripts; 42 leaves room for any v1+ witness program. */
export const MAX_REFUND_SCRIPT_BYTES = 42;

interface DepositFields {
  /** 32 bytes, internal byte order (as in an outpoint). */
  readonly txid: Uint8Array;
  readonly vout: number;
  readonly amountSats: bigint;
  /** The federation epoch whose script was paid. */
  readonly epoch: number;
  /**
   * Which federation output of that epoch was paid. Absent means P2WSH (the
   * decoder omits it then, so P2WSH records read exactly as before the flag).
   */
  readonly outputKind?: FederationOutputKind;
}

export type BtcRecord =
  | (DepositFields & { readonly type: 'deposit-mint'; readonly recipient: Uint8Array })
  | (DepositFields & { readonly type: 'deposit-refund'; readonly refundScript: Uint8Array })
  | (DepositFields & { readonly type: 'deposit-unclaimed' })
  | { readonly type: 'payout-confirmed'; readonly txid: Uint8Array; readonly batchId: bigint; readonly btcHeight: number };

function depositHead(type: number, r: DepositFields): Uint8Array {
  if (r.txid.length !== 32) throw new BridgeError({ code: 'BTC_RECORD_BAD_TXID', bytes: r.txid.length });
  const typeByte = r.outputKind === 'p2sh-p2wsh' ? type | P2SH_P2WSH_FLAG : type;
  return concatBytes(Uint8Array.of(typeByte), r.txid, u32be(r.vout), u64be(r.amountSats), u32be(r.epoch));
}

export function encodeRecord(r: BtcRecord): Uint8Array {
  switch (r.type) {
    case 'deposit-mint':
      if (r.recipient.length !== 20) throw new BridgeError({ code: 'BTC_RECORD_BAD_RECIPIENT', bytes: r.recipient.length });
      return concatBytes(depositHead(RecordType.DepositMint, r), r.recipient);
    case 'deposit-refund':
      if (r.refundScript.length === 0 || r.refundScript.length > MAX_REFUND_SCRIPT_BYTES) {
        throw new BridgeError({ code: 'BTC_RECORD_BAD_REFUND_SCRIPT', bytes: r.refundScript.length, limit: MAX_REFUND_SCRIPT_BYTES });
      }
      return concatBytes(depositHead(RecordType.DepositRefund, r), Uint8Array.of(r.refundScript.length), r.refundScript);
    case 'deposit-unclaimed':
      return depositHead(RecordType.DepositUnclaimed, r);
    case 'payout-confirmed':
      if (r.txid.length !== 32) throw new BridgeError({ code: 'BTC_RECORD_BAD_TXID', bytes: r.txid.length });
      return concatBytes(Uint8Array.of(RecordType.PayoutConfirmed), r.txid, u64be(r.batchId), u32be(r.btcHeight));
  }
}

/** Parses a record; returns undefined (never throws) for anything malformed or with trailing bytes. */
export function decodeRecord(b: Uint8Array): BtcRecord | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const first = b[0];
  if (first === undefined) return undefined;
  // The flag only exists on deposit records; 0x90 (a flagged PAYOUT_CONFIRMED) stays unknown.
  const flagged = (first & P2SH_P2WSH_FLAG) !== 0;
  const type = first & ~P2SH_P2WSH_FLAG;
  if (flagged && type !== RecordType.DepositMint && type !== RecordType.DepositRefund && type !== RecordType.DepositUnclaimed) return undefined;
  const DEP = 1 + 32 + 4 + 8 + 4;
  const head = (): DepositFields => ({
    txid: b.slice(1, 33),
    vout: dv.getUint32(33),
    amountSats: dv.getBigUint64(37),
    epoch: dv.getUint32(45),
    ...(flagged ? { outputKind: 'p2sh-p2wsh' as const } : {}),
  });
  switch (type) {
    case RecordType.DepositMint:
      return b.length === DEP + 20 ? { type: 'deposit-mint', ...head(), recipient: b.slice(DEP) } : undefined;
    case RecordType.DepositRefund: {
      if (b.length < DEP + 1) return undefined;
      const len = b[DEP]!;
      if (len === 0 || len > MAX_REFUND_SCRIPT_BYTES || b.length !== DEP + 1 + len) return undefined;
      return { type: 'deposit-refund', ...head(), refundScript: b.slice(DEP + 1) };
    }
    case RecordType.DepositUnclaimed:
      return b.length === DEP ? { type: 'deposit-unclaimed', ...head() } : undefined;
    case RecordType.PayoutConfirmed:
      return b.length === 1 + 32 + 8 + 4
        ? { type: 'payout-confirmed', txid: b.slice(1, 33), batchId: dv.getBigUint64(33), btcHeight: dv.getUint32(41) }
        : undefined;
    default:
      return undefined;
  }
}

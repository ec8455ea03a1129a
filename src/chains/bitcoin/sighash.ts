import type { Transaction } from 'bitcoinjs-lib';
import { sha256 } from '@noble/hashes/sha2.js';
import { BridgeError } from '../../errors.js';
import { SIGHASH_ALL } from './constants.js';
import { compactSize, concatBytes, u32le, u64le } from './bytes.js';

export interface Bip143Digest {
  readonly hashPrevouts: Uint8Array;
  readonly hashSequence: Uint8Array;
  readonly hashOutputs: Uint8Array;
  /** The full serialized preimage (BIP-143 items 1-10); equivocation evidence carries it. */
  readonly preimage: Uint8Array;
  /** double-SHA256 of the preimage: the message each validator signs. */
  readonly sighash: Uint8Array;
}

const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));

/**
 * BIP-143 signature hash for SIGHASH_ALL, written out item by item (rather
 * than only calling bitcoinjs-lib) because the preimage itself is part of the
 * protocol: the home contract recomputes it and slashing evidence carries it.
 * `scriptCode` is the witness script (P2WSH and P2SH-P2WSH alike, BIP-143
 * "scriptCode of the input"); our scripts contain no OP_CODESEPARATOR.
 */
export function bip143Digest(tx: Transaction, inputIndex: number, scriptCode: Uint8Array, amountSats: bigint): Bip143Digest {
  const input = tx.ins[inputIndex];
  if (input === undefined) throw new BridgeError({ code: 'BTC_SIGHASH_BAD_INPUT', inputIndex, inputs: tx.ins.length });
  const hashPrevouts = sha256d(concatBytes(...tx.ins.map((i) => concatBytes(i.hash, u32le(i.index)))));
  const hashSequence = sha256d(concatBytes(...tx.ins.map((i) => u32le(i.sequence))));
  const hashOutputs = sha256d(
    concatBytes(...tx.outs.map((o) => concatBytes(u64le(o.value), compactSize(o.script.length), o.script))),
  );
  const preimage = concatBytes(
    u32le(tx.version >>> 0),
    hashPrevouts,
    hashSequence,
    input.hash,
    u32le(input.index),
    compactSize(scriptCode.length),
    scriptCode,
    u64le(amountSats),
    u32le(input.sequence),
    hashOutputs,
    u32le(tx.locktime),
    u32le(SIGHASH_ALL),
  );
  return { hashPrevouts, hashSequence, hashOutputs, preimage, sighash: sha256d(preimage) };
}

/** The SIGHASH_ALL BIP-143 message for one input. */
export function bip143Sighash(tx: Transaction, inputIndex: number, scriptCode: Uint8Array, amountSats: bigint): Uint8Array {
  return bip143Digest(tx, inputIndex, scriptCode, amountSats).sighash;
}

/** The fields of a BIP-143 preimage that slashing evidence needs: which outpoint, how much, under which script. */
export interface Bip143PreimageFields {
  readonly version: number;
  readonly hashPrevouts: Uint8Array;
  readonly hashSequence: Uint8Array;
  /** Spent outpoint: txid in internal byte order, and output index. */
  readonly outpointTxid: Uint8Array;
  readonly outpointVout: number;
  readonly scriptCode: Uint8Array;
  readonly amountSats: bigint;
  readonly sequence: number;
  readonly hashOutputs: Uint8Array;
  readonly locktime: number;
  readonly hashType: number;
}

/**
 * Parses a BIP-143 preimage (equivocation evidence: a validator's signature
 * over a preimage spending a federation outpoint that no closed batch
 * produced). Returns undefined for anything that is not exactly one preimage.
 */
export function decodeBip143Preimage(p: Uint8Array): Bip143PreimageFields | undefined {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let o = 4 + 32 + 32 + 36;
  if (p.length < o + 1) return undefined;
  let len = p[o]!;
  let lenBytes = 1;
  if (len === 0xfd) {
    if (p.length < o + 3) return undefined;
    len = dv.getUint16(o + 1, true);
    lenBytes = 3;
    if (len < 0xfd) return undefined; // non-canonical CompactSize
  } else if (len > 0xfd) {
    return undefined; // scripts this long are never federation scripts
  }
  o += lenBytes;
  if (p.length !== o + len + 8 + 4 + 32 + 4 + 4) return undefined;
  const scriptCode = p.slice(o, o + len);
  o += len;
  return {
    version: dv.getUint32(0, true),
    hashPrevouts: p.slice(4, 36),
    hashSequence: p.slice(36, 68),
    outpointTxid: p.slice(68, 100),
    outpointVout: dv.getUint32(100, true),
    scriptCode,
    amountSats: dv.getBigUint64(o, true),
    sequence: dv.getUint32(o + 8, true),
    hashOutputs: p.slice(o + 12, o + 44),
    locktime: dv.getUint32(o + 44, true),
    hashType: dv.getUint32(o + 48, true),
  };
}

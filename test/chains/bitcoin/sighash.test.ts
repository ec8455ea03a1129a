import { describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { bip143Digest, decodeBip143Preimage } from '../../../src/chains/bitcoin/sighash.js';
import { publicKeyOf, signSighash, verifyWitnessSignature } from '../../../src/chains/bitcoin/signer.js';
import { bytesToHex, hexToBytes } from '../../../src/chains/bitcoin/bytes.js';
import { loadVector, type Bip143Vector } from '../../fixtures/bitcoin/vectors.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';

const v = loadVector<Bip143Vector>('bip143-p2sh-p2wsh.json');

describe('BIP-143 P2SH-P2WSH vector (SIGHASH_ALL)', () => {
  const tx = Transaction.fromHex(v.unsignedTx);
  const digest = bip143Digest(tx, v.inputIndex, hexToBytes(v.witnessScript), BigInt(v.amountSats));

  it('reproduces the intermediate hashes, the preimage and the sighash', () => {
    expect(bytesToHex(digest.hashPrevouts)).toBe(v.hashPrevouts);
    expect(bytesToHex(digest.hashSequence)).toBe(v.hashSequence);
    expect(bytesToHex(digest.hashOutputs)).toBe(v.hashOutputsAll);
    expect(bytesToHex(digest.preimage)).toBe(v.preimageAll);
    expect(bytesToHex(digest.sighash)).toBe(v.sighashAll);
  });

  it('agrees with bitcoinjs-lib', () => {
    const lib = tx.hashForWitnessV0(v.inputIndex, hexToBytes(v.witnessScript), BigInt(v.amountSats), Transaction.SIGHASH_ALL);
    expect(bytesToHex(lib)).toBe(v.sighashAll);
  });

  it('verifies the published signature and rejects it over another hash or key', () => {
    const sig = hexToBytes(v.signatureDerWithHashType);
    const pub = hexToBytes(v.publicKey);
    expect(bytesToHex(publicKeyOf(hexToBytes(v.privateKey)))).toBe(v.publicKey);
    expect(verifyWitnessSignature(sig, digest.sighash, pub)).toBe(true);
    const other = Uint8Array.from(digest.sighash);
    other[0]! ^= 1;
    expect(verifyWitnessSignature(sig, other, pub)).toBe(false);
    expect(verifyWitnessSignature(sig, digest.sighash, publicKeyOf(secp256k1.utils.randomSecretKey()))).toBe(false);
    const wrongType = Uint8Array.from(sig);
    wrongType[wrongType.length - 1] = 0x02;
    expect(verifyWitnessSignature(wrongType, digest.sighash, pub)).toBe(false);
    expect(verifyWitnessSignature(Uint8Array.of(0x30, 0x01), digest.sighash, pub)).toBe(false);
  });

  it('signs low-S with a recovery id that recovers the signer', () => {
    const s = signSighash(digest.sighash, hexToBytes(v.privateKey));
    expect(verifyWitnessSignature(s.der, digest.sighash, hexToBytes(v.publicKey))).toBe(true);
    const n = secp256k1.Point.CURVE().n;
    const sVal = BigInt('0x' + bytesToHex(s.compact.slice(32)));
    expect(sVal <= n / 2n).toBe(true);
    const recovered = secp256k1.Signature.fromBytes(s.compact, 'compact').addRecoveryBit(s.recovery).recoverPublicKey(digest.sighash);
    expect(bytesToHex(recovered.toBytes(true))).toBe(v.publicKey);
    expect(s.der[s.der.length - 1]).toBe(0x01);
  });

  it('refuses to verify a high-S twin of a valid signature', () => {
    const s = signSighash(digest.sighash, hexToBytes(v.privateKey));
    const sig = secp256k1.Signature.fromBytes(s.compact, 'compact');
    const n = secp256k1.Point.CURVE().n;
    const high = new secp256k1.Signature(sig.r, n - sig.s);
    const der = Uint8Array.from([...high.toBytes('der'), 0x01]);
    expect(verifyWitnessSignature(der, digest.sighash, hexToBytes(v.publicKey))).toBe(false);
  });

  it('decodes the preimage back into the outpoint, script and amount it commits to', () => {
    const f = decodeBip143Preimage(digest.preimage)!;
    expect(bytesToHex(f.outpointTxid)).toBe(bytesToHex(tx.ins[0]!.hash));
    expect(f.outpointVout).toBe(tx.ins[0]!.index);
    expect(bytesToHex(f.scriptCode)).toBe(v.witnessScript);
    expect(f.amountSats).toBe(BigInt(v.amountSats));
    expect(bytesToHex(f.hashOutputs)).toBe(v.hashOutputsAll);
    expect([f.version, f.sequence, f.locktime, f.hashType]).toEqual([tx.version, tx.ins[0]!.sequence, tx.locktime, 1]);
    expect(decodeBip143Preimage(digest.preimage.subarray(1))).toBeUndefined();
    expect(decodeBip143Preimage(Uint8Array.from([...digest.preimage, 0]))).toBeUndefined();
    expect(decodeBip143Preimage(new Uint8Array(10))).toBeUndefined();
    // A 67-key thresh script needs the 3-byte CompactSize.
    const long = new Uint8Array(2482).fill(0xac);
    const g = decodeBip143Preimage(bip143Digest(tx, 0, long, 5n).preimage)!;
    expect(g.scriptCode).toEqual(long);
    expect(g.amountSats).toBe(5n);
  });
});

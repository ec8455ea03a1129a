import { describe, expect, it } from 'vitest';
import { opcodes, script as bscript } from 'bitcoinjs-lib';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { isBridgeError } from '../../../src/errors.js';
import {
  countExecutedOps,
  encodeEpoch,
  federationAddress,
  federationScript,
  p2shAddress,
  p2shOutputScript,
  sortPublicKeys,
  templateForKeyCount,
} from '../../../src/chains/bitcoin/scripts.js';
import { bitcoinNetwork } from '../../../src/chains/bitcoin/networks.js';
import { bytesToHex, hexToBytes } from '../../../src/chains/bitcoin/bytes.js';
import { loadVector, type Bip67Vector } from '../../fixtures/bitcoin/vectors.js';
import { testKeys } from '../../fixtures/bitcoin/keys.js';

const bip67 = loadVector<{ vectors: Bip67Vector[] }>('bip67-multisig.json').vectors;

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isBridgeError(e) ? e.code : e).toBe(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('BIP-67 vectors', () => {
  it.each(bip67.map((v, i) => [i, v] as const))('vector %i: key order, redeem script and mainnet address', (_i, v) => {
    const sorted = sortPublicKeys(v.keys.map(hexToBytes)).map(bytesToHex);
    expect(sorted).toEqual(v.sorted);
    const s = federationScript({ keys: v.keys.map(hexToBytes), threshold: v.threshold, template: 'multisig' });
    expect(bytesToHex(s.witnessScript)).toBe(v.p2shRedeemScript);
    expect(p2shAddress(s.witnessScript, bitcoinNetwork('mainnet'))).toBe(v.p2shAddressMainnet);
  });
});

describe('federationScript', () => {
  const keys = testKeys(67).map((k) => k.publicKey);

  it('tags the epoch as a minimal script number followed by DROP', () => {
    for (const [epoch, first] of [[0, [opcodes.OP_0]], [5, [opcodes.OP_5]], [16, [opcodes.OP_16]], [17, [Uint8Array.of(17)]], [300, [Uint8Array.of(0x2c, 0x01)]]] as const) {
      const s = federationScript({ keys: keys.slice(0, 3), threshold: 2, epoch });
      const chunks = bscript.decompile(s.witnessScript)!;
      expect(chunks[0]).toEqual(first[0]);
      expect(chunks[1]).toBe(opcodes.OP_DROP);
      expect(bscript.decompile(encodeEpoch(epoch))![0]).toEqual(first[0]);
    }
  });

  it('gives each epoch a different address for the same keys', () => {
    const a = federationScript({ keys: keys.slice(0, 3), threshold: 2, epoch: 1 });
    const b = federationScript({ keys: keys.slice(0, 3), threshold: 2, epoch: 2 });
    expect(bytesToHex(a.p2wshOutput)).not.toBe(bytesToHex(b.p2wshOutput));
  });

  it('picks multisig up to 15 keys and thresh from 16', () => {
    expect(templateForKeyCount(15)).toBe('multisig');
    expect(templateForKeyCount(16)).toBe('thresh');
    expect(federationScript({ keys: keys.slice(0, 15), threshold: 8, epoch: 1 }).template).toBe('multisig');
    expect(federationScript({ keys: keys.slice(0, 16), threshold: 9, epoch: 1 }).template).toBe('thresh');
  });

  it('is independent of the order keys are given in', () => {
    const a = federationScript({ keys: keys.slice(0, 15), threshold: 8, epoch: 3 });
    const b = federationScript({ keys: [...keys.slice(0, 15)].reverse(), threshold: 8, epoch: 3 });
    expect(bytesToHex(a.witnessScript)).toBe(bytesToHex(b.witnessScript));
  });

  it('counts opcodes like the interpreter: 67-key thresh with a tag uses exactly 201', () => {
    const s = federationScript({ keys, threshold: 34, epoch: 7 });
    expect(s.template).toBe('thresh');
    expect(s.opCount).toBe(201);
    const ms = federationScript({ keys: keys.slice(0, 15), threshold: 8, epoch: 7 });
    expect(ms.opCount).toBe(countExecutedOps(ms.witnessScript));
    expect(ms.opCount).toBe(1 + 1 + 15);
  });

  it('names the limit it refuses', () => {
    const extra = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
    expectCode(() => federationScript({ keys: [...keys, extra], threshold: 34, epoch: 1 }), 'BTC_SCRIPT_TOO_MANY_THRESH_KEYS');
    expectCode(() => federationScript({ keys: keys.slice(0, 21), threshold: 11, template: 'multisig' }), 'BTC_SCRIPT_TOO_MANY_MULTISIG_KEYS');
    expectCode(() => federationScript({ keys: keys.slice(0, 3), threshold: 4 }), 'BTC_SCRIPT_BAD_THRESHOLD');
    expectCode(() => federationScript({ keys: keys.slice(0, 3), threshold: 0 }), 'BTC_SCRIPT_BAD_THRESHOLD');
    expectCode(() => federationScript({ keys: [keys[0]!, keys[0]!], threshold: 1 }), 'BTC_SCRIPT_DUPLICATE_KEY');
    const uncompressed = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false);
    expectCode(() => federationScript({ keys: [uncompressed, keys[0]!], threshold: 1 }), 'BTC_SCRIPT_BAD_KEY');
    expectCode(() => federationScript({ keys: [], threshold: 1 }), 'BTC_SCRIPT_NO_KEYS');
    expectCode(() => encodeEpoch(-1), 'BTC_BAD_EPOCH');
    // A 67-key thresh with a 5-byte tag would need a wider epoch; an untagged 67-key thresh fits in 200 ops.
    expect(federationScript({ keys, threshold: 34 }).opCount).toBe(200);
    // The 520-byte P2SH limit applies to bare P2SH redeem scripts: a 16-key multisig exceeds it.
    const big = federationScript({ keys: keys.slice(0, 16), threshold: 9, template: 'multisig' });
    expect(big.witnessScript.length).toBeGreaterThan(520);
    expectCode(() => p2shOutputScript(big.witnessScript), 'BTC_SCRIPT_TOO_LARGE_P2SH');
    // CHECKMULTISIG counts its 20 keys plus itself; untagged, nothing else.
    expect(federationScript({ keys: keys.slice(0, 20), threshold: 20, template: 'multisig' }).opCount).toBe(21);
  });

  it('derives P2WSH and P2SH-P2WSH addresses on every network, regtest prefix configurable', () => {
    const s = federationScript({ keys: keys.slice(0, 3), threshold: 2, epoch: 1 });
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('mainnet'))).toMatch(/^bc1q[a-z0-9]{58}$/);
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('testnet'))).toMatch(/^tb1q/);
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('signet'))).toMatch(/^tb1q/);
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('regtest'))).toMatch(/^bcrt1q/);
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('regtest', { regtestFlavour: 'bcoin' }))).toMatch(/^rb1q/);
    expect(federationAddress(s, 'p2wsh', bitcoinNetwork('regtest', { regtestBech32: 'xy' }))).toMatch(/^xy1q/);
    expect(bitcoinNetwork('regtest', { regtestBech32: 'rb' }).scriptHash).toBe(0x26);
    expect(bitcoinNetwork('regtest', { regtestBech32: 'bcrt' }).scriptHash).toBe(0xc4);
    expect(bitcoinNetwork('regtest', { regtestFlavour: 'core', regtestBech32: 'rb' }).scriptHash).toBe(0xc4);
    expect(federationAddress(s, 'p2sh-p2wsh', bitcoinNetwork('mainnet'))).toMatch(/^3/);
    expect(federationAddress(s, 'p2sh-p2wsh', bitcoinNetwork('testnet'))).toMatch(/^2/);
    expect(bytesToHex(s.p2shRedeemScript)).toBe(bytesToHex(s.p2wshOutput));
  });
});

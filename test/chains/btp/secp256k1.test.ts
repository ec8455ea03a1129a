import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keccak256, toHex } from '../../../src/chains/btp/bytes.js';
import { isWellFormedSignature, nativeBackend, nativeBackendAvailable, nobleBackend } from '../../../src/chains/btp/secp256k1.js';
import { addressFromSecretKey, recoverSigner, signDecision } from '../../../src/chains/btp/sign.js';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const secretKeyArb = fc.bigInt({ min: 1n, max: N - 1n }).map((k) => {
  const out = new Uint8Array(32);
  let v = k;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
});
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

function highS(sig: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(sig[i]!);
  let t = N - s;
  const out = Uint8Array.from(sig);
  for (let i = 63; i >= 32; i--) {
    out[i] = Number(t & 0xffn);
    t >>= 8n;
  }
  out[64] = sig[64]! ^ 1;
  return out;
}

describe('secp256k1 backends', () => {
  it('the native addon loads here', () => {
    expect(nativeBackendAvailable()).toBe(true);
  });

  it('sign identically (RFC 6979), low-S, V in {0,1}, and recover the signer', () => {
    fc.assert(
      fc.property(secretKeyArb, hashArb, (sk, h) => {
        const a = signDecision(h, sk, nobleBackend);
        const b = signDecision(h, sk, nativeBackend);
        expect(toHex(a)).toBe(toHex(b));
        expect(isWellFormedSignature(a)).toBe(true);
        const addr = addressFromSecretKey(sk, nobleBackend);
        expect(addressFromSecretKey(sk, nativeBackend)).toEqual(addr);
        expect(recoverSigner(h, a, nobleBackend)).toEqual(addr);
        expect(recoverSigner(h, a, nativeBackend)).toEqual(addr);
      }),
      { numRuns: 60 },
    );
  });

  it('agree on arbitrary (mostly invalid) signatures', () => {
    fc.assert(
      fc.property(hashArb, fc.uint8Array({ minLength: 65, maxLength: 65 }), fc.constantFrom(0, 1, 27, 4), (h, sig, v) => {
        sig[64] = v;
        const a = nobleBackend.recover(h, sig);
        const b = nativeBackend.recover(h, sig);
        expect(a === null ? null : toHex(a)).toBe(b === null ? null : toHex(b));
      }),
      { numRuns: 150 },
    );
  });

  it('reject the high-S twin, wrong lengths, V outside {0,1}, zero R/S', () => {
    const sk = keccak256(Uint8Array.of(7));
    const h = keccak256(Uint8Array.of(8));
    const sig = signDecision(h, sk, nativeBackend);
    for (const backend of [nobleBackend, nativeBackend]) {
      expect(backend.recover(h, highS(sig))).toBeNull();
      expect(backend.recover(h, sig.subarray(0, 64))).toBeNull();
      expect(backend.recover(h.subarray(1), sig)).toBeNull();
      expect(backend.recover(h, Uint8Array.from([...sig.subarray(0, 64), 27]))).toBeNull();
      expect(backend.recover(h, new Uint8Array(65))).toBeNull();
    }
  });
});

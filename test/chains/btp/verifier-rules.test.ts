import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { buildBlock } from '../../../src/chains/btp/builder.js';
import { encodeProofContext } from '../../../src/chains/btp/codec.js';
import { headerDecisionHash, proofContextHash } from '../../../src/chains/btp/hashes.js';
import { nativeBackend } from '../../../src/chains/btp/secp256k1.js';
import { signDecision } from '../../../src/chains/btp/sign.js';
import type { BTPBlockHeader, EthProof } from '../../../src/chains/btp/types.js';
import { initVerifierState, verifierConfig, verifyRelayMessage } from '../../../src/chains/btp/verifier.js';
import { firstBlock, makeValidators, NTID, SRC } from './helpers.js';

/**
 * Headers that break one rule each but are validly signed by the whole set:
 * the verifier must reject them on the rule, not on the signatures.
 */
const vs = makeValidators(4);
const addrs = vs.map((v) => v.address);
const config = verifierConfig({ srcNetworkUid: SRC, networkTypeId: NTID, backend: nativeBackend });
const { block: genesis, state: chain0 } = firstBlock(vs);
const state0 = initVerifierState(genesis.headerBytes);
const good = buildBlock(chain0, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [Uint8Array.of(1), Uint8Array.of(2)] })!.header;

function signedBy(h: BTPBlockHeader): EthProof {
  const d = headerDecisionHash(h, SRC, NTID);
  if (d === null) return { signatures: addrs.map(() => new Uint8Array(65)) };
  return { signatures: vs.map((v) => signDecision(d, v.key, nativeBackend)) };
}

function verifyHeader(h: BTPBlockHeader, proof: EthProof = signedBy(h)): string {
  try {
    verifyRelayMessage(state0, { items: [{ type: 1, blockUpdate: { header: h, proof } }] }, config);
    return 'OK';
  } catch (err) {
    if (isBridgeError(err)) return err.code;
    throw err;
  }
}

describe('verifier rules on validly signed but invalid headers', () => {
  it('the unmodified header passes', () => {
    expect(verifyHeader(good)).toBe('OK');
  });

  it.each<[string, Partial<BTPBlockHeader>, string]>([
    ['SN gap', { firstMessageSn: 1 }, 'BTP_SN_NOT_VERIFIABLE'],
    ['height not increasing', { mainHeight: 100 }, 'BTP_INVALID_HEIGHT'],
    ['messages without root', { messagesRoot: null }, 'BTP_INVALID_HEADER'],
    ['root without messages', { messageCount: 0 }, 'BTP_INVALID_HEADER'],
    ['flag without NextProofContext', { proofContextChanged: true }, 'BTP_INVALID_HEADER'],
    ['NextProofContext without flag', { nextProofContext: encodeProofContext({ validators: addrs }) }, 'BTP_INVALID_HEADER'],
    ['unchanged set with another hash', { nextProofContextHash: new Uint8Array(32) }, 'BTP_INVALID_PROOF_CONTEXT'],
    [
      'new set whose hash does not match',
      { proofContextChanged: true, nextProofContext: encodeProofContext({ validators: addrs.slice(1) }) },
      'BTP_INVALID_PROOF_CONTEXT',
    ],
    [
      'new set with a duplicate',
      {
        proofContextChanged: true,
        nextProofContext: encodeProofContext({ validators: [addrs[0]!, addrs[0]!] }),
        nextProofContextHash: proofContextHash({ validators: [addrs[0]!, addrs[0]!] }),
      },
      'BTP_INVALID_PROOF_CONTEXT',
    ],
    [
      'empty new set',
      { proofContextChanged: true, nextProofContext: encodeProofContext({ validators: [] }), nextProofContextHash: proofContextHash({ validators: [] }) },
      'BTP_INVALID_PROOF_CONTEXT',
    ],
    ['malformed NetworkSectionToRoot', { networkSectionToRoot: [{ dir: 0, value: null }] }, 'BTP_INVALID_HEADER'],
    ['another network', { networkId: 2 }, 'BTP_INVALID_NETWORK_ID'],
    ['another Prev', { prev: new Uint8Array(32) }, 'BTP_INVALID_PREV'],
  ])('%s -> %s', (_what, change, expected) => {
    expect(verifyHeader({ ...good, ...change })).toBe(expected);
  });

  it('a replayed SN (lower than the next one)', () => {
    const first = verifyRelayMessage(state0, { items: [{ type: 1, blockUpdate: { header: good, proof: signedBy(good) } }] }, config).state;
    const s = { ...first, nextMessageSn: 2, firstMessageSn: 0 };
    const next = buildBlock({ ...chain0, lastNetworkSectionHash: first.networkSectionHash, nextMessageSn: 1 }, { srcNetworkUid: SRC, networkTypeId: NTID, height: 102, messages: [Uint8Array.of(3)] })!.header;
    expect(() => verifyRelayMessage(s, { items: [{ type: 1, blockUpdate: { header: next, proof: signedBy(next) } }] }, config)).toThrowError(/BTP_SN_ALREADY_VERIFIED/);
  });

  it('proof with too few or too many slots', () => {
    const p = signedBy(good);
    expect(verifyHeader(good, { signatures: p.signatures.slice(1) })).toBe('BTP_PROOF_LENGTH_MISMATCH');
    expect(verifyHeader(good, { signatures: [...p.signatures, null] })).toBe('BTP_PROOF_LENGTH_MISMATCH');
  });

  it('signatures in the wrong slots do not count', () => {
    const p = signedBy(good);
    const rotated = { signatures: [p.signatures[1]!, p.signatures[2]!, p.signatures[3]!, p.signatures[0]!] };
    expect(verifyHeader(good, rotated)).toBe('BTP_LACK_QUORUM');
    expect(toHex(addrs[0]!)).not.toBe(toHex(addrs[1]!));
  });
});

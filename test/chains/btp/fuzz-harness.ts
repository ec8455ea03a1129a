import fc from 'fast-check';
import { expect } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { fromHex } from '../../../src/chains/btp/bytes.js';
import * as codec from '../../../src/chains/btp/codec.js';
import { networkSectionOf } from '../../../src/chains/btp/hashes.js';
import { decodeAny } from '../../../src/chains/btp/json.js';
import { rlpDecode, rlpEncode } from '../../../src/chains/btp/rlp.js';
import { initVerifierState, verifierConfig, verifyRelayMessage } from '../../../src/chains/btp/verifier.js';
import { nativeBackend } from '../../../src/chains/btp/secp256k1.js';
import { btpMessageArb, ethProofArb, headerArb, messageProofArb, proofContextArb, relayMessageArb, rlpItemArb } from './arbitraries.js';
import { loadScenario } from './vectors.js';

/**
 * Decoder fuzzing: random bytes and mutations of valid encodings. The only
 * acceptable failure is a BridgeError; anything a decoder accepts must
 * re-encode to exactly the input (canonical decoding).
 */
export interface FuzzTarget {
  name: string;
  /** Returns the re-encoding of what it accepted, or null when not applicable. */
  run(bytes: Uint8Array): Uint8Array | null;
  corpus(): Uint8Array[];
}

const sample = <T>(arb: fc.Arbitrary<T>, n: number): T[] => fc.sample(arb, { numRuns: n, seed: 42 });
const scenario = loadScenario();
const scenarioRelays = scenario.relayMessages.map((r) => fromHex(r.hex));

export const FUZZ_TARGETS: FuzzTarget[] = [
  { name: 'rlp', run: (b) => rlpEncode(rlpDecode(b)), corpus: () => [...sample(rlpItemArb, 100).map(rlpEncode), ...scenarioRelays] },
  {
    name: 'BTPBlockHeader',
    run: (b) => codec.encodeHeader(codec.decodeHeader(b)),
    corpus: () => [fromHex(scenario.firstBlockUpdate), ...sample(headerArb, 100).map(codec.encodeHeader)],
  },
  {
    name: 'NetworkSection',
    run: (b) => codec.encodeNetworkSection(codec.decodeNetworkSection(b)),
    corpus: () => sample(headerArb, 50).map((h) => codec.encodeNetworkSection(networkSectionOf(h))),
  },
  {
    name: 'NetworkTypeSection',
    run: (b) => codec.encodeNetworkTypeSection(codec.decodeNetworkTypeSection(b)),
    corpus: () => [codec.encodeNetworkTypeSection({ nextProofContextHash: new Uint8Array(32).fill(1), networkSectionsRoot: new Uint8Array(32).fill(2) })],
  },
  {
    name: 'NetworkTypeSectionDecision',
    run: (b) => codec.encodeDecision(codec.decodeDecision(b)),
    corpus: () => [codec.encodeDecision({ srcNetworkUid: '0x1.btc', dstNetworkTypeId: 2, height: 800_000, round: 0, networkTypeSectionHash: new Uint8Array(32).fill(3) })],
  },
  { name: 'ProofContext', run: (b) => codec.encodeProofContext(codec.decodeProofContext(b)), corpus: () => sample(proofContextArb, 50).map(codec.encodeProofContext) },
  { name: 'Proof', run: (b) => codec.encodeProof(codec.decodeProof(b)), corpus: () => sample(ethProofArb, 50).map(codec.encodeProof) },
  {
    name: 'MessageProof',
    run: (b) => codec.encodeMessageProof(codec.decodeMessageProof(b)),
    corpus: () => sample(messageProofArb, 80).map(codec.encodeMessageProof),
  },
  {
    name: 'BlockUpdate',
    run: (b) => codec.encodeBlockUpdate(codec.decodeBlockUpdate(b)),
    corpus: () => sample(fc.record({ header: headerArb, proof: ethProofArb }), 60).map(codec.encodeBlockUpdate),
  },
  {
    name: 'RelayMessage',
    run: (b) => codec.encodeRelayMessage(codec.decodeRelayMessage(b)),
    corpus: () => [...scenarioRelays, ...sample(relayMessageArb, 60).map(codec.encodeRelayMessage)],
  },
  { name: 'BTPMessage', run: (b) => codec.encodeBTPMessage(codec.decodeBTPMessage(b)), corpus: () => sample(btpMessageArb, 80).map(codec.encodeBTPMessage) },
  {
    name: 'MerklePath',
    run: (b) => {
      codec.decodeMerklePath(b);
      return null;
    },
    corpus: () => [codec.encodeMerklePath([{ dir: 1, value: null }, { dir: 0, value: new Uint8Array(32) }])],
  },
  {
    name: 'decodeAny',
    run: (b) => {
      decodeAny(b);
      return null;
    },
    corpus: () => [...scenarioRelays, fromHex(scenario.firstBlockUpdate)],
  },
  (() => {
    // the verifier on mutated relay messages from the published scenario
    const cfg = verifierConfig({ srcNetworkUid: scenario.srcNetworkUID, networkTypeId: scenario.networkTypeID, backend: nativeBackend });
    let state = initVerifierState(fromHex(scenario.firstBlockUpdate));
    const states = scenarioRelays.map((r) => {
      const before = state;
      state = verifyRelayMessage(state, r, cfg).state;
      return before;
    });
    let k = 0;
    return {
      name: 'verifier',
      run: (b: Uint8Array) => {
        verifyRelayMessage(states[k++ % states.length]!, b, cfg);
        return null;
      },
      corpus: () => scenarioRelays,
    };
  })(),
];

/** xorshift32: deterministic, fast, good enough to drive mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutate(input: Uint8Array, next: () => number, corpus: Uint8Array[]): Uint8Array {
  const b = Array.from(input);
  const ops = 1 + (next() % 3);
  for (let o = 0; o < ops; o++) {
    const pos = b.length === 0 ? 0 : next() % b.length;
    switch (next() % 8) {
      case 0:
        if (b.length) b[pos] = b[pos]! ^ (1 << (next() % 8));
        break;
      case 1:
        if (b.length) b[pos] = next() & 0xff;
        break;
      case 2:
        b.splice(pos, 0, next() & 0xff);
        break;
      case 3:
        b.splice(pos, 1 + (next() % 4));
        break;
      case 4:
        b.length = pos;
        break;
      case 5: {
        // interesting RLP prefixes
        const special = [0x00, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xf7, 0xf8, 0xf9, 0xff];
        if (b.length) b[pos] = special[next() % special.length]!;
        break;
      }
      case 6: {
        const other = corpus[next() % corpus.length]!;
        const from = other.length ? next() % other.length : 0;
        b.splice(pos, 0, ...other.subarray(from, from + 1 + (next() % 40)));
        break;
      }
      default:
        if (b.length) b.push(...b.slice(pos, pos + 1 + (next() % 8)));
    }
  }
  return Uint8Array.from(b);
}

export interface FuzzStats {
  cases: number;
  accepted: number;
}

export function fuzzTarget(target: FuzzTarget, cases: number, seed = 0x5eed): FuzzStats {
  const corpus = target.corpus();
  const next = rng(seed ^ target.name.length * 7919);
  let accepted = 0;
  for (let i = 0; i < cases; i++) {
    let input: Uint8Array;
    if (i % 4 === 0) {
      const len = next() % 96;
      input = new Uint8Array(len);
      for (let k = 0; k < len; k++) input[k] = next() & 0xff;
    } else {
      input = mutate(corpus[next() % corpus.length]!, next, corpus);
    }
    let again: Uint8Array | null;
    try {
      again = target.run(input);
    } catch (err) {
      if (!isBridgeError(err)) {
        throw new Error(`${target.name}: untyped ${String(err)} on input ${Buffer.from(input).toString('hex')}`);
      }
      continue;
    }
    accepted++;
    if (again !== null) expect(Buffer.from(again).toString('hex'), `${target.name} canonical`).toBe(Buffer.from(input).toString('hex'));
  }
  return { cases, accepted };
}

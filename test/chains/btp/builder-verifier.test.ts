import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { buildBlock, buildRelayMessages } from '../../../src/chains/btp/builder.js';
import { decodeRelayMessage, encodeRelayMessage } from '../../../src/chains/btp/codec.js';
import { nativeBackend } from '../../../src/chains/btp/secp256k1.js';
import { verifyRelayMessage, initVerifierState, verifierConfig, type VerifierState } from '../../../src/chains/btp/verifier.js';
import { fromHex } from '../../../src/chains/btp/bytes.js';
import { blockUpdate, errorCode, firstBlock, makeValidators, NTID, proofFor, SRC } from './helpers.js';
import { loadScenario } from './vectors.js';

const config = verifierConfig({ srcNetworkUid: SRC, networkTypeId: NTID, backend: nativeBackend });
const msg = (i: number): Uint8Array => new TextEncoder().encode(`deposit-${i}`);
const bigMsg = (i: number): Uint8Array => new TextEncoder().encode(`deposit-${i}-`.padEnd(120, '.'));


describe('builder -> signatures -> relay messages -> verifier', () => {
  it('delivers every message of a chain of blocks, split under a size limit, with a validator-set change', () => {
    const vs = makeValidators(4);
    const next = makeValidators(5, 2);
    const { block: genesis, state: s0 } = firstBlock(vs);
    let vstate: VerifierState = initVerifierState(genesis.headerBytes);
    expect(vstate.validators).toEqual(vs.map((v) => v.address));

    const b1 = buildBlock(s0, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: Array.from({ length: 13 }, (_, i) => bigMsg(i)) })!;
    expect(b1.header.proofContextChanged).toBe(false);
    expect(b1.header.nextProofContext).toBeNull();
    const relays = buildRelayMessages(blockUpdate(b1, proofFor(b1, vs.slice(0, 3), vs)), b1.messages, 700);
    expect(relays.length).toBeGreaterThan(3);
    const delivered: string[] = [];
    for (const [k, rm] of relays.entries()) {
      const bytes = encodeRelayMessage(rm);
      expect(bytes.length).toBeLessThanOrEqual(700);
      if (k < relays.length - 1) expect(bytes.length).toBeGreaterThan(400); // greedy: each one is well filled
      const res = verifyRelayMessage(vstate, bytes, config, vstate.nextMessageSn);
      delivered.push(...res.messages.map((m) => new TextDecoder().decode(m)));
      vstate = res.state;
    }
    expect(delivered).toEqual(b1.messages.map((m) => new TextDecoder().decode(m)));
    expect(vstate.nextMessageSn).toBe(13);

    // nothing to carry: no block
    expect(buildBlock(b1.nextState, { srcNetworkUid: SRC, networkTypeId: NTID, height: 102, messages: [] })).toBeNull();

    // validator-set change signed by the old set, then a block signed by the new one
    const b2 = buildBlock(b1.nextState, { srcNetworkUid: SRC, networkTypeId: NTID, height: 103, messages: [], nextValidators: next.map((v) => v.address) })!;
    expect(b2.header.proofContextChanged).toBe(true);
    const r2 = verifyRelayMessage(vstate, encodeRelayMessage(buildRelayMessages(blockUpdate(b2, proofFor(b2, vs, vs)), [], 10_000)[0]!), config);
    expect(r2.blocks[0]!.validatorsChanged).toBe(true);
    expect(r2.blocks[0]!.signers).toHaveLength(4);
    vstate = r2.state;
    expect(vstate.validators.map(toHex)).toEqual(next.map((v) => toHex(v.address)));

    const b3 = buildBlock(b2.nextState, { srcNetworkUid: SRC, networkTypeId: NTID, height: 104, messages: [msg(99)] })!;
    expect(b3.header.firstMessageSn).toBe(13);
    const old = proofFor(b3, vs, vs);
    const relayOld = buildRelayMessages(blockUpdate(b3, { signatures: [...old.signatures, null] }), b3.messages, 10_000)[0]!;
    expect(errorCode(() => verifyRelayMessage(vstate, relayOld, config))).toBe('BTP_LACK_QUORUM');
    const relayNew = buildRelayMessages(blockUpdate(b3, proofFor(b3, next.slice(2), next)), b3.messages, 10_000)[0]!;
    const r3 = verifyRelayMessage(vstate, relayNew, config);
    expect(r3.messages).toEqual([msg(99)]);
    expect(r3.blocks[0]!.signerIndexes).toEqual([2, 3, 4]);
  });

  it('quorum rules: N/2+1 by count by default, >2/3 on request', () => {
    const vs = makeValidators(6);
    const { block: genesis, state } = firstBlock(vs);
    const v0 = initVerifierState(genesis.headerBytes);
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [msg(1)] })!;
    const relay = (k: number): Uint8Array =>
      encodeRelayMessage(buildRelayMessages(blockUpdate(b, proofFor(b, vs.slice(0, k), vs)), b.messages, 10_000)[0]!);
    expect(errorCode(() => verifyRelayMessage(v0, relay(3), config))).toBe('BTP_LACK_QUORUM');
    expect(errorCode(() => verifyRelayMessage(v0, relay(4), config))).toBe('OK');
    const twoThirds = { ...config, quorum: 'twoThirds' as const };
    expect(errorCode(() => verifyRelayMessage(v0, relay(4), twoThirds))).toBe('BTP_LACK_QUORUM');
    expect(errorCode(() => verifyRelayMessage(v0, relay(5), twoThirds))).toBe('OK');
  });

  it('checks every signature: invalid ones are ignored, signers listed', () => {
    const vs = makeValidators(5);
    const { block: genesis, state } = firstBlock(vs);
    const v0 = initVerifierState(genesis.headerBytes);
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [msg(1)] })!;
    const proof = proofFor(b, vs, vs);
    // validator 0 signs something else, validator 3's slot carries validator 4's signature
    proof.signatures[0] = proofFor(buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 102, messages: [msg(1)] })!, vs, vs).signatures[0]!;
    proof.signatures[3] = proof.signatures[4]!;
    const res = verifyRelayMessage(v0, buildRelayMessages(blockUpdate(b, proof), b.messages, 10_000)[0]!, config);
    expect(res.blocks[0]!.signerIndexes).toEqual([1, 2, 4]);
  });

  it('tampering any byte of a relay message (header, proof or message) makes verification fail', () => {
    const vs = makeValidators(4);
    const { block: genesis, state } = firstBlock(vs);
    const v0 = initVerifierState(genesis.headerBytes);
    const b = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [msg(1), msg(2), msg(3)] })!;
    // exactly a quorum (3 of 4), so any broken signature drops below it
    const bytes = encodeRelayMessage(buildRelayMessages(blockUpdate(b, proofFor(b, vs.slice(1), vs)), b.messages, 10_000)[0]!);
    expect(errorCode(() => verifyRelayMessage(v0, bytes, config))).toBe('OK');
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const t = Uint8Array.from(bytes);
        t[i]! ^= mask;
        expect(errorCode(() => verifyRelayMessage(v0, t, config)), `byte ${i} ^ ${mask}`).not.toBe('OK');
      }
    }
  });

  it('rejects replays, gaps, wrong network, wrong prev and unexpected items', () => {
    const vs = makeValidators(3);
    const { block: genesis, state } = firstBlock(vs);
    const v0 = initVerifierState(genesis.headerBytes);
    const b1 = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 101, messages: [msg(1), msg(2)] })!;
    const full = buildRelayMessages(blockUpdate(b1, proofFor(b1, vs, vs)), b1.messages, 10_000)[0]!;
    const r1 = verifyRelayMessage(v0, full, config);
    // replay of the same relay message
    expect(errorCode(() => verifyRelayMessage(r1.state, full, config))).toBe('BTP_INVALID_PREV');
    // the block update alone, then the same message twice
    const onlyUpdate = { items: [full.items[0]!] };
    const mid = verifyRelayMessage(v0, onlyUpdate, config).state;
    const second = full.items[1]!;
    if (second.type !== 2) throw new Error('expected a MessageProof');
    const proof1 = { items: [second] };
    const after = verifyRelayMessage(mid, proof1, config).state;
    expect(errorCode(() => verifyRelayMessage(after, proof1, config))).toBe('BTP_UNEXPECTED_MESSAGE_PROOF');
    // a block update while messages remain
    const b2 = buildBlock(b1.nextState, { srcNetworkUid: SRC, networkTypeId: NTID, height: 102, messages: [msg(3)] })!;
    const relay2 = buildRelayMessages(blockUpdate(b2, proofFor(b2, vs, vs)), b2.messages, 10_000)[0]!;
    expect(errorCode(() => verifyRelayMessage(mid, relay2, config))).toBe('BTP_UNEXPECTED_BLOCK_UPDATE');
    // skipping block 1 entirely
    expect(errorCode(() => verifyRelayMessage(v0, relay2, config))).toBe('BTP_INVALID_PREV');
    // wrong source network / network type in the verifier config: decisions differ
    expect(errorCode(() => verifyRelayMessage(v0, full, { ...config, srcNetworkUid: '0x1.btc' }))).toBe('BTP_LACK_QUORUM');
    expect(errorCode(() => verifyRelayMessage(v0, full, { ...config, networkTypeId: 3 }))).toBe('BTP_LACK_QUORUM');
    expect(errorCode(() => verifyRelayMessage({ ...v0, networkId: 9 }, full, config))).toBe('BTP_INVALID_NETWORK_ID');
    expect(errorCode(() => verifyRelayMessage(v0, full, config, 5))).toBe('BTP_UNEXPECTED_SN');
    expect(errorCode(() => verifyRelayMessage(v0, { items: [] }, config))).toBe('BTP_EMPTY_RELAY_MESSAGE');
    // the input state is never modified by a failed or successful call
    expect(v0.nextMessageSn).toBe(0);
  });

  it('the published scenario survives byte tampering only where a redundant signature absorbs it', () => {
    const sc = loadScenario();
    const cfg = verifierConfig({ srcNetworkUid: sc.srcNetworkUID, networkTypeId: sc.networkTypeID, backend: nativeBackend });
    let state = initVerifierState(fromHex(sc.firstBlockUpdate));
    for (const rm of sc.relayMessages) {
      const bytes = fromHex(rm.hex);
      const good = verifyRelayMessage(state, bytes, cfg);
      const goodSigners = good.blocks.reduce((s, b) => s + b.signers.length, 0);
      for (let i = 0; i < bytes.length; i += 3) {
        const t = Uint8Array.from(bytes);
        t[i]! ^= 0x01;
        let res;
        try {
          res = verifyRelayMessage(state, t, cfg);
        } catch (err) {
          expect(isBridgeError(err)).toBe(true);
          continue;
        }
        // accepted only if one signature was spoiled and the rest still make quorum
        expect(res.messages).toEqual(good.messages);
        expect(res.blocks.reduce((s, b) => s + b.signers.length, 0)).toBe(goodSigners - 1);
        expect(decodeRelayMessage(t).items.length).toBe(decodeRelayMessage(bytes).items.length);
      }
      state = good.state;
    }
  });
});

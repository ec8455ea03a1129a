import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify, toUtf8String } from 'ethers';
import { deployContract } from '../../src/chains/ethereum/artifacts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { buildMessageProof, encodeRelayMessage, signDecision } from '../../src/chains/btp/index.js';
import { Federation, relayOf, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, expectRevert, mine, revertTo, snapshot, startEnv, stopEnv, testKeys, unpackMessages, type Env } from './helpers.js';

const ZERO = '0x0000000000000000000000000000000000000000';
const vec = JSON.parse(readFileSync(new URL('../../../shared/vectors/btp2-eth-bmv-scenario.json', import.meta.url), 'utf8')) as {
  srcNetworkUID: string; networkTypeID: number; firstBlockUpdate: string;
  relayMessages: { hex: string; seq: number; expectMessages: string[] }[];
  expectFinalState: { height: number; messageRoot: string; messageSn: number; messageCount: number; remainMessageCount: number; networkSectionHash: string; validators: string[] };
  initialValidators: string[];
};

describe('BtpMessageVerifier (eth type) on a real EVM', () => {
  let env: Env;
  let snap: string;
  let caller: Wallet; // plays the BMC
  beforeAll(async () => {
    env = await startEnv(4);
    caller = env.wallets[0]!;
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => { snap = await snapshot(env.provider); });
  afterEach(async () => revertTo(env.provider, snap));

  async function relay(bmv: Contract, prev: string, sn: number | bigint, hex: string): Promise<string[]> {
    const [blob, heights] = (await bmv.getFunction('handleRelayMessage').staticCall('btp://0x2.eth/bmc', prev, sn, hex)) as [string, bigint[]];
    await waitReceipt(env.provider, await bmv.getFunction('handleRelayMessage')('btp://0x2.eth/bmc', prev, sn, hex));
    const msgs = unpackMessages(blob);
    expect(heights).toHaveLength(msgs.length);
    return msgs;
  }

  it('replays the published btp2-solidity scenario with the expected messages and final state', async () => {
    const bmv = await deployContract(caller, env.provider, 'BtpMessageVerifier', [caller.address, caller.address, vec.srcNetworkUID, vec.networkTypeID, vec.firstBlockUpdate, ZERO]);
    expect((await bmv.getFunction('currentValidators')()).map((a: string) => a.toLowerCase())).toEqual(vec.initialValidators.map((a) => a.toLowerCase()));
    for (const rm of vec.relayMessages) {
      const msgs = await relay(bmv, `btp://${vec.srcNetworkUID}/0xsrc`, rm.seq, rm.hex);
      expect(msgs.map((m) => toUtf8String(getBytes(m)))).toEqual(rm.expectMessages);
    }
    const f = vec.expectFinalState;
    expect(await bmv.getFunction('getHeight')()).toBe(BigInt(f.height));
    expect(await bmv.getFunction('messageRoot')()).toBe(f.messageRoot);
    expect(await bmv.getFunction('getNextMessageSn')()).toBe(BigInt(f.messageSn));
    expect(await bmv.getFunction('getMessageCount')()).toBe(BigInt(f.messageCount));
    expect(await bmv.getFunction('getRemainMessageCount')()).toBe(BigInt(f.remainMessageCount));
    expect(await bmv.getFunction('networkSectionHash')()).toBe(f.networkSectionHash);
    expect((await bmv.getFunction('currentValidators')()).map((a: string) => a.toLowerCase())).toEqual(f.validators.map((a) => a.toLowerCase()));
  });

  it('replaying the scenario twice is a no-op the second time, not a revert', async () => {
    const bmv = await deployContract(caller, env.provider, 'BtpMessageVerifier', [caller.address, caller.address, vec.srcNetworkUID, vec.networkTypeID, vec.firstBlockUpdate, ZERO]);
    for (const rm of vec.relayMessages.slice(0, 2)) await relay(bmv, `btp://${vec.srcNetworkUID}/x`, rm.seq, rm.hex);
    const second = vec.relayMessages[1]!;
    const next = await bmv.getFunction('getNextMessageSn')();
    const msgs = await relay(bmv, `btp://${vec.srcNetworkUID}/x`, next, second.hex);
    expect(msgs).toEqual([]);
    expect(await bmv.getFunction('getHeight')()).toBe(20n);
  });

  describe('with a fednode federation of 4', () => {
    const keys = testKeys(4, 'bmv');
    let fed: Federation;
    let bmv: Contract;
    beforeEach(async () => {
      fed = new Federation(keys, 'btp://0x2.eth/bmc');
      bmv = await deployContract(caller, env.provider, 'BtpMessageVerifier', [caller.address, caller.address, SRC_UID, NETWORK_TYPE_ID, fed.genesis(100), ZERO]);
    });

    it('accepts a block signed by 3 of 4, records the participation bitmap and returns the messages', async () => {
      const payload = new TextEncoder().encode('hello');
      const b = fed.block(101, [payload], { signers: (_a, i) => i !== 2 });
      const msgs = await relay(bmv, SRC_BMC, 0, b.relay);
      expect(msgs).toHaveLength(1);
      const [signers, setId, acceptedAt] = await bmv.getFunction('blockRecord')(101);
      expect(signers).toBe(0b1011n);
      expect(setId).toBe(0n);
      expect(acceptedAt).toBeGreaterThan(0n);
      expect(await bmv.getFunction('decisionOf')(101)).toBe(b.decisionHash);
    });

    it('rejects a proof below the N/2+1 threshold', async () => {
      const b = fed.block(101, [new Uint8Array([1])], { signers: (_a, i) => i < 2 });
      const [votes, n] = await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, b.relay), 'QuorumNotReached');
      expect([votes, n]).toEqual([2n, 4n]);
    });

    it('ignores signatures by non-validators: they are not counted', async () => {
      const outsiders = testKeys(4, 'outsider');
      const b = fed.block(101, [new Uint8Array([1])], { signers: (_a, i) => i === 0, forge: new Map([[1, outsiders[0]!], [2, outsiders[1]!], [3, outsiders[2]!]]) });
      const [votes] = await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, b.relay), 'QuorumNotReached');
      expect(votes).toBe(1n);
    });

    it('a configurable threshold: 2/3 needs 3 of 4', async () => {
      await expectRevert((bmv.connect(env.wallets[1]!) as Contract).getFunction('setQuorum')(2, 3), 'Unauthorized');
      await expectRevert(bmv.getFunction('setQuorum')(1, 3), 'InvalidQuorum');
      await waitReceipt(env.provider, await bmv.getFunction('setQuorum')(2, 3));
      const b = fed.block(101, [new Uint8Array([1])], { signers: (_a, i) => i < 3 });
      expect(await relay(bmv, SRC_BMC, 0, b.relay)).toHaveLength(1);
    });

    it('a duplicate relay is a cheap no-op', async () => {
      const b = fed.block(101, Array.from({ length: 5 }, (_, i) => new Uint8Array([i + 1])));
      const first = await waitReceipt(env.provider, await bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, b.relay));
      const msgs = (await bmv.getFunction('handleRelayMessage').staticCall('b', SRC_BMC, 5, b.relay)) as [string, bigint[]];
      expect(msgs[0]).toBe('0x');
      expect(msgs[1]).toEqual([]);
      const dup = await waitReceipt(env.provider, await bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 5, b.relay));
      expect(dup.status).toBe(1);
      expect(dup.gasUsed * 2n).toBeLessThan(first.gasUsed);
    });

    it('a racing relay of the current block still delivers the part of its messages that is new', async () => {
      const msgs = Array.from({ length: 4 }, (_, i) => new Uint8Array([0x10 + i]));
      const b = fed.block(101, msgs);
      const ms = b.built.messages;
      const bu = { type: 1 as const, blockUpdate: { header: b.built.header, proof: { signatures: b.proofSigs } } };
      const firstHalf = hexlify(encodeRelayMessage({ items: [bu, { type: 2, messageProof: buildMessageProof(ms, 0, 2) }] }));
      expect(await relay(bmv, SRC_BMC, 0, firstHalf)).toHaveLength(2);
      // another relayer sends the whole block: the header is stale, only messages 3 and 4 are new
      const out = await relay(bmv, SRC_BMC, 2, b.relay);
      expect(out).toEqual(ms.slice(2).map((m) => hexlify(m)));
      expect(await bmv.getFunction('getRemainMessageCount')()).toBe(0n);
    });

    it('rejects a broken header chain, SN gaps, bad message proofs and unknown callers', async () => {
      const b1 = fed.block(101, [new Uint8Array([1])]);
      await expectRevert((bmv.connect(env.wallets[1]!) as Contract).getFunction('handleRelayMessage')('b', SRC_BMC, 0, b1.relay), 'NotBmc');
      await expectRevert(bmv.getFunction('handleRelayMessage')('b', 'btp://0x9.btc/x', 0, b1.relay), 'WrongSourceNetwork');
      await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 7, b1.relay), 'SequenceMismatch');
      // a block that skips b1 links to the wrong Prev
      const b2 = fed.block(102, [new Uint8Array([2])]);
      await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, b2.relay), 'PrevMismatch');
      await relay(bmv, SRC_BMC, 0, b1.relay);
      // a tampered message: the message proof no longer matches MessagesRoot
      const tampered = [...b2.built.messages];
      tampered[0] = fed.btpMessage(new Uint8Array([3]), 1);
      const bad = relayOf(b2.built, b2.proofSigs, tampered);
      await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 1, bad), 'InvalidMessageProof');
      await relay(bmv, SRC_BMC, 1, b2.relay);
      expect(await bmv.getFunction('getNextMessageSn')()).toBe(2n);
    });

    it('recordSignature: a late signature is recorded once, within the window, and only if valid', async () => {
      await waitReceipt(env.provider, await bmv.getFunction('setSignatureWindow')(10));
      const b = fed.block(101, [new Uint8Array([1])], { signers: (_a, i) => i !== 3 });
      await relay(bmv, SRC_BMC, 0, b.relay);
      const missing = hexlify(fed.state.validators[3]!).toLowerCase();
      const sig = hexlify(signDecision(getBytes(b.decisionHash), getBytes(fed.keys.get(missing)!)));
      const wrong = hexlify(signDecision(getBytes(b.decisionHash), getBytes(fed.keys.get(hexlify(fed.state.validators[0]!).toLowerCase())!)));
      await expectRevert(bmv.getFunction('recordSignature')(999, 3, sig), 'UnknownBlock');
      await expectRevert(bmv.getFunction('recordSignature')(101, 9, sig), 'ValidatorIndexOutOfRange');
      await expectRevert(bmv.getFunction('recordSignature')(101, 3, wrong), 'InvalidSignature');
      await expectRevert(bmv.getFunction('recordSignature')(101, 0, wrong), 'SignatureAlreadyRecorded');
      const r = await waitReceipt(env.provider, await (bmv.connect(env.wallets[2]!) as Contract).getFunction('recordSignature')(101, 3, sig));
      expect(r.logs).toHaveLength(1);
      expect(await bmv.getFunction('hasSigned')(101, 3)).toBe(true);
      await expectRevert(bmv.getFunction('recordSignature')(101, 3, sig), 'SignatureAlreadyRecorded');
      // a second block: the window closes after 10 home blocks
      const b2 = fed.block(102, [new Uint8Array([2])], { signers: (_a, i) => i !== 3 });
      await relay(bmv, SRC_BMC, 1, b2.relay);
      await mine(env.provider, 11);
      const sig2 = hexlify(signDecision(getBytes(b2.decisionHash), getBytes(fed.keys.get(missing)!)));
      await expectRevert(bmv.getFunction('recordSignature')(102, 3, sig2), 'SignatureWindowClosed');
    });

    it('switches the ProofContext on a header that carries one (standalone mode)', async () => {
      const newKeys = testKeys(3, 'next');
      fed.addKeys(newKeys);
      const b1 = fed.block(101, [], { nextValidators: newKeys.map((k) => new Wallet(k).address) });
      await relay(bmv, SRC_BMC, 0, b1.relay);
      expect(await bmv.getFunction('currentSetId')()).toBe(1n);
      const b2 = fed.block(102, [new Uint8Array([9])]);
      expect(await relay(bmv, SRC_BMC, 0, b2.relay)).toHaveLength(1);
    });
  });
});

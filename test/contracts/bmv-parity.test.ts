// The on-chain BMV and the TypeScript verifier (src/chains/btp/verifier.ts) must reach the same
// verdict on the same relay message and count the same signers (docs/BTP.md §6 rules 8–9):
// a signature with S > n/2 or V ∉ {0,1} is invalid and not counted, a proof whose slot count
// differs from the validator count is malformed.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Contract, Wallet, getBytes, hexlify } from 'ethers';
import { BtpVerifier, buildMessageProof, encodeHeader, encodeMessageProof, intItem, rlpEncode, verifierConfig, type RlpItem, type VerifierState } from '../../src/chains/btp/index.js';
import { verifyRelayMessage } from '../../src/chains/btp/verifier.js';
import { BridgeError } from '../../src/errors.js';
import { deployContract } from '../../src/chains/ethereum/artifacts.js';
import { waitReceipt } from '../../src/chains/ethereum/provider.js';
import { Federation, SRC_BMC, SRC_UID, NETWORK_TYPE_ID, expectRevert, relayOf, revertTo, snapshot, startEnv, stopEnv, testKeys, type Env } from './helpers.js';

const ZERO = '0x0000000000000000000000000000000000000000';
const DST_BMC = 'btp://0x7a69.eth/bmc';
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The malleable twin (n − S, V flipped): recovers the same key, but S > n/2. */
function highS(sig: Uint8Array): Uint8Array {
  const s = BigInt(hexlify(sig.subarray(32, 64)));
  const out = Uint8Array.from(sig);
  out.set(getBytes('0x' + (N - s).toString(16).padStart(64, '0')), 32);
  out[64] = sig[64]! ^ 1;
  return out;
}

/** The same signature with the Ethereum-style V = 27/28. */
function v27(sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig);
  out[64] = sig[64]! + 27;
  return out;
}

/** TS error code → the BMV custom error for the same rule. */
const CONTRACT_ERROR: Record<string, string> = {
  RLP_WRONG_TYPE: 'RlpNotBytes',
  BTP_PROOF_LENGTH_MISMATCH: 'ProofLengthMismatch',
  BTP_LACK_QUORUM: 'QuorumNotReached',
};

type Slots = (Uint8Array | null)[];

describe('BMV ↔ TypeScript verifier parity on crafted proofs', () => {
  let env: Env;
  let snap: string;
  let admin: Wallet;
  let fed: Federation;
  let bmv: Contract; // standalone, the admin plays the BMC
  let saved: Federation['state'];
  let tsState: VerifierState;
  const config = verifierConfig({ srcNetworkUid: SRC_UID, networkTypeId: NETWORK_TYPE_ID });
  const keys = testKeys(4, 'parity');

  beforeAll(async () => {
    env = await startEnv(2);
    admin = env.wallets[0]!;
    fed = new Federation(keys, DST_BMC);
    const genesis = fed.genesis(10);
    bmv = await deployContract(admin, env.provider, 'BtpMessageVerifier', [admin.address, admin.address, SRC_UID, NETWORK_TYPE_ID, genesis, ZERO]);
    tsState = new BtpVerifier(getBytes(genesis), config).state;
    saved = fed.state;
  });
  afterAll(async () => stopEnv(env));
  beforeEach(async () => { snap = await snapshot(env.provider); fed.state = saved; });
  afterEach(async () => revertTo(env.provider, snap));

  /** Builds block 11 (one message, all four sign) and lets `craft` rewrite the proof slots. */
  function crafted(craft: (sigs: Uint8Array[]) => Slots): string {
    const b = fed.block(11, [Uint8Array.of(1)]);
    const sigs = b.proofSigs.map((s) => s!);
    expect(sigs).toHaveLength(4);
    return relayOf(b.built, craft(sigs), b.built.messages);
  }

  /** Like {@link crafted}, with raw RLP items as slots (lists where a signature belongs). */
  function craftedRaw(craft: (sigs: Uint8Array[]) => RlpItem[]): string {
    const b = fed.block(11, [Uint8Array.of(1)]);
    const sigs = b.proofSigs.map((s) => s!);
    const proof = rlpEncode([craft(sigs)]);
    const mp = encodeMessageProof(buildMessageProof(b.built.messages, 0, b.built.messages.length));
    return hexlify(rlpEncode([[[intItem(1), rlpEncode([encodeHeader(b.built.header), proof])], [intItem(2), mp]]]));
  }

  /** Both verdicts; asserts they agree and returns the counted signer indexes (or the error code). */
  async function bothVerdicts(relay: string): Promise<{ signers: number[] } | { error: string }> {
    let ts: { signers: number[] } | { error: string };
    try {
      const r = verifyRelayMessage(tsState, getBytes(relay), config, 0);
      ts = { signers: r.blocks[0]!.signerIndexes };
      expect(r.messages).toHaveLength(1);
    } catch (e) {
      expect(e).toBeInstanceOf(BridgeError);
      ts = { error: (e as BridgeError).code };
    }
    if ('error' in ts) {
      const name = CONTRACT_ERROR[ts.error];
      expect(name, `no contract error for ${ts.error}`).toBeDefined();
      await expectRevert(bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, relay), name!);
      expect(await bmv.getFunction('getHeight')()).toBe(10n);
      return ts;
    }
    await waitReceipt(env.provider, await bmv.getFunction('handleRelayMessage')('b', SRC_BMC, 0, relay));
    const [bitmap] = (await bmv.getFunction('blockRecord')(11)) as [bigint, bigint, bigint];
    const onChain = [0, 1, 2, 3].filter((i) => (bitmap >> BigInt(i)) & 1n);
    expect(onChain).toEqual(ts.signers);
    return ts;
  }

  it('all four valid: both accept with every signer', async () => {
    expect(await bothVerdicts(crafted((s) => s))).toEqual({ signers: [0, 1, 2, 3] });
  });

  it('a high-S twin is invalid and not counted on both sides (and refused by recordSignature)', async () => {
    let twin: Uint8Array | undefined;
    let valid: Uint8Array | undefined;
    const relay = crafted((s) => {
      valid = s[0];
      twin = highS(s[0]!);
      return [twin, s[1]!, s[2]!, s[3]!];
    });
    expect(await bothVerdicts(relay)).toEqual({ signers: [1, 2, 3] });
    await expectRevert(bmv.getFunction('recordSignature')(11, 0, twin), 'InvalidSignature');
    await waitReceipt(env.provider, await bmv.getFunction('recordSignature')(11, 0, valid));
    expect(await bmv.getFunction('hasSigned')(11, 0)).toBe(true);
  });

  it('V = 27/28 is invalid and not counted on both sides', async () => {
    expect(await bothVerdicts(crafted((s) => [s[0]!, v27(s[1]!), s[2]!, s[3]!]))).toEqual({ signers: [0, 2, 3] });
  });

  it('a duplicate signature in another validator\'s slot counts once, for its own slot', async () => {
    expect(await bothVerdicts(crafted((s) => [s[0]!, s[0]!, s[2]!, s[3]!]))).toEqual({ signers: [0, 2, 3] });
  });

  it('a 64-byte signature and a nil slot are ignored on both sides', async () => {
    expect(await bothVerdicts(crafted((s) => [s[0]!, s[1]!.subarray(0, 64), s[2]!, s[3]!]))).toEqual({ signers: [0, 2, 3] });
    fed.state = saved;
    await revertTo(env.provider, snap);
    snap = await snapshot(env.provider);
    expect(await bothVerdicts(crafted((s) => [null, s[1]!, s[2]!, s[3]!]))).toEqual({ signers: [1, 2, 3] });
  });

  it('a list where a signature belongs (other than nil 0xf800) is malformed on both sides', async () => {
    // sanity: the raw builder with nil reproduces an accepted relay
    expect(await bothVerdicts(craftedRaw((s) => [null, s[1]!, s[2]!, s[3]!]))).toEqual({ signers: [1, 2, 3] });
    await revertTo(env.provider, snap);
    snap = await snapshot(env.provider);
    fed.state = saved;
    expect(await bothVerdicts(craftedRaw((s) => [[], s[1]!, s[2]!, s[3]!]))).toEqual({ error: 'RLP_WRONG_TYPE' });
    fed.state = saved;
    expect(await bothVerdicts(craftedRaw((s) => [s[0]!, [s[1]!], s[2]!, s[3]!]))).toEqual({ error: 'RLP_WRONG_TYPE' });
  });

  it('a proof shorter than the validator set is malformed on both sides, even with a quorum in it', async () => {
    expect(await bothVerdicts(crafted((s) => s.slice(0, 3)))).toEqual({ error: 'BTP_PROOF_LENGTH_MISMATCH' });
  });

  it('a proof longer than the validator set is malformed on both sides (nil or signed extra slot)', async () => {
    expect(await bothVerdicts(crafted((s) => [...s, null]))).toEqual({ error: 'BTP_PROOF_LENGTH_MISMATCH' });
    fed.state = saved;
    expect(await bothVerdicts(crafted((s) => [...s, s[0]!]))).toEqual({ error: 'BTP_PROOF_LENGTH_MISMATCH' });
  });

  it('high-S and V = 27 slots leave two valid votes of four: both reject for lack of quorum', async () => {
    expect(await bothVerdicts(crafted((s) => [highS(s[0]!), v27(s[1]!), s[2]!, s[3]!]))).toEqual({ error: 'BTP_LACK_QUORUM' });
  });
});

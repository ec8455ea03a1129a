import { keccak256, toHex } from '../../../src/chains/btp/bytes.js';
import { assembleProof, buildBlock, sortValidators, type BtpChainState, type BuiltBlock } from '../../../src/chains/btp/builder.js';
import { nativeBackend } from '../../../src/chains/btp/secp256k1.js';
import { addressFromSecretKey, signDecision } from '../../../src/chains/btp/sign.js';
import type { BlockUpdate, EthProof } from '../../../src/chains/btp/types.js';
import { isBridgeError } from '../../../src/errors.js';

export const SRC = '0x3.btc';
export const NTID = 2;
export const NID = 1;

export interface TestValidator {
  key: Uint8Array;
  address: Uint8Array;
}

/** `n` deterministic validators in ProofContext (ascending address) order. */
export function makeValidators(n: number, seed = 1): TestValidator[] {
  const vs = Array.from({ length: n }, (_, i) => {
    const key = keccak256(new TextEncoder().encode(`validator-${seed}-${i}`));
    return { key, address: addressFromSecretKey(key, nativeBackend) };
  });
  const order = sortValidators(vs.map((v) => v.address)).map(toHex);
  return order.map((a) => vs.find((v) => toHex(v.address) === a)!);
}

/** Signatures of the first `count` validators (by ProofContext position) over a block's decision. */
export function proofFor(block: BuiltBlock, signers: readonly TestValidator[], all: readonly TestValidator[]): EthProof {
  const by = new Map(signers.map((v) => [toHex(v.address), signDecision(block.decisionHash, v.key, nativeBackend)]));
  return assembleProof(
    all.map((v) => v.address),
    by,
  );
}

export function firstBlock(validators: readonly TestValidator[]): { block: BuiltBlock; state: BtpChainState } {
  const state: BtpChainState = { networkId: NID, lastNetworkSectionHash: null, nextMessageSn: 0, validators: validators.map((v) => v.address) };
  const block = buildBlock(state, { srcNetworkUid: SRC, networkTypeId: NTID, height: 100, messages: [] })!;
  return { block, state: block.nextState };
}

export function blockUpdate(block: BuiltBlock, proof: EthProof): BlockUpdate {
  return { header: block.header, proof };
}

/** 'OK' when `fn` returns, else the BridgeError code it threw (anything else is rethrown). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
    return 'OK';
  } catch (err) {
    if (isBridgeError(err)) return err.code;
    throw err;
  }
}

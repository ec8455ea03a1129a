import { Transaction } from 'bitcoinjs-lib';
import { sha256 } from '@noble/hashes/sha2.js';
import { addressFromSecretKey } from '../../src/chains/btp/sign.js';
import { nobleBackend } from '../../src/chains/btp/secp256k1.js';
import { buildBlock, sortValidators, type BtpChainState } from '../../src/chains/btp/builder.js';
import { compareBytes, toHex } from '../../src/chains/btp/bytes.js';
import { encodeDepositOpReturn } from '../../src/chains/bitcoin/deposits.js';
import { payoutOpReturn } from '../../src/chains/bitcoin/payout.js';
import { federationScript } from '../../src/chains/bitcoin/scripts.js';
import type { DerivationConfig } from '../../src/consensus/derivation.js';
import type { EpochInfo, HomeSnapshot } from '../../src/consensus/home-state.js';
import { testKeys, type TestKey } from '../fixtures/bitcoin/keys.js';

export const CONFIG: DerivationConfig = {
  srcNetworkUid: '0x10.btc',
  networkTypeId: 2,
  srcBtpAddress: 'btp://0x10.btc/federation',
  dstBtpAddress: 'btp://0x7a69.eth/0x5fbdb2315678afecb367f032d93f642f64180aa3',
};
export const NETWORK_ID = 1;

export interface Validator {
  readonly key: TestKey;
  readonly address: Uint8Array;
  readonly addressHex: string;
}

/** Validators sorted by address (ProofContext order). */
export function validators(n: number, salt = 'val'): Validator[] {
  return testKeys(n, salt)
    .map((key) => {
      const address = addressFromSecretKey(key.privateKey, nobleBackend);
      return { key, address, addressHex: toHex(address) };
    })
    .sort((a, b) => compareBytes(a.address, b.address));
}

export function epochOf(epoch: number, vals: readonly Validator[], activationTime: number, activationHeight?: number, over: Partial<EpochInfo> = {}): EpochInfo {
  const m = Math.floor(vals.length / 2) + 1;
  return {
    epoch,
    validators: sortValidators(vals.map((v) => v.address)),
    script: federationScript({ keys: vals.map((v) => v.key.publicKey), threshold: m, epoch }),
    activationTime,
    ...(activationHeight !== undefined ? { activationHeight } : {}),
    minDepositSats: 10_000n,
    oldAddressWindow: 6,
    ...over,
  };
}

export function snapshot(epochs: EpochInfo[], viewTime: number, margin = 3_600): HomeSnapshot {
  return { viewTime, epochs, schedulingMarginSeconds: margin };
}

/** The chain state right after a genesis header at `height` signed by nobody (the BMV's constructor argument). */
export function genesisChain(vals: readonly Validator[], height: number): { state: BtpChainState; headerBytes: Uint8Array } {
  const empty: BtpChainState = { networkId: NETWORK_ID, lastNetworkSectionHash: null, nextMessageSn: 0, validators: sortValidators(vals.map((v) => v.address)) };
  const b = buildBlock(empty, { srcNetworkUid: CONFIG.srcNetworkUid, networkTypeId: CONFIG.networkTypeId, height, messages: [] })!;
  return { state: b.nextState, headerBytes: b.headerBytes };
}

let seq = 0;
/** A fresh pseudo-random 32-byte outpoint hash (internal order). */
export function randomHash(tag = `h${seq++}`): Uint8Array {
  return sha256(new TextEncoder().encode(tag));
}

export function coinbase(height: number): Transaction {
  const tx = new Transaction();
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(0x03, height & 0xff, (height >> 8) & 0xff, 0));
  tx.addOutput(Uint8Array.of(0x51), 50n);
  return tx;
}

export interface Out {
  script: Uint8Array;
  value: bigint;
}

export function tx(inputs: { hash: Uint8Array; index: number }[], outs: Out[]): Transaction {
  const t = new Transaction();
  t.version = 2;
  for (const i of inputs) t.addInput(i.hash, i.index, 0xfffffffd);
  for (const o of outs) t.addOutput(o.script, o.value);
  return t;
}

export const P2WPKH = (tag: number): Uint8Array => Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(tag));
export const depositMeta = (recipient: Uint8Array, refundScript?: Uint8Array): Out => ({ script: encodeDepositOpReturn({ recipient, ...(refundScript ? { refundScript } : {}) }), value: 0n });
export const payoutTag = (batchId: bigint): Out => ({ script: payoutOpReturn(batchId), value: 0n });

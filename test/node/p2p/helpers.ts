import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createLocalEnvelopeSigner, type EnvelopeSigner } from '../../../src/node/p2p/envelope.js';
import type { Attestation, Heartbeat, PayoutWitness, ReobservationRequest } from '../../../src/node/p2p/messages.js';
import { signDigest } from '../../../src/node/p2p/secp256k1-native.js';

/** Random bytes as a plain Uint8Array (Buffers compare unequal to decoded bytes). */
export function rand(n: number): Uint8Array {
  return Uint8Array.from(randomBytes(n));
}

/** Everything one test validator needs: network key, signing key, derived ids. */
export interface TestIdentity {
  networkKey: Ed25519PrivateKey;
  peerId: string;
  peerIdBytes: Uint8Array;
  signingKey: Uint8Array;
  signer: EnvelopeSigner;
  address: string;
}

export async function makeIdentity(): Promise<TestIdentity> {
  const networkKey = await generateKeyPair('Ed25519');
  const pid = peerIdFromPrivateKey(networkKey);
  const signingKey = rand(32);
  const signer = createLocalEnvelopeSigner(signingKey);
  return {
    networkKey,
    peerId: pid.toString(),
    peerIdBytes: pid.toMultihash().bytes,
    signingKey,
    signer,
    address: `0x${Buffer.from(signer.address).toString('hex')}`,
  };
}

export function validatorEntry(id: TestIdentity): { address: string; peerId: string } {
  return { address: id.address, peerId: id.peerId };
}

export function attestation(id: TestIdentity, height: bigint, decisionHash: Uint8Array = rand(32)): Attestation {
  return { height, decisionHash, networkTypeSectionHash: rand(32), signature: signDigest(decisionHash, id.signingKey) };
}

export function payoutWitness(id: TestIdentity, batchId = 7n): PayoutWitness {
  return {
    batchId,
    version: 1n,
    txid: rand(32),
    inputs: [0, 2, 5].map((index) => ({ index, signature: signDigest(rand(32), id.signingKey) })),
  };
}

export function heartbeat(homeHeight = 100n): Heartbeat {
  return { softwareVersion: 'fednode/0.1.0', homeHeight, foreignHeight: 800_000n, lastSignedHeight: 799_990n };
}

export function reobserveRange(fromHeight = 10n, toHeight = 20n): ReobservationRequest {
  return { chain: 'foreign', fromHeight, toHeight, itemIds: [] };
}

export async function tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'fednode-p2p-'));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Poll `cond` every `stepMs` until true or `timeoutMs` elapsed; returns the last value. */
export async function waitFor(cond: () => boolean, timeoutMs = 20_000, stepMs = 50): Promise<boolean> {
  const steps = Math.ceil(timeoutMs / stepMs);
  for (let i = 0; i < steps; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

/** Like {@link waitFor} for conditions that must be computed asynchronously (metrics). */
export async function waitForAsync(cond: () => Promise<boolean>, timeoutMs = 20_000, stepMs = 50): Promise<boolean> {
  const steps = Math.ceil(timeoutMs / stepMs);
  for (let i = 0; i < steps; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

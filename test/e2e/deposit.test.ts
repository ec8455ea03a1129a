import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { decodeProof } from '../../src/chains/btp/codec.js';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { SignLog } from '../../src/node/signlog/signlog.js';
import { createLocalEnvelopeSigner, createP2pHost } from '../../src/node/p2p/index.js';
import { metricValue } from '../node/p2p/cluster.js';
import { FAST_P2P, startHarness, waitFor, type Harness } from './harness.js';

/**
 * The deposit path end to end with 4 validators in one process: a deposit on bcoin regtest
 * becomes BTCT on the EVM chain, through derivation, signing, gossip, aggregation and one relay.
 * Then one validator stops and the other three still reach quorum (3 of 4).
 */
describe('4 validators: Bitcoin deposit → BTCT', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ validators: 4, confirmations: 2 });
    await Promise.all(h.nodes.map((_, i) => h.startNode(i)));
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('mints the deposit on the home chain, every validator signed once, the proof is served', async () => {
    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-recipient-1'))).address;
    await h.deposit(recipient, 250_000n);
    await h.mine(2);
    const mined = Date.now();
    await waitFor(async () => (await h.balance(recipient)) > 0n, 45_000, 'BTCT minted');
    console.log(`deposit minted ${Date.now() - mined} ms after the k-th confirmation`);
    expect(await h.balance(recipient)).toBe(250_000n);

    const height = Number(await h.bmv.getFunction('getHeight')());
    await waitFor(async () => {
      const st = await Promise.all(h.nodes.map((x) => x.validator!.status()));
      return st.every((s) => s.btp.lastRelayedHeight === height);
    }, 15_000, 'every validator sees the relay accepted');
    const statuses = await Promise.all(h.nodes.map((x) => x.validator!.status()));
    for (const s of statuses) {
      expect(s.btp.lastSignedHeight).toBe(height);
      expect(s.signatures.btp).toBe(1);
      expect(s.pending.btpBlocks).toBe(0);
      expect(s.p2p.peers).toBe(3);
      expect(s.validator).toMatch(/^0x[0-9a-f]{40}$/);
    }
    // The BTP JSON-RPC store has the block with a proof carrying at least a quorum.
    const stored = await h.nodes[0]!.validator!.btpStore.block(h.deployed.genesis.networkId, height);
    expect(stored?.messages).toHaveLength(1);
    const sigs = decodeProof(stored!.proof!).signatures.filter((s) => s !== null);
    expect(sigs.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a peer the registry does not know, and lowers the score of a validator that gossips garbage', async () => {
    const target = h.nodes[0]!;
    const stranger = await createP2pHost({
      network: h.deployed.genesis.network,
      privateKey: await generateKeyPair('Ed25519'),
      signer: createLocalEnvelopeSigner(Uint8Array.from(Buffer.from(keccak256(toUtf8Bytes('stranger')).slice(2), 'hex'))),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      allowlist: { validators: [], observers: [target.peerId] },
      ...FAST_P2P,
    });
    await stranger.start();
    try {
      await stranger.dial(`/ip4/127.0.0.1/tcp/${target.port}/p2p/${target.peerId}`).catch(() => undefined);
      await waitFor(async () => (await metricValue(target.metrics.registry, 'fednode_p2p_gater_denied_total', { reason: 'not-allowlisted' })) > 0, 10_000, 'the gater to refuse the stranger');
      expect(target.validator!.services.p2p.connectedPeers()).not.toContain(stranger.peerId);
    } finally {
      await stranger.stop();
    }

    const byzantine = h.nodes[2]!.validator!.services.p2p;
    const victim = target.validator!.services.p2p;
    expect(victim.peerScore(byzantine.peerId)).toBeGreaterThanOrEqual(0);
    await byzantine.publishRaw('attestation', Uint8Array.of(0xc3, 0x01, 0x02, 0x03));
    await waitFor(() => victim.peerScore(byzantine.peerId) < 0, 10_000, 'the garbage sender to lose score');
  });

  it('with one validator stopped the other three still reach quorum and relay', async () => {
    await h.stopNode(3);
    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-recipient-2'))).address;
    await h.deposit(recipient, 120_000n);
    await h.mine(2);
    await waitFor(async () => (await h.balance(recipient)) === 120_000n, 45_000, 'second deposit minted');
    const height = Number(await h.bmv.getFunction('getHeight')());
    for (const x of h.nodes.slice(0, 3)) {
      const log = new SignLog(x.db!);
      expect((await log.contents()).btp.map((e) => e.height)).toContain(height);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { decodeProof } from '../../src/chains/btp/codec.js';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { BitcoinRpcClient } from '../../src/chains/bitcoin/rpc.js';
import { keccak256 as keccak } from '../../src/chains/btp/bytes.js';
import { decisionHash as hashDecision } from '../../src/chains/btp/hashes.js';
import { signDecision } from '../../src/chains/btp/sign.js';
import { stakeValidator } from '../../src/chains/ethereum/contracts.js';
import { peerIdBytes } from '../../src/node/devnet/deploy.js';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { SignLog } from '../../src/node/signlog/signlog.js';
import { createLocalEnvelopeSigner, createP2pHost } from '../../src/node/p2p/index.js';
import { metricValue } from '../node/p2p/cluster.js';
import { FAST_P2P, freePort, startHarness, waitFor, type Harness } from './harness.js';

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
    // Heartbeats: each validator hears the others' chain heights.
    await waitFor(async () => (await h.nodes[0]!.validator!.status()).p2p.heartbeats.length === 3, 10_000, 'heartbeats from the 3 peers');
    const hb = (await h.nodes[0]!.validator!.status()).p2p.heartbeats;
    expect(hb.every((x) => x.softwareVersion.startsWith('fednode/') && x.foreignHeight > 0 && x.homeHeight > 0)).toBe(true);
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

  it('admits a validator that registers later (waiting for its epoch) once the registry shows it', async () => {
    const p2p = h.nodes[0]!.validator!.services.p2p;
    expect(p2p.status().allowlistSize).toBe(4);
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    await stakeValidator(h.deployed.registry, h.provider, {
      operator: new Wallet(h.chain.accounts[h.nodes.length + 1]!, h.provider),
      signingKey: keccak256(toUtf8Bytes('e2e-latecomer')),
      peerId: peerIdBytes(peerId),
      amountWei: 10n ** 18n,
    });
    await waitFor(() => p2p.status().allowlistSize === 5, 15_000, 'the allowlist to include the new registration');
    expect(h.nodes[0]!.validator!.services.homeView.allowlist?.validators.map((v) => v.peerId)).toContain(peerId);
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

  it('a restarted validator whose Bitcoin RPC is down is not ready, and says why', async () => {
    const dead = new BitcoinRpcClient({ url: `http://127.0.0.1:${await freePort()}/`, retries: 0, timeoutMs: 500 });
    await h.startNode(3, { bitcoinRpc: dead }); // resumes from its database: no Bitcoin call needed to start
    const x = h.nodes[3]!;
    const report = await waitFor(async () => {
      const r = await x.health.report();
      return r.checks.find((c) => c.name === 'bitcoin' && !c.ok && /BTC_RPC/.test(c.detail ?? '')) ? r : undefined;
    }, 15_000, 'the bitcoin readiness check to fail');
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.name === 'ethereum-rpc')?.ok).toBe(true);
  });

  it('a validator that signs a second decision at a height is rejected, and the equivocation is kept as evidence', async () => {
    await h.stopNode(1); // nodes 0 and 2 remain with a working Bitcoin RPC: 2 of 4, the height stays open
    const recipient = new Wallet(keccak256(toUtf8Bytes('e2e-recipient-3'))).address;
    await h.deposit(recipient, 90_000n);
    await h.mine(1);
    const height = await h.btc.rpc.getBlockCount();
    await h.mine(1);
    const honest = h.nodes[0]!.validator!;
    const byzantine = h.nodes[2]!.validator!;
    await waitFor(async () => honest.pipeline.signatureCount(height) === 2 && (await byzantine.status()).btp.lastSignedHeight === height, 15_000, 'both to sign the block and exchange signatures');

    const nts = keccak(toUtf8Bytes('another NetworkTypeSection'));
    const { srcNetworkUid, networkTypeId } = h.deployed.genesis;
    const other = hashDecision({ srcNetworkUid, dstNetworkTypeId: networkTypeId, height, round: 0, networkTypeSectionHash: nts });
    expect(byzantine.services.p2p.publish('attestation', { height: BigInt(height), decisionHash: other, networkTypeSectionHash: nts, signature: signDecision(other, getBytes(h.nodes[2]!.signingKey)) })).toBe(true);
    const registry = h.nodes[0]!.metrics.registry;
    await waitFor(async () => (await metricValue(registry, 'fednode_consensus_equivocations_total', { kind: 'btp' })) === 1, 10_000, 'the equivocation evidence');
    expect(await metricValue(registry, 'fednode_validator_attestations_total', { result: 'equivocation' })).toBe(1);
    expect(honest.pipeline.signatureCount(height)).toBe(2);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, getBytes, hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { startBcoinRegtest, type BcoinRegtestNode } from '../../../src/chains/bitcoin/regtest/bcoin-node.js';
import { RegtestFaucet } from '../../../src/chains/bitcoin/regtest/faucet.js';
import { startDevChain, type DevChain } from '../../../src/chains/ethereum/devchain.js';
import { createProvider } from '../../../src/chains/ethereum/provider.js';
import { decodeHeader } from '../../../src/chains/btp/codec.js';
import { configSchema } from '../../../src/node/config/schema.js';
import { parseGenesis } from '../../../src/node/genesis/genesis.js';
import { deployFederation, federationThreshold, peerIdBytes, type DeployedFederation } from '../../../src/node/devnet/deploy.js';

describe('deployFederation on a real dev chain and bcoin regtest', () => {
  let chain: DevChain;
  let btc: BcoinRegtestNode;
  let faucet: RegtestFaucet;
  let provider: ReturnType<typeof createProvider>;
  let deployed: DeployedFederation;
  let validators: { signingKey: string; operatorKey: string; peerId: string }[];
  const steps: string[] = [];

  beforeAll(async () => {
    [chain, btc] = await Promise.all([startDevChain({ accounts: 6 }), startBcoinRegtest()]);
    provider = createProvider(chain.rpcUrl, chain.chainId);
    faucet = new RegtestFaucet(btc.rpc, btc.network, getBytes(keccak256(toUtf8Bytes('deploy-test-faucet'))));
    await faucet.bootstrap();
    validators = await Promise.all(
      [1, 2, 3, 4].map(async (i) => ({
        signingKey: keccak256(toUtf8Bytes(`deploy-test-signing-${i}`)),
        operatorKey: chain.accounts[i]!,
        peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
      })),
    );
    deployed = await deployFederation({
      deployer: new Wallet(chain.accounts[0]!, provider),
      provider,
      bitcoin: { rpc: btc.rpc, faucet },
      validators,
      onStep: (s) => steps.push(s),
    });
  }, 120_000);

  afterAll(async () => {
    provider?.destroy();
    await Promise.all([chain?.stop(), btc?.stop()]);
  });

  it('epoch 0 on the registry is the staked set, with the registered peer ids', async () => {
    const expected = validators.map((v) => new Wallet(v.signingKey).address.toLowerCase()).sort();
    const [signers, , , peerIds] = (await deployed.registry.getFunction('epochDetails')(0n)) as [string[], string[], bigint[], string[]];
    expect(signers.map((a) => a.toLowerCase())).toEqual(expected);
    expect(deployed.genesis.epoch0.validators).toEqual(expected);
    expect(deployed.genesis.epoch0.threshold).toBe(federationThreshold(4));
    expect(federationThreshold(4)).toBe(3);
    const byAddr = new Map(validators.map((v) => [new Wallet(v.signingKey).address.toLowerCase(), peerIdBytes(v.peerId)]));
    signers.forEach((s, i) => expect(peerIds[i]).toBe(byAddr.get(s.toLowerCase())));
    expect(steps.at(-1)).toBe('federation deployed');
  });

  it('writes a genesis that parses, whose contracts have code and whose first header carries epoch 0', async () => {
    const g = parseGenesis(JSON.parse(deployed.genesisJson));
    expect(g).toEqual(deployed.genesis);
    expect(g.chainId).toBe(chain.chainId);
    expect(g.srcNetworkUid).toBe('0x10.btc');
    expect(g.derivation).toEqual({ minDepositSats: 10_000, oldAddressWindow: 6 });
    // Events are read from before the registry existed.
    expect(await provider.getCode(g.contracts.staking, g.homeStartBlock!)).toBe('0x');
    expect(g.dstBtpAddress).toBe(`btp://0x7a69.eth/${g.contracts.bmc}`);
    for (const addr of Object.values(g.contracts)) expect((await provider.getCode(addr)).length, addr).toBeGreaterThan(2);
    // The Slasher is wired into the registry (not part of the genesis).
    expect(deployed.addresses.slasher).toMatch(/^0x[0-9a-f]{40}$/);
    expect(deployed.slasherAddress).toBe(deployed.addresses.slasher);
    expect(((await deployed.registry.getFunction('slasher')()) as string).toLowerCase()).toBe(deployed.slasherAddress);
    // The addresses are a valid ethereum.contracts config section.
    expect(configSchema.parse({ ethereum: { contracts: deployed.addresses } }).ethereum.contracts).toEqual(deployed.addresses);
    const header = decodeHeader(getBytes(g.firstBlockHeader));
    expect(header.mainHeight).toBe(g.bitcoin.startHeight - 1);
    expect(header.nextProofContext).not.toBeNull();
  });

  it('funds the reserve on regtest, confirmed below the start height', async () => {
    const r = deployed.genesis.bitcoin.reserve!;
    expect(r).toMatchObject({ vout: 0, amount: 100_000, epoch: 0, kind: 'p2wsh' });
    const out = await btc.rpc.getTxOut(r.txid, r.vout);
    expect(out?.valueSats).toBe(100_000n);
    expect(out!.confirmations).toBeGreaterThanOrEqual(1);
    const tip = await btc.rpc.getBlockCount();
    expect(deployed.genesis.bitcoin.startHeight).toBe(tip - out!.confirmations + 2);
    const raw = await btc.rpc.getRawTransaction(r.txid);
    expect(raw).toContain(hexlify(deployed.epoch0Script.p2wshOutput).slice(2));
    expect(await deployed.bridge.bsh.getFunction('isFederationScript')(keccak256(deployed.epoch0Script.p2wshOutput))).toBe(true);
    // The payout coordinator knows it as its first input.
    expect(await deployed.bridge.payout.getFunction('hasReserve')()).toBe(true);
    expect(deployed.addresses.payout).toBe(deployed.genesis.contracts.payout);
  });
});

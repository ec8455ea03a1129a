import { describe, expect, it } from 'vitest';
import { hexlify } from 'ethers';
import { toHex } from '../../../src/chains/btp/bytes.js';
import { configSchema } from '../../../src/node/config/schema.js';
import { parseGenesis, type FederationGenesis } from '../../../src/node/genesis/genesis.js';
import { checkGenesisAgainstConfig, derivationConfigOf, genesisChain, genesisDerivationState } from '../../../src/node/validator/genesis-state.js';
import { compressPublicKey64, peerIdFromBytes } from '../../../src/node/validator/home-view.js';
import { genesisChain as fixtureGenesis, validators } from '../../consensus/fixtures.js';

const vals = validators(4, 'genesis-state');
const fx = fixtureGenesis(vals, 120);
const A = (c: string): string => `0x${c.repeat(40)}`;

function genesis(over: Partial<FederationGenesis> = {}): FederationGenesis {
  return parseGenesis({
    format: 'fednode-genesis',
    version: 1,
    network: 'devnet',
    chainId: 31337,
    contracts: { staking: A('1'), bmc: A('2'), bmv: A('3'), bsh: A('4'), btct: A('5') },
    srcNetworkUid: '0x10.btc',
    networkTypeId: 2,
    networkId: 1,
    srcBtpAddress: 'btp://0x10.btc/federation',
    dstBtpAddress: `btp://0x7a69.eth/${A('2')}`,
    firstBlockHeader: hexlify(fx.headerBytes),
    bitcoin: { network: 'regtest', startHeight: 121, reserve: { txid: 'ab'.repeat(32), vout: 0, amount: 100_000, epoch: 0, kind: 'p2wsh' } },
    epoch0: { validators: vals.map((v) => v.addressHex), threshold: 3 },
    ...over,
  });
}

describe('genesis → validator state', () => {
  it('the chain state after the first header, epoch 0 current from the start height, the reserve in the ledger', () => {
    const g = genesis();
    expect(derivationConfigOf(g)).toEqual({ srcNetworkUid: '0x10.btc', networkTypeId: 2, srcBtpAddress: 'btp://0x10.btc/federation', dstBtpAddress: g.dstBtpAddress });
    const c = genesisChain(g);
    expect(toHex(c.chain.lastNetworkSectionHash!)).toBe(toHex(fx.state.lastNetworkSectionHash!));
    expect(c.chain.validators.map(toHex)).toEqual(vals.map((v) => v.addressHex));
    const s = genesisDerivationState(g, 1_700_000_000);
    expect(s.nextHeight).toBe(121);
    expect(s.prevMedianTime).toBe(1_700_000_000);
    expect([...s.activations]).toEqual([[0, 121]]);
    expect(s.ledger.get(`${'ab'.repeat(32)}:0`)).toEqual({ amountSats: 100_000n, epoch: 0, kind: 'p2wsh', height: 120 });
  });

  it('refuses a genesis whose epoch 0 differs from its header, and one that does not match the config', () => {
    const other = validators(4, 'other').map((v) => v.addressHex);
    expect(() => genesisChain(genesis({ epoch0: { validators: other, threshold: 3 } }))).toThrow(expect.objectContaining({ code: 'GENESIS_INVALID' }));
    const cfg = configSchema.parse({ network: 'devnet', ethereum: { chainId: 31337, contracts: { bmv: A('3') } } });
    expect(() => checkGenesisAgainstConfig(genesis(), cfg)).not.toThrow();
    const bad = configSchema.parse({ network: 'testnet', ethereum: { chainId: 1, contracts: { bmv: A('9') } } });
    let problems: string[] = [];
    try {
      checkGenesisAgainstConfig(genesis(), bad);
    } catch (err) {
      problems = (err as { context: { problems: string[] } }).context.problems;
    }
    expect(problems.map((p) => p.split(':')[0])).toEqual(['network', 'chainId', 'contracts.bmv']);
  });

  it('registry encodings: 64-byte keys compress by the parity of y; peer id bytes are base58btc', () => {
    const pub = new Uint8Array(64).fill(1);
    pub[63] = 3;
    expect(compressPublicKey64(pub)[0]).toBe(0x03);
    pub[63] = 2;
    expect(compressPublicKey64(pub)[0]).toBe(0x02);
    expect(compressPublicKey64(pub).subarray(1)).toEqual(pub.subarray(0, 32));
    expect(peerIdFromBytes(new Uint8Array(0))).toBeUndefined();
    const id = Uint8Array.from(Buffer.from('002408011220' + '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c', 'hex'));
    expect(peerIdFromBytes(id)).toBe('12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5');
  });
});

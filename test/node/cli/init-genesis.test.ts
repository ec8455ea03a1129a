import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGenesis } from '../../../src/node/genesis/genesis.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

const A = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const GENESIS = {
  format: 'fednode-genesis', version: 1, network: 'devnet', chainId: 31337,
  contracts: { staking: A, bmc: A, bmv: A, bsh: A, btct: A },
  srcNetworkUid: '0x10.btc', networkTypeId: 2, networkId: 1, srcBtpAddress: 'btp://0x10.btc/federation', dstBtpAddress: `btp://0x7a69.eth/${A}`,
  firstBlockHeader: '0x00', bitcoin: { network: 'regtest', startHeight: 460, reserve: null }, epoch0: { validators: [A], threshold: 1 },
};

describe('fednode init --genesis (child process)', () => {
  it('checks the genesis file and copies it next to the config', async () => {
    await withTempDir(async (dir) => {
      const src = join(dir, 'published.json');
      writeFileSync(src, JSON.stringify(GENESIS));
      const node = join(dir, 'node');
      const res = await runCli(['--datadir', node, 'init', '--network', 'devnet', '--genesis', src]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`wrote ${join(node, 'genesis.json')} (network devnet, chain id 31337, epoch 0 of 1 validators)`);
      expect(parseGenesis(JSON.parse(readFileSync(join(node, 'genesis.json'), 'utf8')))).toEqual(parseGenesis(GENESIS));
    });
  });

  it('refuses an invalid genesis file before writing anything', async () => {
    await withTempDir(async (dir) => {
      const src = join(dir, 'bad.json');
      writeFileSync(src, JSON.stringify({ ...GENESIS, chainId: 0 }));
      const node = join(dir, 'node');
      const res = await runCli(['--datadir', node, 'init', '--network', 'devnet', '--genesis', src]);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`error: invalid genesis in ${src}: chainId:`);
      expect(existsSync(join(node, 'config.toml'))).toBe(false);
    });
  });
});

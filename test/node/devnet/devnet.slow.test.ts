import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { devnetStateSchema } from '../../../src/node/devnet/layout.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

describe('fednode devnet restart and --reset (child processes, real chains)', () => {
  it('a second start keeps the keys and peer ids and redeploys; --reset makes new ones', async () => {
    await withTempDir(async (dir) => {
      const base = 31_000 + Math.floor(Math.random() * 200) * 100;
      const run = async (...extra: string[]): Promise<{ nodes: { address: string; peerId: string }[]; federation: string }> => {
        const res = await runCli(['devnet', '--validators', '2', '--dir', dir, '--base-port', String(base), '--exit', ...extra], { timeoutMs: 170_000 });
        expect(res.code, res.stderr).toBe(0);
        const s = devnetStateSchema.parse(JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')));
        return { nodes: s.nodes.map((n) => ({ address: n.address, peerId: n.peerId })), federation: s.federation.address };
      };
      const first = await run();
      const second = await run();
      expect(second.nodes).toEqual(first.nodes);
      expect(second.federation).toBe(first.federation);
      const reset = await run('--reset');
      expect(reset.nodes.map((n) => n.address)).not.toEqual(first.nodes.map((n) => n.address));
      expect(reset.nodes.map((n) => n.peerId)).not.toEqual(first.nodes.map((n) => n.peerId));
    });
  });
});

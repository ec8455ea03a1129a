import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { devnetStateSchema } from '../../../src/node/devnet/layout.js';
import { portFree } from '../../../src/node/devnet/processes.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

// The main job as a new user meets it (`npm run devnet -- --demo --exit`): 4 validator processes
// on real chains, one transfer each way. Needs `npm run build` (the test script's pretest does it).
describe('fednode devnet --validators 4 --demo --exit (child processes, real chains)', () => {
  it('moves BTC → BTCT and back through 4 validator processes, then leaves nothing running', async () => {
    await withTempDir(async (dir) => {
      const base = 31_000 + Math.floor(Math.random() * 200) * 100;
      const res = await runCli(
        ['devnet', '--validators', '4', '--dir', join(dir, 'devnet'), '--base-port', String(base), '--demo', '--exit'],
        { cwd: dir, timeoutMs: 330_000 },
      );
      const lines = res.stdout.trim().split('\n');
      expect(lines, res.stderr).toHaveLength(1);
      const out = JSON.parse(lines[0]!) as { ok: boolean; step?: string; depositToMintSeconds?: number; burnToPayoutSeconds?: number };
      const state = devnetStateSchema.parse(JSON.parse(readFileSync(join(dir, 'devnet', 'devnet.json'), 'utf8')));
      // The deposit half must always pass: the validators derive, sign, gossip and relay.
      expect(res.stderr).toMatch(/ok \(\d+\.\d s\): 0\.01 BTCT minted to user B/);
      expect(state.contracts.payout).toMatch(/^0x[0-9a-f]{40}$/);
      expect(out, res.stderr).toMatchObject({ ok: true });
      expect(out.depositToMintSeconds).toBeGreaterThan(0);
      expect(out.burnToPayoutSeconds).toBeGreaterThan(0);
      expect(res.code).toBe(0);
      // The payout really reached user A on regtest (the demo prints the paying txid).
      expect(res.stderr).toMatch(/ok \(\d+\.\d s\): [0-9.]+ BTC to user A in [0-9a-f]{64}/);
      expect(res.stderr).toMatch(/stopped \(\d+\.\d s\)/);
      for (const p of [state.ports.evm, state.ports.bitcoin, ...state.ports.http, ...state.ports.p2p]) expect(await portFree(p), `port ${p}`).toBe(true);
    });
  }, 360_000);
});

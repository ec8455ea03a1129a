import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { devnetStateSchema } from '../../../src/node/devnet/layout.js';
import { portFree } from '../../../src/node/devnet/processes.js';
import { runCli, withTempDir } from '../../helpers/cli.js';

const VALIDATOR_JS = fileURLToPath(new URL('../../../dist/node/validator/validator.js', import.meta.url));
/**
 * The validator runs the payout pipeline (src/node/validator/payouts: close, sign, broadcast) only
 * once validator.ts imports it; until then nobody pays a withdrawal out and the demo must stop at
 * its payout step. When this flips, the full round trip is required.
 */
const payoutWired = existsSync(VALIDATOR_JS) && /from '\.\/payouts\//.test(readFileSync(VALIDATOR_JS, 'utf8'));

describe('fednode devnet --validators 4 --demo --exit (child processes, real chains)', () => {
  it('moves BTC → BTCT and back through 4 validator processes, then leaves nothing running', async () => {
    await withTempDir(async (dir) => {
      const base = 31_000 + Math.floor(Math.random() * 200) * 100;
      const t0 = Date.now();
      const res = await runCli(
        ['devnet', '--validators', '4', '--dir', join(dir, 'devnet'), '--base-port', String(base), '--demo', '--exit', '--payout-timeout', payoutWired ? '150' : '20'],
        { cwd: dir, timeoutMs: 330_000 },
      );
      const seconds = (Date.now() - t0) / 1000;
      const lines = res.stdout.trim().split('\n');
      expect(lines, res.stderr).toHaveLength(1);
      const out = JSON.parse(lines[0]!) as { ok: boolean; step?: string; depositToMintSeconds?: number; burnToPayoutSeconds?: number };
      const state = devnetStateSchema.parse(JSON.parse(readFileSync(join(dir, 'devnet', 'devnet.json'), 'utf8')));
      console.log(`devnet --demo --exit: ${seconds.toFixed(0)} s in all; ${lines[0]}`);
      // The deposit half must always pass: the validators derive, sign, gossip and relay.
      expect(res.stderr).toMatch(/ok \(\d+\.\d s\): 0\.01 BTCT minted to user B/);
      expect(state.contracts.payout).toMatch(/^0x[0-9a-f]{40}$/);
      if (payoutWired) {
        expect(out, res.stderr).toMatchObject({ ok: true });
        expect(out.depositToMintSeconds).toBeGreaterThan(0);
        expect(out.burnToPayoutSeconds).toBeGreaterThan(0);
        expect(res.code).toBe(0);
        expect(seconds).toBeLessThan(300);
      } else {
        // Until the validators run the payout pipeline nobody pays the withdrawal out: the demo
        // must fail exactly at the payout step, with a clear message.
        expect(out).toMatchObject({ ok: false, step: 'payout' });
        expect(res.code).toBe(1);
      }
      expect(res.stderr).toMatch(/stopped \(\d+\.\d s\)/);
      for (const p of [state.ports.evm, state.ports.bitcoin, ...state.ports.http, ...state.ports.p2p]) expect(await portFree(p), `port ${p}`).toBe(true);
    });
  });

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

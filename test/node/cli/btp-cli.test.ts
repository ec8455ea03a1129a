import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { loadScenario } from '../../chains/btp/vectors.js';

// The built CLI as operators run it (`npm test` builds dist/ first, via pretest).
const scenario = loadScenario();
const verifyArgs = ['btp', 'verify', '--src', scenario.srcNetworkUID, '--ntid', String(scenario.networkTypeID), '--first', scenario.firstBlockUpdate];

describe('node bin/fednode.js btp', () => {
  it('verify replays the published scenario and exits 0', async () => {
    const res = await runCli([...verifyArgs, ...scenario.relayMessages.map((r) => r.hex)]);
    expect(res.code).toBe(0);
    const json = JSON.parse(res.stdout) as { finalState: { height: number; networkSectionHash: string; validators: string[] } };
    expect(json.finalState.height).toBe(scenario.expectFinalState.height);
    expect(json.finalState.networkSectionHash).toBe(scenario.expectFinalState.networkSectionHash);
    expect(json.finalState.validators).toEqual(scenario.expectFinalState.validators);
  });

  it('verify exits 1 on a rejected relay message and says which', async () => {
    const relays = scenario.relayMessages.map((r) => r.hex);
    const res = await runCli([...verifyArgs, relays[0]!, relays[2]!]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('relay message 1 rejected (BTP_INVALID_PREV)');
    expect((JSON.parse(res.stdout) as { relayMessages: { status: string }[] }).relayMessages.map((r) => r.status)).toEqual(['accepted', 'rejected']);
  });

  it('decode prints JSON and fails cleanly on garbage', async () => {
    const ok = await runCli(['btp', 'decode', scenario.relayMessages[0]!.hex]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ type: 'RelayMessage', value: [{ type: 'MessageProof', messages: ['dog'] }] });
    const bad = await runCli(['btp', 'decode', '0x83ab']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: RLP_TRUNCATED/);
  });
});

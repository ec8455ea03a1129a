import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { parseBytesArg, registerBtpCommands } from '../../../src/node/cli/commands/btp.js';
import { loadScenario } from '../../chains/btp/vectors.js';
import { runInProcess, type InProcessResult } from '../../helpers/commander.js';

const scenario = loadScenario();

const run = (args: string[]): Promise<InProcessResult> => runInProcess(registerBtpCommands, args);

const verifyArgs = (relays: string[]): string[] => [
  'btp',
  'verify',
  '--src',
  scenario.srcNetworkUID,
  '--ntid',
  String(scenario.networkTypeID),
  '--first',
  scenario.firstBlockUpdate,
  ...relays,
];

describe('fednode btp decode', () => {
  it('decodes a relay message given as hex, with messages as text', async () => {
    const { out, error } = await run(['btp', 'decode', scenario.relayMessages[1]!.hex]);
    expect(error).toBeNull();
    const json = JSON.parse(out) as { type: string; value: { type: string; messages?: string[]; header?: { mainHeight: number } }[] };
    expect(json.type).toBe('RelayMessage');
    expect(json.value[0]!.type).toBe('BlockUpdate');
    expect(json.value[0]!.header!.mainHeight).toBe(20);
    expect(json.value[1]!.messages).toEqual(['cat', 'elephant', 'bird']);
  });

  it('decodes base64 (the JSON-RPC encoding) and honours --type', async () => {
    const b64 = Buffer.from(scenario.firstBlockUpdate.slice(2), 'hex').toString('base64');
    const { out } = await run(['btp', 'decode', b64]);
    const json = JSON.parse(out) as { type: string; value: { nextProofContext: { validators: string[] } } };
    expect(json.type).toBe('BTPBlockHeader');
    expect(json.value.nextProofContext.validators).toEqual(scenario.initialValidators);
    const asRlp = JSON.parse((await run(['btp', 'decode', '--type', 'RLP', b64])).out) as { type: string; value: unknown[] };
    expect(asRlp.type).toBe('RLP');
    expect(asRlp.value).toHaveLength(10);
  });

  it('fails with a typed error on garbage', async () => {
    const { error } = await run(['btp', 'decode', 'zz-not-data']);
    expect(isBridgeError(error, 'BTP_BAD_INPUT')).toBe(true);
    const truncated = await run(['btp', 'decode', '--type', 'RelayMessage', scenario.relayMessages[1]!.hex.slice(0, 40)]);
    expect(isBridgeError(truncated.error)).toBe(true);
  });

  it('parseBytesArg accepts hex with or without 0x, and base64', () => {
    expect(parseBytesArg('0x0102')).toEqual(Uint8Array.of(1, 2));
    expect(parseBytesArg('0102')).toEqual(Uint8Array.of(1, 2));
    expect(parseBytesArg('AQI=')).toEqual(Uint8Array.of(1, 2));
  });
});

describe('fednode btp verify', () => {
  it('replays the published scenario and prints the final state', async () => {
    const { out, error } = await run(verifyArgs(scenario.relayMessages.map((r) => r.hex)));
    expect(error).toBeNull();
    const json = JSON.parse(out) as {
      relayMessages: { status: string; messages: string[] }[];
      finalState: { height: number; messagesRoot: string; nextMessageSn: number; messageCount: number; networkSectionHash: string; validators: string[] };
    };
    expect(json.relayMessages.map((r) => r.status)).toEqual(scenario.relayMessages.map(() => 'accepted'));
    expect(json.relayMessages.map((r) => r.messages)).toEqual(scenario.relayMessages.map((r) => r.expectMessages));
    const want = scenario.expectFinalState;
    expect(json.finalState).toMatchObject({
      height: want.height,
      messagesRoot: want.messageRoot,
      nextMessageSn: want.messageSn,
      messageCount: want.messageCount,
      networkSectionHash: want.networkSectionHash,
      validators: want.validators,
    });
  });

  it('reports a rejected relay message, skips the rest and fails (exit 1 through main)', async () => {
    const relays = scenario.relayMessages.map((r) => r.hex);
    // out of order: the height-30 update before the height-20 one
    const { out, error } = await run(verifyArgs([relays[0]!, relays[2]!, relays[1]!]));
    expect(isBridgeError(error, 'BTP_RELAY_REJECTED')).toBe(true);
    const json = JSON.parse(out) as { relayMessages: { status: string; error?: { code: string } }[]; finalState: { height: number } };
    expect(json.relayMessages.map((r) => r.status)).toEqual(['accepted', 'rejected', 'skipped']);
    expect(json.relayMessages[1]!.error!.code).toBe('BTP_INVALID_PREV');
    expect(json.finalState.height).toBe(10);
  });

  it('the > 2/3 rule and the noble backend give the same result on the scenario', async () => {
    const { out, error } = await run([...verifyArgs(scenario.relayMessages.map((r) => r.hex)), '--quorum', 'twoThirds', '--backend', 'noble']);
    expect(error).toBeNull();
    expect((JSON.parse(out) as { finalState: { height: number } }).finalState.height).toBe(50);
  });

  it('rejects a bad --ntid and a missing --src', async () => {
    expect(isBridgeError((await run(['btp', 'verify', '--src', 'x', '--ntid', 'two', '--first', scenario.firstBlockUpdate, '00'])).error, 'BTP_BAD_INPUT')).toBe(true);
    const missing = await run(['btp', 'verify', '--ntid', '2', '--first', scenario.firstBlockUpdate, '00']);
    expect(missing.error).not.toBeNull();
    expect(missing.err).toContain('--src');
  });
});

describe('fednode btp decode of fednode messages', () => {
  it('shows BTPMessages inside a message proof, with btc records field by field', async () => {
    const { encodeBTPMessage, encodeRelayMessage } = await import('../../../src/chains/btp/codec.js');
    const { encodeRecord } = await import('../../../src/chains/bitcoin/records.js');
    const payload = encodeRecord({ type: 'deposit-mint', txid: new Uint8Array(32).fill(0xab), vout: 1, amountSats: 150_000n, epoch: 3, recipient: new Uint8Array(20).fill(0x11) });
    const msg = encodeBTPMessage({ src: '0x4.btc', dst: '0x7a69.evm', svc: 'btc', sn: 0n, payload, nsn: 0n, feeInfo: null });
    const other = encodeBTPMessage({ src: '0x4.btc', dst: '0x7a69.evm', svc: 'xcall', sn: 1n, payload: Uint8Array.of(1), nsn: 0n, feeInfo: null });
    const relay = encodeRelayMessage({ items: [{ type: 2, messageProof: { left: [], messages: [msg, other, Uint8Array.of(0x41)], right: [] } }] });
    const { out, error } = await run(['btp', 'decode', Buffer.from(relay).toString('hex')]);
    expect(error).toBeNull();
    const json = JSON.parse(out) as { value: { btpMessages: ({ svc: string; record?: Record<string, unknown> } | null)[] }[] };
    const [m0, m1, m2] = json.value[0]!.btpMessages;
    expect(m0!.record).toEqual({
      type: 'deposit-mint',
      txid: '0x' + 'ab'.repeat(32),
      vout: 1,
      amountSats: '150000',
      epoch: 3,
      recipient: '0x' + '11'.repeat(20),
    });
    expect(m1!.svc).toBe('xcall');
    expect(m1!.record).toBeUndefined();
    expect(m2).toBeNull();
  });
});

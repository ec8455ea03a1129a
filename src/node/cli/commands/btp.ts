import { Command, Option } from 'commander';
import { BridgeError, isBridgeError } from '../../../errors.js';
import { BTC_SERVICE, decodeRecord } from '../../../chains/bitcoin/records.js';
import { fromHex, toHex } from '../../../chains/btp/bytes.js';
import { BTP_STRUCTURES, decodeAny, displayBytes, type BtpStructure, type Json, type PayloadView } from '../../../chains/btp/json.js';
import { nativeBackend, nativeBackendAvailable, nobleBackend, type Secp256k1Backend } from '../../../chains/btp/secp256k1.js';
import { initVerifierState, verifierConfig, verifierStateToJson, verifyRelayMessage, type QuorumRule } from '../../../chains/btp/verifier.js';

/** Where command output goes; defaults to the process streams. */
export interface BtpCliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const HEX = /^(0x)?([0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes from `0x` hex, bare hex, or base64 (the JSON-RPC's encoding); else BridgeError `BTP_BAD_INPUT`. */
export function parseBytesArg(arg: string, what = 'input'): Uint8Array {
  const s = arg.trim();
  if (s.length > 0 && HEX.test(s)) return fromHex(s);
  if (s.length > 0 && s.length % 4 === 0 && BASE64.test(s)) return new Uint8Array(Buffer.from(s, 'base64'));
  throw new BridgeError({ code: 'BTP_BAD_INPUT', what, reason: 'neither hex nor base64' });
}

function print(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(JSON.stringify(value, null, 2) + '\n');
}

function errorJson(err: unknown): Json {
  if (isBridgeError(err)) return { code: err.code, message: err.message };
  throw err;
}

interface VerifyOptions {
  src: string;
  ntid: string;
  first: string;
  quorum: 'majority' | 'twoThirds';
  backend: 'native' | 'noble';
}

function backendOf(name: 'native' | 'noble'): Secp256k1Backend {
  if (name === 'native' && !nativeBackendAvailable()) throw new BridgeError({ code: 'BTP_NATIVE_SECP256K1_UNAVAILABLE' });
  return name === 'native' ? nativeBackend : nobleBackend;
}

function parseNetworkTypeId(s: string): number {
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new BridgeError({ code: 'BTP_BAD_INPUT', what: '--ntid', value: s });
  return n;
}

/**
 * Replays relay messages through the verifier. Output: per relay message, the
 * messages it delivered or the error, then the final state. Stops at the first
 * rejected message (later ones depend on it) and fails with `BTP_RELAY_REJECTED`.
 */
export function runBtpVerify(relays: string[], opts: VerifyOptions, io: BtpCliIo): void {
  const config = verifierConfig({
    srcNetworkUid: opts.src,
    networkTypeId: parseNetworkTypeId(opts.ntid),
    quorum: opts.quorum as QuorumRule,
    backend: backendOf(opts.backend),
  });
  let state = initVerifierState(parseBytesArg(opts.first, '--first'));
  const results: Json[] = [];
  let rejected: { index: number; code: string } | null = null;
  for (const [index, arg] of relays.entries()) {
    if (rejected !== null) {
      results.push({ index, status: 'skipped' });
      continue;
    }
    try {
      const res = verifyRelayMessage(state, parseBytesArg(arg, `relay message ${index}`), config);
      state = res.state;
      results.push({
        index,
        status: 'accepted',
        messages: res.messages.map(displayBytes),
        blocks: res.blocks.map((b) => ({
          height: b.height,
          decisionHash: toHex(b.decisionHash),
          signers: b.signers.map(toHex),
          validatorsChanged: b.validatorsChanged,
        })),
      });
    } catch (err) {
      const e = errorJson(err);
      results.push({ index, status: 'rejected', error: e });
      rejected = { index, code: (e as { code: string }).code };
    }
  }
  print(io.stdout, { relayMessages: results, finalState: verifierStateToJson(state) as Json });
  if (rejected !== null) throw new BridgeError({ code: 'BTP_RELAY_REJECTED', message: `relay message ${rejected.index} rejected (${rejected.code})`, index: rejected.index, reason: rejected.code });
}

/** fednode's own payloads (service `btc`, docs/PROTOCOL.md) shown field by field; others stay hex. */
export const btcRecordView: PayloadView = (svc, payload) => {
  if (svc !== BTC_SERVICE) return undefined;
  const r = decodeRecord(payload);
  if (r === undefined) return { error: 'malformed btc record' };
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v instanceof Uint8Array ? toHex(v) : typeof v === 'bigint' ? v.toString() : (v as Json);
  return out;
};

export function runBtpDecode(data: string, opts: { type?: BtpStructure }, io: BtpCliIo): void {
  print(io.stdout, decodeAny(parseBytesArg(data), opts.type, btcRecordView));
}

/** `fednode btp decode|verify`: offline tools for operators and auditors (docs/BTP.md "CLI"). */
export function registerBtpCommands(program: Command, io: BtpCliIo = { stdout: process.stdout, stderr: process.stderr }): void {
  const btp = program.command('btp').description('BTP 2.0 tools: decode structures, replay relay messages through the verifier');

  btp
    .command('decode')
    .description('print a BTP structure (relay message, block header, proof, message…) as JSON')
    .argument('<data>', 'hex (0x optional) or base64')
    .addOption(new Option('-t, --type <structure>', 'decode as this structure instead of guessing').choices(BTP_STRUCTURES))
    .action((data: string, opts: { type?: BtpStructure }) => runBtpDecode(data, opts, io));

  btp
    .command('verify')
    .description('replay relay messages through the BTP verifier; exit 1 on a rejected one')
    .requiredOption('--src <uid>', 'source network UID signed in decisions, e.g. 0x1.btc')
    .requiredOption('--ntid <n>', 'network type ID signed in decisions')
    .requiredOption('--first <header>', 'trusted first BTPBlockHeader (hex or base64), with a NextProofContext')
    .addOption(new Option('--quorum <rule>', 'majority: > N/2 signatures; twoThirds: > 2N/3').choices(['majority', 'twoThirds']).default('majority'))
    .addOption(new Option('--backend <name>', 'signature recovery backend').choices(['native', 'noble']).default(nativeBackendAvailable() ? 'native' : 'noble'))
    .argument('<relayMessage...>', 'relay messages in order (hex or base64)')
    .action((relays: string[], opts: VerifyOptions) => runBtpVerify(relays, opts, io));
}

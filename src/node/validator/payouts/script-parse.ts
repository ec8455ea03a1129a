import { opcodes, script as bscript } from 'bitcoinjs-lib';
import { BridgeError } from '../../../errors.js';
import { equalBytes } from '../../../chains/bitcoin/bytes.js';
import { federationScript, type FederationScript, type ScriptTemplate } from '../../../chains/bitcoin/scripts.js';

/**
 * Reads a federation witness script back into a {@link FederationScript}
 * (keys, threshold, epoch, template: docs/PROTOCOL.md §1.2–1.3) and accepts
 * it only if `federationScript` rebuilds exactly the same bytes, so every
 * limit of §1.4 is checked and nothing but the two templates passes.
 * Throws `PAYOUT_BAD_EPOCH_SCRIPT`.
 */
export function parseFederationScript(witnessScript: Uint8Array, expectedEpoch?: number): FederationScript {
  const bad = (reason: string): BridgeError => new BridgeError({ code: 'PAYOUT_BAD_EPOCH_SCRIPT', reason, epoch: expectedEpoch, bytes: witnessScript.length });
  const chunks = bscript.decompile(witnessScript);
  if (chunks === null || chunks.length < 4) throw bad('unparseable');
  let body = chunks;
  let epoch: number | undefined;
  if (chunks[1] === opcodes.OP_DROP) {
    epoch = scriptNumber(chunks[0]!);
    if (epoch === undefined) throw bad('epoch tag is not a number');
    body = chunks.slice(2);
  }
  if (expectedEpoch !== undefined && epoch !== expectedEpoch) throw bad(`epoch tag ${String(epoch)} is not the epoch asked for`);
  const last = body[body.length - 1];
  let template: ScriptTemplate;
  let threshold: number | undefined;
  if (last === opcodes.OP_CHECKMULTISIG) {
    template = 'multisig';
    threshold = scriptNumber(body[0]!);
  } else if (last === opcodes.OP_GREATERTHANOREQUAL) {
    template = 'thresh';
    threshold = scriptNumber(body[body.length - 2]!);
  } else {
    throw bad('not a federation template');
  }
  if (threshold === undefined) throw bad('threshold is not a number');
  const keys = body.filter((c): c is Uint8Array => c instanceof Uint8Array && c.length === 33);
  let rebuilt: FederationScript;
  try {
    rebuilt = federationScript({ keys, threshold, template, ...(epoch !== undefined ? { epoch } : {}) });
  } catch (e) {
    throw new BridgeError({ code: 'PAYOUT_BAD_EPOCH_SCRIPT', reason: 'rejected by federationScript', epoch: expectedEpoch, cause: e });
  }
  if (!equalBytes(rebuilt.witnessScript, witnessScript)) throw bad('not canonical (key order, encoding or template)');
  return rebuilt;
}

/** Minimal script number: OP_0, OP_1..OP_16, or a minimal push. */
function scriptNumber(c: number | Uint8Array): number | undefined {
  if (typeof c === 'number') {
    if (c === opcodes.OP_0) return 0;
    if (c >= opcodes.OP_1 && c <= opcodes.OP_16) return c - opcodes.OP_1 + 1;
    return undefined;
  }
  if (c.length === 0 || c.length > 4) return undefined;
  try {
    return bscript.number.decode(c, 4, true);
  } catch {
    return undefined;
  }
}

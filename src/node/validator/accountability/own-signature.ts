/**
 * This node's signature over an accepted block's decision, for `recordSignature`. The sign-log
 * holds the decision this node signed at each height; signing is deterministic (RFC 6979), so
 * re-signing the same decision with the same key gives the bytes gossiped then. A height whose
 * sign-log decision differs from the accepted one yields 'other-decision' (signing it would
 * equivocate); a height not in the sign-log yields undefined (not signed yet).
 */
import { signDecision } from '../../../chains/btp/sign.js';
import type { SignLog } from '../../signlog/signlog.js';
import type { OwnSignatureSource } from './accountability.js';

export function signLogSignatureSource(signLog: Pick<SignLog, 'contents'>, signingKey: Uint8Array): OwnSignatureSource {
  return async (height, decisionHash) => {
    const entry = (await signLog.contents()).btp.find((e) => BigInt(e.height) === height);
    const want = decisionHash.toLowerCase().replace(/^0x/, '');
    if (entry === undefined) return undefined;
    if (entry.decisionHash.toLowerCase().replace(/^0x/, '') !== want) return 'other-decision';
    return signDecision(Buffer.from(want, 'hex'), signingKey);
  };
}

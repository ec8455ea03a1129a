/**
 * Turning revert data into a typed error: the caller's custom errors when it gives an ABI, plus
 * Solidity's built-in `Error(string)` and `Panic(uint256)`.
 */
import { Interface, type InterfaceAbi } from 'ethers';
import { BridgeError } from '../../../errors.js';

export interface DecodedRevert {
  /** Error name, e.g. `AlreadyRelayed`, `Error`, `Panic`. */
  name: string;
  signature: string;
  selector: string;
  /** Arguments in declaration order; integers as decimal strings (JSON-safe). */
  args: unknown[];
}

const BUILTIN = new Interface(['error Error(string)', 'error Panic(uint256)']);

function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  return v;
}

export function toInterface(abi: Interface | InterfaceAbi | undefined): Interface | undefined {
  if (abi === undefined) return undefined;
  return abi instanceof Interface ? abi : new Interface(abi);
}

/** Decodes revert data; undefined when there is none or no ABI knows its selector. */
export function decodeRevert(data: string | undefined, abi?: Interface): DecodedRevert | undefined {
  if (data === undefined || data.length < 10) return undefined;
  for (const iface of abi === undefined ? [BUILTIN] : [abi, BUILTIN]) {
    try {
      const e = iface.parseError(data);
      if (e !== null) return { name: e.name, signature: e.signature, selector: e.selector, args: [...e.args].map(jsonSafe) };
    } catch {
      // Selector known but data malformed: try the next ABI, then report it raw.
    }
  }
  return undefined;
}

export type RevertPhase = 'estimate' | 'mined';

/** The typed error for a transaction that reverts (in gas estimation or on chain). */
export function revertError(args: { key: string; to: string; phase: RevertPhase; data: string | undefined; abi?: Interface; hash?: string; cause?: unknown }): BridgeError {
  const decoded = decodeRevert(args.data, args.abi);
  const what = decoded === undefined ? (args.data && args.data !== '0x' ? `unknown error ${args.data.slice(0, 10)}` : 'no reason') : `${decoded.name}(${decoded.args.map((a) => JSON.stringify(a)).join(', ')})`;
  return new BridgeError({
    code: 'ETH_TX_REVERTED',
    message: `transaction ${args.key} to ${args.to} reverts (${args.phase}): ${what}`,
    key: args.key,
    to: args.to,
    phase: args.phase,
    hash: args.hash,
    revertData: args.data,
    errorName: decoded?.name,
    errorArgs: decoded?.args,
    cause: args.cause,
  });
}

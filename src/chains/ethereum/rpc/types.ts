/**
 * The few JSON-RPC result shapes fednode reads, parsed from the node's hex into typed values
 * (bigint for amounts, number for heights and indexes).
 */
import { BridgeError } from '../../../errors.js';

export interface BlockRef {
  number: number;
  hash: string;
}

export interface BlockHeader extends BlockRef {
  parentHash: string;
  timestamp: number;
  /** Undefined before London. */
  baseFeePerGas: bigint | undefined;
}

export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  transactionIndex: number;
  logIndex: number;
  removed: boolean;
}

export interface RpcReceipt {
  transactionHash: string;
  blockNumber: number;
  blockHash: string;
  /** 1 success, 0 reverted. */
  status: number;
  gasUsed: bigint;
  effectiveGasPrice: bigint | undefined;
  logs: RpcLog[];
}

/** A call or gas-estimate request (`eth_call`, `eth_estimateGas`). */
export interface CallRequest {
  from?: string;
  to?: string;
  data?: string;
  value?: bigint;
  gas?: bigint;
}

export interface LogFilter {
  fromBlock: number;
  toBlock: number;
  address?: string | string[];
  /** Per position: one topic, any of several, or null for any. */
  topics?: Array<string | string[] | null>;
}

function fail(what: string, value: unknown): never {
  throw new BridgeError({ code: 'ETH_RPC_BAD_RESULT', what, value: JSON.stringify(value)?.slice(0, 200) });
}

function rec(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) fail(what, v);
  return v as Record<string, unknown>;
}

export function hexNumber(v: unknown, what: string): number {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) fail(what, v);
  const n = Number.parseInt(v, 16);
  if (!Number.isSafeInteger(n)) fail(what, v);
  return n;
}

export function hexBigint(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) fail(what, v);
  return BigInt(v);
}

function hexString(v: unknown, what: string): string {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]*$/.test(v)) fail(what, v);
  return v.toLowerCase();
}

export function toQuantity(v: bigint | number): string {
  return '0x' + v.toString(16);
}

export function parseBlockHeader(v: unknown): BlockHeader {
  const b = rec(v, 'block');
  return {
    number: hexNumber(b.number, 'block.number'),
    hash: hexString(b.hash, 'block.hash'),
    parentHash: hexString(b.parentHash, 'block.parentHash'),
    timestamp: hexNumber(b.timestamp, 'block.timestamp'),
    baseFeePerGas: b.baseFeePerGas === undefined || b.baseFeePerGas === null ? undefined : hexBigint(b.baseFeePerGas, 'block.baseFeePerGas'),
  };
}

export function parseLog(v: unknown): RpcLog {
  const l = rec(v, 'log');
  if (!Array.isArray(l.topics)) fail('log.topics', l.topics);
  return {
    address: hexString(l.address, 'log.address'),
    topics: l.topics.map((t) => hexString(t, 'log.topic')),
    data: hexString(l.data, 'log.data'),
    blockNumber: hexNumber(l.blockNumber, 'log.blockNumber'),
    blockHash: hexString(l.blockHash, 'log.blockHash'),
    transactionHash: hexString(l.transactionHash, 'log.transactionHash'),
    transactionIndex: hexNumber(l.transactionIndex, 'log.transactionIndex'),
    logIndex: hexNumber(l.logIndex, 'log.logIndex'),
    removed: l.removed === true,
  };
}

export function parseReceipt(v: unknown): RpcReceipt {
  const r = rec(v, 'receipt');
  return {
    transactionHash: hexString(r.transactionHash, 'receipt.transactionHash'),
    blockNumber: hexNumber(r.blockNumber, 'receipt.blockNumber'),
    blockHash: hexString(r.blockHash, 'receipt.blockHash'),
    status: hexNumber(r.status, 'receipt.status'),
    gasUsed: hexBigint(r.gasUsed, 'receipt.gasUsed'),
    effectiveGasPrice: r.effectiveGasPrice === undefined ? undefined : hexBigint(r.effectiveGasPrice, 'receipt.effectiveGasPrice'),
    logs: Array.isArray(r.logs) ? r.logs.map(parseLog) : [],
  };
}

export function callRequestJson(req: CallRequest): Record<string, string> {
  const out: Record<string, string> = {};
  if (req.from !== undefined) out.from = req.from;
  if (req.to !== undefined) out.to = req.to;
  if (req.data !== undefined) out.data = req.data;
  if (req.value !== undefined) out.value = toQuantity(req.value);
  if (req.gas !== undefined) out.gas = toQuantity(req.gas);
  return out;
}

export function logFilterJson(f: LogFilter): Record<string, unknown> {
  const out: Record<string, unknown> = { fromBlock: toQuantity(f.fromBlock), toBlock: toQuantity(f.toBlock) };
  if (f.address !== undefined) out.address = f.address;
  if (f.topics !== undefined) out.topics = f.topics;
  return out;
}

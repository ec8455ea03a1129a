import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Network } from 'bitcoinjs-lib';
import { BridgeError } from '../../../errors.js';
import { BitcoinRpcClient } from '../rpc.js';
import { bitcoinNetwork } from '../networks.js';

/**
 * bcoin 1.0.2 as an in-process regtest node, with the fixes it needs on
 * Node 20 and for fednode's tests (DESIGN §6):
 * - leveldown 5.6 (npm override) plus a shim dropping `null` range options,
 *   which leveldown 5 would serialise as real bounds;
 * - `sendrawtransaction` that throws Core's -25/-26/-27 errors with the
 *   mempool's reason and the script error instead of returning the txid
 *   of a rejected transaction; `getmempoolentry` with Core's -5 when absent;
 * - standardness checks on (bcoin's regtest default is off) and BIP-125
 *   signalling transactions admitted (bcoin rejects them otherwise; it
 *   still performs no replacement);
 * - no wallet, no P2P listening, HTTP/RPC on 127.0.0.1 with a random port and key.
 */
export interface BcoinRegtestOptions {
  /** Keep the chain in memory (default). Otherwise `dataDir` holds it. */
  memory?: boolean;
  dataDir?: string;
  /** 0 (default) picks a free port. */
  rpcPort?: number;
  apiKey?: string;
  /** Serve RPC without authentication (loopback devnet only; the default requires the API key). */
  noAuth?: boolean;
  /** Default true: the 3,600-byte / 100-item witness limits are only enforced with it. */
  requireStandard?: boolean;
  logLevel?: 'none' | 'error' | 'warning' | 'info' | 'debug' | 'spam';
}

export interface BcoinRegtestNode {
  readonly rpcUrl: string;
  readonly apiKey: string;
  readonly rpc: BitcoinRpcClient;
  /** bitcoinjs-lib network with bcoin's regtest prefixes (`rb`, P2SH 0x26). */
  readonly network: Network;
  /**
   * Removes a transaction (and its descendants) from the mempool, standing
   * in for BIP-125 replacement, which bcoin does not implement.
   */
  evictFromMempool(txid: string): boolean;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

let leveldownPatched = false;
/** bdb hands `{gte: null}`-style options straight to leveldown; v5 treats null as a key and ranges go empty. */
function patchLeveldown(): void {
  if (leveldownPatched) return;
  const bdbDir = dirname(require.resolve('bdb'));
  const LevelDOWN = require(require.resolve('leveldown', { paths: [bdbDir] })) as { prototype: { iterator(o?: Record<string, unknown>): unknown } };
  const original = LevelDOWN.prototype.iterator;
  LevelDOWN.prototype.iterator = function (options?: Record<string, unknown>) {
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options ?? {})) if (v !== null && v !== undefined) clean[k] = v;
    return original.call(this, clean);
  };
  leveldownPatched = true;
}

interface BcoinModule {
  FullNode: new (opts: Record<string, unknown>) => BcoinFullNode;
  TX: { fromRaw(b: Buffer): BcoinTx };
  Script: { flags: Record<string, number> };
}
interface BcoinTx {
  txid(): string;
  hash(enc: 'hex'): string;
  check(view: unknown, flags: number): void;
}
interface BcoinFullNode {
  ensure(): Promise<void>;
  open(): Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  close(): Promise<void>;
  broadcast(tx: BcoinTx): Promise<void>;
  http: { http: { address(): { port: number } } };
  rpc: { calls: Record<string, (args: unknown[], help: boolean) => Promise<unknown>> };
  chain: { hasCoins(tx: BcoinTx): Promise<boolean> };
  mempool: {
    addTX(tx: BcoinTx): Promise<unknown>;
    getCoinView(tx: BcoinTx): Promise<unknown>;
    /** Keys are internal-order hex hashes. */
    getEntry(hash: string): unknown;
    evictEntry(entry: unknown): void;
    removeOrphan(hash: string): void;
    hasOrphan(hash: string): boolean;
  };
}

/** Shaped like bweb's RPCError (`type` is what bcoin's error-code mapping looks at). */
class RpcFailure extends Error {
  readonly type = 'RPCError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RPCError';
  }
}

export async function startBcoinRegtest(opts: BcoinRegtestOptions = {}): Promise<BcoinRegtestNode> {
  const memory = opts.memory ?? opts.dataDir === undefined;
  if (!memory) patchLeveldown();
  const bcoin = require('bcoin') as BcoinModule;
  const apiKey = opts.apiKey ?? randomBytes(16).toString('hex');
  const node = new bcoin.FullNode({
    network: 'regtest',
    memory,
    prefix: memory ? undefined : opts.dataDir,
    workers: false,
    listen: false,
    httpHost: '127.0.0.1',
    httpPort: opts.rpcPort ?? 0,
    apiKey,
    noAuth: opts.noAuth ?? false,
    requireStandard: opts.requireStandard ?? true,
    replaceByFee: true,
    indexTX: true,
    logLevel: opts.logLevel ?? 'none',
    logConsole: opts.logLevel !== undefined && opts.logLevel !== 'none',
    logFile: false,
    config: false,
    argv: false,
    env: false,
  });
  installCoreCompatibleRpc(bcoin, node);
  await node.ensure(); // creates the data directory (bcoin's own launcher does this too)
  await node.open();
  await node.connect();
  const port = node.http.http.address().port;
  const rpcUrl = `http://127.0.0.1:${port}/`;
  const rpc = new BitcoinRpcClient({ url: rpcUrl, username: 'x', password: apiKey });
  let stopped = false;
  return {
    rpcUrl,
    apiKey,
    rpc,
    network: bitcoinNetwork('regtest', { regtestFlavour: 'bcoin' }),
    evictFromMempool(txid: string): boolean {
      const entry = node.mempool.getEntry(Buffer.from(txid, 'hex').reverse().toString('hex'));
      if (!entry) return false;
      node.mempool.evictEntry(entry);
      return true;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await node.disconnect();
      await node.close();
    },
  };
}

/** Replaces bcoin RPC handlers whose behaviour differs from Bitcoin Core's in ways fednode relies on. */
function installCoreCompatibleRpc(bcoin: BcoinModule, node: BcoinFullNode): void {
  node.rpc.calls['sendrawtransaction'] = async (args: unknown[]) => {
    if (args.length < 1 || typeof args[0] !== 'string') throw new RpcFailure(-1, 'sendrawtransaction "hexstring"');
    let tx: BcoinTx;
    try {
      tx = bcoin.TX.fromRaw(Buffer.from(args[0], 'hex'));
    } catch {
      throw new RpcFailure(-22, 'TX decode failed');
    }
    let missing: unknown;
    try {
      missing = await node.mempool.addTX(tx);
    } catch (err) {
      const e = err as { type?: string; reason?: string; code?: string };
      if (e.type !== 'VerifyError') throw err;
      if (e.reason === 'txn-already-in-mempool' || e.reason === 'txn-already-known') return tx.txid();
      if (e.reason === 'bad-txns-inputs-spent') throw new RpcFailure(-26, 'txn-mempool-conflict');
      if (e.reason?.endsWith('script-verify-flag')) {
        throw new RpcFailure(-26, `${e.reason}-failed (${await scriptError(bcoin, node, tx)})`);
      }
      throw new RpcFailure(-26, e.reason ?? 'rejected');
    }
    if (missing) {
      // bcoin keeps it as an orphan; Core refuses it outright.
      if (node.mempool.hasOrphan(tx.hash('hex'))) node.mempool.removeOrphan(tx.hash('hex'));
      if (await node.chain.hasCoins(tx)) throw new RpcFailure(-27, 'Transaction already in block chain');
      throw new RpcFailure(-25, 'bad-txns-inputs-missingorspent');
    }
    // No peers on this node; bcoin's broadcast promise would wait for an inv request that never comes.
    void node.broadcast(tx);
    return tx.txid();
  };
  const getMempoolEntry = node.rpc.calls['getmempoolentry']!;
  node.rpc.calls['getmempoolentry'] = async function (this: unknown, args: unknown[], help: boolean) {
    try {
      return await getMempoolEntry.call(this, args, help);
    } catch (e) {
      if ((e as Error).message === 'Transaction not in mempool.') throw new RpcFailure(-5, 'Transaction not in mempool');
      throw e;
    }
  };
}

/** Re-runs the scripts under standard flags to name the failing check (bcoin's reason omits it). */
async function scriptError(bcoin: BcoinModule, node: BcoinFullNode, tx: BcoinTx): Promise<string> {
  try {
    const view = await node.mempool.getCoinView(tx);
    tx.check(view, bcoin.Script.flags['STANDARD_VERIFY_FLAGS']!);
    return 'unknown script error';
  } catch (e) {
    // bcoin's ScriptError message is its code plus the failing opcode, e.g. `NULLFAIL (op=OP_CHECKSIG, ip=6)`.
    const err = e as { code?: string; message?: string };
    return err.message || err.code || String(e);
  }
}

/** Throws a BridgeError when an RPC URL is unusable; small helper for the starters. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') throw new BridgeError({ code: 'BTC_REGTEST_NOT_LOOPBACK', url });
}

/**
 * Where a devnet keeps its files and which ports it uses. Everything lives under one directory:
 *
 *   <dir>/devnet.json             what is running: ports, URLs, contracts, demo wallets (written after deploy)
 *   <dir>/genesis.json            the federation genesis (a copy sits in each node's directory)
 *   <dir>/bitcoin/                bcoin regtest chain data
 *   <dir>/logs/{evm,bitcoin,v1…}.log
 *   <dir>/nodes/v<i>/             validator i's data directory (fednode start --config …/config.toml)
 *       config.toml genesis.json password.txt keys/{validator,operator}.json p2p-network-key  (kept on resume)
 *       …everything else the node writes (database, sign-log)                              (wiped on resume)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BridgeError } from '../../errors.js';

export interface DevnetPorts {
  evm: number;
  bitcoin: number;
  /** Per validator, index 0 = v1. */
  http: number[];
  p2p: number[];
}

export const DEFAULT_PORTS = { evm: 8545, bitcoin: 18443, http: 8645, p2p: 9651 } as const;

/** Fixed ports (easy to remember); with `base` every port moves: evm base, bitcoin base+1, http base+100+i, p2p base+200+i. */
export function devnetPorts(validators: number, base?: number): DevnetPorts {
  const range = (start: number): number[] => Array.from({ length: validators }, (_, i) => start + i);
  if (base === undefined) {
    return { evm: DEFAULT_PORTS.evm, bitcoin: DEFAULT_PORTS.bitcoin, http: range(DEFAULT_PORTS.http), p2p: range(DEFAULT_PORTS.p2p) };
  }
  return { evm: base, bitcoin: base + 1, http: range(base + 100), p2p: range(base + 200) };
}

export class DevnetLayout {
  constructor(readonly dir: string) {}
  get stateFile(): string { return join(this.dir, 'devnet.json'); }
  get genesisFile(): string { return join(this.dir, 'genesis.json'); }
  get bitcoinDir(): string { return join(this.dir, 'bitcoin'); }
  get logsDir(): string { return join(this.dir, 'logs'); }
  get nodesDir(): string { return join(this.dir, 'nodes'); }
  /** i is 1-based (v1 … vN). */
  nodeDir(i: number): string { return join(this.nodesDir, `v${i}`); }
  nodeConfig(i: number): string { return join(this.nodeDir(i), 'config.toml'); }
  nodePasswordFile(i: number): string { return join(this.nodeDir(i), 'password.txt'); }
  nodeLog(i: number): string { return join(this.logsDir, `v${i}.log`); }
  log(name: string): string { return join(this.logsDir, `${name}.log`); }
}

/** Files of a node directory that survive a restart (keys and identity). */
export const NODE_KEEP = new Set(['keys', 'password.txt', 'p2p-network-key']);

const utxo = z.object({ txid: z.string(), vout: z.number().int(), valueSats: z.string() }).strict();

export const devnetStateSchema = z
  .object({
    format: z.literal('fednode-devnet'),
    version: z.literal(1),
    /** The `fednode devnet` process (the demo checks it is alive). */
    pid: z.number().int(),
    startedAt: z.string(),
    validators: z.number().int().min(1),
    ports: z.object({ evm: z.number(), bitcoin: z.number(), http: z.array(z.number()), p2p: z.array(z.number()) }).strict(),
    evm: z.object({ rpcUrl: z.string(), chainId: z.number().int() }).strict(),
    bitcoin: z.object({ rpcUrl: z.string(), network: z.literal('regtest') }).strict(),
    contracts: z.record(z.string(), z.string()),
    /** Epoch 0's federation deposit address (P2WSH, bcoin regtest `rb1…`) and its output script. */
    federation: z.object({ address: z.string(), script: z.string() }).strict(),
    nodes: z.array(z.object({ index: z.number().int(), address: z.string(), operator: z.string(), peerId: z.string(), httpUrl: z.string() }).strict()),
    demo: z
      .object({
        /** User A (Bitcoin side): a P2WPKH wallet key funded at start, and its coins. */
        userA: z.object({ privateKey: z.string(), address: z.string(), coins: z.array(utxo) }).strict(),
        /** User B (EVM side): a funded dev account. */
        userB: z.object({ privateKey: z.string(), address: z.string() }).strict(),
      })
      .strict(),
  })
  .strict();

export type DevnetState = z.output<typeof devnetStateSchema>;

/** Reads `<dir>/devnet.json` of a running devnet (`DEVNET_NOT_FOUND`, `DEVNET_NOT_RUNNING`). */
export async function readDevnetState(dir: string, opts: { requireRunning?: boolean } = {}): Promise<DevnetState> {
  const layout = new DevnetLayout(dir);
  let text: string;
  try {
    text = await readFile(layout.stateFile, 'utf8');
  } catch {
    throw new BridgeError({ code: 'DEVNET_NOT_FOUND', message: `no devnet in ${dir} (no devnet.json): start one with "fednode devnet --dir ${dir}"` });
  }
  const parsed = devnetStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new BridgeError({ code: 'DEVNET_STATE_INVALID', message: `${layout.stateFile} is not a devnet state file of this version: restart the devnet` });
  if (opts.requireRunning !== false) {
    let alive = true;
    try {
      process.kill(parsed.data.pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) throw new BridgeError({ code: 'DEVNET_NOT_RUNNING', message: `the devnet in ${dir} is not running (its process ${parsed.data.pid} is gone): start it with "fednode devnet --dir ${dir}"` });
  }
  return parsed.data;
}

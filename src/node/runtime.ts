import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Wallet, hexlify } from 'ethers';
import { readGenesis } from './genesis/genesis.js';
import type { LoadedConfig } from './config/load.js';
import { openDatabase, readSchemaVersion, type NodeDb } from './db/database.js';
import { acquireDataDirLock, type DataDirLock } from './datadir/lock.js';
import { Health } from './health.js';
import { startHttpServer, type HttpMount, type RunningHttpServer } from './http/server.js';
import { KeystoreDir, type SigningKeyInfo } from './keystore/keystore.js';
import { resolvePassword, type PasswordSources } from './keystore/password.js';
import type { Logger } from './logger.js';
import { createMetrics, type MetricsFactory } from './metrics.js';
import { loadOrCreateNetworkKey } from './p2p/network-key.js';
import { VERSION } from './version.js';
import { createValidator, type Validator, type ValidatorStatus } from './validator/validator.js';

/**
 * The composition root: opens everything the node needs in order, and closes
 * it in reverse order. A failure part-way releases what was already opened, so
 * a bad password or a busy port never leaves a stale lock behind.
 */
export interface StartNodeOptions {
  loaded: LoadedConfig;
  log: Logger;
  /** Where the keystore password comes from; `passwordFile` defaults to `keys.passwordFile`. */
  password?: PasswordSources;
  metrics?: MetricsFactory;
  mounts?: HttpMount[];
}

export interface NodeStatus {
  version: string;
  network: string;
  address: string;
  compressedPublicKey: string;
  /** libp2p peer id, from the network key in the data directory (separate from the signing key). */
  peerId: string;
  dataDir: string;
  schemaVersion: number;
  startedAt: string;
  uptimeSeconds: number;
  ready: boolean;
}

/** `GET /status`: the node's fields, plus the validator's (docs/VALIDATOR.md) when it runs one. */
export type FullNodeStatus = NodeStatus & Partial<ValidatorStatus>;

export interface RunningNode {
  readonly http: RunningHttpServer;
  readonly db: NodeDb;
  readonly key: SigningKeyInfo;
  readonly peerId: string;
  readonly health: Health;
  readonly metrics: MetricsFactory;
  /** The validator, when a genesis file is present (`genesisFile`). */
  readonly validator: Validator | undefined;
  status(): Promise<FullNodeStatus>;
  stop(): Promise<void>;
}

export async function startNode(opts: StartNodeOptions): Promise<RunningNode> {
  const { config, dataDir } = opts.loaded;
  const log = opts.log.child({ module: 'node' });
  const cleanups: Array<() => Promise<void> | void> = [];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.warn({ err }, 'cleanup step failed');
      }
    }
  };

  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lock: DataDirLock = acquireDataDirLock(dataDir, {
      onStale: (pid) => log.warn({ pid }, 'removing stale lock left by a process that is gone'),
    });
    cleanups.push(() => lock.release());

    const keys = KeystoreDir.forDataDir(dataDir);
    const password = await resolvePassword(
      { passwordFile: config.keys.passwordFile, ...opts.password },
      { purpose: `signing key "${config.keys.signingKey}"` },
    );
    const unlocked = await keys.unlock(config.keys.signingKey, password);
    const { privateKey, path: keyPath, ...key } = unlocked;
    cleanups.push(() => {
      privateKey.fill(0);
    });
    log.info({ address: key.address, keystore: keyPath }, 'signing key unlocked');

    // The network key is generated on first start and never leaves the data directory.
    const networkKey = await loadOrCreateNetworkKey(dataDir);
    const peerId = peerIdFromPrivateKey(networkKey).toString();
    log.info({ peerId }, 'network identity loaded');

    const db = await openDatabase(dataDir, { log });
    cleanups.push(() => db.close());
    const schemaVersion = await readSchemaVersion(db);

    const metrics = opts.metrics ?? createMetrics();
    metrics.gauge('build_info', 'Build information', ['version', 'network']).set({ version: VERSION, network: config.network }, 1);
    const health = new Health();
    health.register('database', () => ({ ok: db.status === 'open', detail: db.status }));

    // The validator: only with the federation's genesis file (a node without one serves health only).
    const genesisPath = isAbsolute(config.genesisFile) ? config.genesisFile : resolve(dataDir, config.genesisFile);
    let validator: Validator | undefined;
    const mounts = [...(opts.mounts ?? [])];
    if (existsSync(genesisPath)) {
      const genesis = await readGenesis(genesisPath);
      let operator: Wallet;
      if (config.ethereum.operatorKey !== undefined) {
        const op = await keys.unlock(config.ethereum.operatorKey, password);
        operator = new Wallet(hexlify(op.privateKey));
        op.privateKey.fill(0);
      } else {
        log.warn('ethereum.operatorKey not set: the signing key pays gas for relays');
        operator = new Wallet(hexlify(privateKey));
      }
      validator = createValidator({ config, genesis, signingKey: privateKey, networkKey, operator, db, log: opts.log, metrics, health });
      mounts.push(...validator.httpMounts);
    } else {
      log.warn({ genesisFile: genesisPath }, 'no genesis file: running without validator duties');
    }

    const startedAt = new Date();
    const nodeStatus = async (): Promise<NodeStatus> => ({
      version: VERSION,
      network: config.network,
      address: key.address,
      compressedPublicKey: key.compressedPublicKey,
      peerId,
      dataDir,
      schemaVersion,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      ready: (await health.report()).ready,
    });
    const status = async (): Promise<FullNodeStatus> => ({ ...(await nodeStatus()), ...(validator !== undefined ? await validator.status() : {}) });

    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      log: opts.log,
      metrics,
      health,
      status,
      mounts,
    });
    cleanups.push(() => http.close());

    if (validator !== undefined) {
      const v = validator;
      cleanups.push(() => v.stop());
      await v.start();
    }

    log.info({ version: VERSION, network: config.network, http: http.url }, 'fednode started');
    let stopping: Promise<void> | undefined;
    return {
      http,
      db,
      key,
      peerId,
      health,
      metrics,
      validator,
      status,
      stop: () => {
        stopping ??= (async () => {
          log.info('stopping');
          await unwind();
          log.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

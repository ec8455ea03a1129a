import { mkdir } from 'node:fs/promises';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
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

export interface RunningNode {
  readonly http: RunningHttpServer;
  readonly db: NodeDb;
  readonly key: SigningKeyInfo;
  readonly peerId: string;
  readonly health: Health;
  readonly metrics: MetricsFactory;
  status(): Promise<NodeStatus>;
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
    // The private key is not used until the signer lands; keep it only as long as needed.
    privateKey.fill(0);
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

    const startedAt = new Date();
    const status = async (): Promise<NodeStatus> => ({
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

    const http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      log: opts.log,
      metrics,
      health,
      status,
      mounts: opts.mounts ?? [],
    });
    cleanups.push(() => http.close());

    log.info({ version: VERSION, network: config.network, http: http.url }, 'fednode started');
    let stopping: Promise<void> | undefined;
    return {
      http,
      db,
      key,
      peerId,
      health,
      metrics,
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

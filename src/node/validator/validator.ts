import type { Ed25519PrivateKey } from '@libp2p/interface';
import { Block } from 'bitcoinjs-lib';
import { Interface } from 'ethers';
import { BitcoinRpcClient } from '../../chains/bitcoin/rpc.js';
import { BtcWatcher, type EmittedBlock } from '../../chains/bitcoin/watcher.js';
import type { WatcherState } from '../../chains/bitcoin/watcher-store.js';
import { toHex } from '../../chains/btp/bytes.js';
import { addressFromSecretKey } from '../../chains/btp/sign.js';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import { createEventWatcher, type CreateEventWatcherArgs, type EventWatcher } from '../../chains/ethereum/events/watcher.js';
import { createEthRpc, type EthRpc } from '../../chains/ethereum/rpc/client.js';
import { createTxSender, type TxSender, type TxSigner } from '../../chains/ethereum/sender/sender.js';
import { BtpAggregator } from '../../consensus/btp-aggregator.js';
import type { BtpEquivocationEvidence } from '../../consensus/equivocation.js';
import { createConsensusMetrics, type ConsensusMetrics } from '../../consensus/metrics.js';
import type { LedgerEntry } from '../../consensus/ledger.js';
import { medianTimePast, type TimestampWindow } from '../../consensus/mtp.js';
import { assertMaySign } from '../../consensus/safety.js';
import { BridgeError, isBridgeError } from '../../errors.js';
import type { FednodeConfig } from '../config/schema.js';
import type { NodeDb } from '../db/database.js';
import type { FederationGenesis } from '../genesis/genesis.js';
import type { Health } from '../health.js';
import type { HttpMount } from '../http/server.js';
import type { Logger } from '../logger.js';
import type { MetricsFactory } from '../metrics.js';
import { createLocalEnvelopeSigner, createP2pHost, type P2pHost, type P2pHostOptions } from '../p2p/index.js';
import { createBtpRpc } from '../rpc/btp-rpc.js';
import { SignLog } from '../signlog/signlog.js';
import { VERSION } from '../version.js';
import { LevelBtpStore } from '../stores/btp-store.js';
import { BtpPipeline } from './btp-pipeline.js';
import { derivationHealth } from './readiness.js';
import { checkGenesisAgainstConfig, derivationConfigOf, genesisChain, genesisDerivationState } from './genesis-state.js';
import { HomeView } from './home-view.js';
import { Relayer } from './relayer.js';
import { accountabilityFromServices, type Accountability } from './accountability/index.js';
import { createValidatorPayouts, type PayoutPipeline } from './payouts/index.js';
import { DeferredWatcherStore, ValidatorStateStore } from './state-store.js';

/**
 * The validator's composition root (issue "[6 of 7]", docs/VALIDATOR.md):
 * joins the Bitcoin watcher, BTP derivation, sign-log, p2p gossip, signature
 * aggregation, the relay submitter and the home-contract views. Used by
 * `fednode start` (through `startNode`) and by in-process tests that run
 * several validators in one process.
 */

export interface ValidatorDeps {
  config: FednodeConfig;
  genesis: FederationGenesis;
  /** secp256k1 signing key (BTP decisions, Bitcoin witnesses, p2p envelopes). */
  signingKey: Uint8Array;
  /** libp2p Ed25519 identity. */
  networkKey: Ed25519PrivateKey;
  /** Operator account: pays gas for relays (an ethers Wallet fits). */
  operator: TxSigner;
  db: NodeDb;
  log: Logger;
  metrics: MetricsFactory;
  health: Health;
  /** Defaults to a client for `bitcoin.rpcUrl`. */
  bitcoinRpc?: BitcoinRpcClient;
  /** Defaults to a failover client for `ethereum.rpcUrls` (started and stopped by the validator). */
  ethRpc?: EthRpc;
  /** Extra p2p options (tests: short heartbeats, a fake clock). */
  p2p?: Partial<Omit<P2pHostOptions, 'network' | 'privateKey' | 'signer'>>;
  /**
   * Equivocation evidence gathered from gossip (also handed to the accountability module,
   * which submits it to the Slasher).
   */
  onEvidence?: (evidence: BtpEquivocationEvidence[]) => void;
  /**
   * The duties beside the BTP pipeline, both on by default: the payout pipeline
   * (docs/PAYOUTS.md; needs `genesis.contracts.payout`) and accountability (evidence,
   * own-signature defence, missed-duty keeper; docs/ACCOUNTABILITY.md; needs the registry's
   * slasher). Tests that drive a module themselves turn it off here.
   */
  duties?: { payouts?: boolean; accountability?: boolean };
  /** Wall clock, unix ms (tests). */
  now?: () => number;
}

/** Evidence kept while the accountability module is not running yet. */
const MAX_EARLY_EVIDENCE = 64;

/** What the payout module (src/node/validator/payouts) and other duties need, in one place. */
export interface ValidatorServices {
  readonly config: FednodeConfig;
  readonly genesis: FederationGenesis;
  readonly signingKey: Uint8Array;
  /** 0x lowercase signing address. */
  readonly address: string;
  readonly signLog: SignLog;
  readonly p2p: P2pHost;
  readonly bitcoinRpc: BitcoinRpcClient;
  readonly ethRpc: EthRpc;
  readonly sender: TxSender;
  /** A home event watcher on the node's rpc/db/log/metrics (exactly-once delivery at k confirmations). */
  createEventWatcher(args: Pick<CreateEventWatcherArgs, 'options' | 'onBatch'>): EventWatcher;
  readonly homeView: HomeView;
  readonly db: NodeDb;
  readonly log: Logger;
  readonly metrics: MetricsFactory;
  readonly consensusMetrics: ConsensusMetrics;
  readonly health: Health;
  /** Throws when signing is not allowed now (`assertMaySign`: stale home view, sign-log halt). */
  maySign(): Promise<void>;
  /** The federation ledger of this node's derivation (outpoint key `txid:vout` → entry). */
  ledger(outpoint: string): LedgerEntry | undefined;
  /** Payout-side figures shown in /status (the payout module updates them). */
  readonly payoutStatus: { signatures: number; pendingWithdrawals: number };
  readonly now: () => number;
}

export interface ValidatorStatus {
  peerId: string;
  validator: string;
  bitcoin: { height: number | null; derivedHeight: number; confirmations: number; halted: boolean };
  ethereum: { height: number | null; homeViewTime: number | null };
  p2p: { peers: number; allowlist: number; peerIds: string[]; heartbeats: PeerHeartbeat[] };
  btp: { lastSignedHeight: number; lastFinalHeight: number; lastRelayedHeight: number; conflict: number | null; lastError: string | null };
  signatures: { btp: number; payout: number };
  pending: { btpBlocks: number; withdrawals: number };
  epoch: number | null;
}

/** The last heartbeat of a peer validator (p2p kind 3). */
export interface PeerHeartbeat {
  validator: string;
  peerId: string;
  softwareVersion: string;
  homeHeight: number;
  foreignHeight: number;
  lastSignedHeight: number;
  /** Age of the heartbeat by its sender's clock, ms. */
  ageMs: number;
}

export interface Validator {
  readonly address: string;
  readonly peerId: string;
  readonly pipeline: BtpPipeline;
  readonly btpStore: LevelBtpStore;
  /** Available after start(). */
  readonly services: ValidatorServices;
  /** The BTP JSON-RPC + websocket monitor over this node's blocks (mount on the HTTP server). */
  readonly httpMounts: HttpMount[];
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): Promise<ValidatorStatus>;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

export function createValidator(deps: ValidatorDeps): Validator {
  const { config, genesis, db } = deps;
  const log = deps.log.child({ module: 'validator' });
  const now = deps.now ?? Date.now;
  checkGenesisAgainstConfig(genesis, config);
  const gchain = genesisChain(genesis);
  const dcfg = derivationConfigOf(genesis);
  const self = addressFromSecretKey(deps.signingKey);
  const address = toHex(self);
  const consensusMetrics = createConsensusMetrics(deps.metrics);
  const signLog = new SignLog(db, { metrics: consensusMetrics });
  const stateStore = new ValidatorStateStore(db);
  const btpStore = new LevelBtpStore(db, {
    srcNetworkUid: genesis.srcNetworkUid,
    networkTypeId: genesis.networkTypeId,
    networkId: genesis.networkId,
    networkName: `btc-${genesis.bitcoin.network}`,
    initialProofContext: gchain.proofContext,
    initialNetworkSectionHash: gchain.chain.lastNetworkSectionHash,
    initialNextMessageSn: gchain.chain.nextMessageSn,
  });
  const btpRpc = createBtpRpc({ store: btpStore, log: deps.log, metrics: deps.metrics });
  const v = config.validator;
  const aggregator = new BtpAggregator({
    srcNetworkUid: genesis.srcNetworkUid,
    networkTypeId: genesis.networkTypeId,
    timing: { collectAfterQuorumMs: v.collectAfterQuorumMs, takeoverTimeoutMs: v.takeoverTimeoutMs },
    metrics: consensusMetrics,
  });
  const ownRpc = deps.ethRpc === undefined;
  const ethRpc = deps.ethRpc ?? createEthRpc({ options: { urls: config.ethereum.rpcUrls, chainId: config.ethereum.chainId, probeIntervalMs: 2_000 }, log: deps.log, metrics: deps.metrics });
  const bitcoinRpc =
    deps.bitcoinRpc ??
    new BitcoinRpcClient({
      url: config.bitcoin.rpcUrl,
      ...(config.bitcoin.rpcUser !== undefined ? { username: config.bitcoin.rpcUser } : {}),
      ...(config.bitcoin.rpcPassword !== undefined ? { password: config.bitcoin.rpcPassword } : {}),
      logger: deps.log,
      metrics: deps.metrics,
    });
  const sender = createTxSender({ rpc: ethRpc, db, signer: deps.operator, log: deps.log, metrics: deps.metrics, options: { confirmations: config.ethereum.confirmations, pollIntervalMs: Math.min(250, config.ethereum.pollIntervalMs), errorAbi: loadArtifact('BtpMessageCenter').abi } });
  const relayer = new Relayer({ rpc: ethRpc, sender, bmc: genesis.contracts.bmc, bmv: genesis.contracts.bmv, prev: genesis.srcBtpAddress, log });
  let p2p: P2pHost | undefined;
  const homeView = new HomeView({
    rpc: ethRpc,
    registry: genesis.contracts.staking,
    epoch0Threshold: genesis.epoch0.threshold,
    defaults: { minDepositSats: BigInt(genesis.derivation?.minDepositSats ?? 10_000), oldAddressWindow: genesis.derivation?.oldAddressWindow ?? 6 },
    observers: config.p2p.observers,
    pollIntervalMs: v.homePollIntervalMs,
    log: deps.log,
    metrics: deps.metrics,
    onAllowlist: (list) => {
      try {
        p2p?.updateAllowlist(list);
      } catch (err) {
        log.error({ err }, 'registry allowlist refused by the p2p host');
      }
    },
  });
  let accountability: Accountability | undefined;
  let payouts: PayoutPipeline | undefined;
  const earlyEvidence: BtpEquivocationEvidence[] = [];
  const pipeline = new BtpPipeline({
    config: dcfg,
    networkId: genesis.networkId,
    self,
    signingKey: deps.signingKey,
    signLog,
    store: stateStore,
    btpStore,
    aggregator,
    snapshot: () => homeView.snapshot,
    publish: (a) => p2p?.publish('attestation', a) ?? false,
    relay: async (height, part, bytes) => {
      const handle = await relayer.submit(height, part, bytes);
      // `alreadyDone`: the BMV has this height (someone else relayed it, maybe while we were down).
      if (handle.record().state === 'skipped') await pipeline.markRelayed(height);
    },
    onEvidence: (ev) => {
      // Evidence found before the accountability module started is kept (bounded) and handed over at start.
      if (accountability !== undefined) accountability.acceptEvidence(ev);
      else earlyEvidence.push(...ev.slice(0, Math.max(0, MAX_EARLY_EVIDENCE - earlyEvidence.length)));
      deps.onEvidence?.(ev);
    },
    maxRelayBytes: v.maxRelayBytes,
    relayRetryMs: v.relayRetryMs,
    now,
    log: deps.log,
    metrics: deps.metrics,
  });

  const payoutStatus = { signatures: 0, pendingWithdrawals: 0 };
  const heartbeats = new Map<string, Omit<PeerHeartbeat, 'ageMs'> & { sentAtMs: number }>();
  let services: ValidatorServices | undefined;
  let peerId = '';
  const abort = new AbortController();
  const loops: Promise<void>[] = [];
  const timers: NodeJS.Timeout[] = [];
  let bmvWatcher: EventWatcher | undefined;
  let btcHeight: number | null = null;
  let btcError: string | undefined;
  let btcHalted = false;
  let started = false;

  const btcGauge = deps.metrics.gauge('fednode_validator_bitcoin_tip', 'Bitcoin tip height seen by the validator');
  const queueGauge = deps.metrics.gauge('fednode_validator_block_queue', 'Bitcoin blocks at k confirmations waiting for derivation');

  async function timestampsBefore(height: number): Promise<{ window: TimestampWindow | undefined; prevMedianTime: number | null }> {
    if (height <= 0) return { window: undefined, prevMedianTime: null };
    const ts: number[] = [];
    for (let h = Math.max(0, height - 11); h < height; h++) ts.push(Block.fromHex(await bitcoinRpc.getBlockHex(await bitcoinRpc.getBlockHash(h))).timestamp);
    return { window: { height: height - 1, timestamps: ts }, prevMedianTime: medianTimePast(ts) };
  }

  async function btcLoop(watcher: BtcWatcher, wstore: DeferredWatcherStore): Promise<void> {
    const queue: Array<{ block: EmittedBlock; cursor: WatcherState }> = [];
    watcher.on('block', (block) => queue.push({ block, cursor: wstore.latest! }));
    watcher.on('reorg', ({ height }) => {
      void signLog.onReorg({ forkHeight: height, detail: 'bitcoin reorg above the emitted cursor' }, now()).catch((err: unknown) => log.error({ err }, 'sign-log reorg check failed'));
    });
    watcher.on('halt', (err) => {
      btcHalted = true;
      const h = (err as BridgeError & { context?: { height?: number } }).context?.height;
      log.error({ err }, 'bitcoin watcher halted: a reorg reached an emitted block');
      void signLog.onReorg({ forkHeight: typeof h === 'number' ? h : 0, detail: err.message }, now()).catch((e: unknown) => log.error({ err: e }, 'sign-log reorg halt failed'));
    });
    while (!abort.signal.aborted) {
      try {
        if (queue.length === 0) {
          await watcher.poll();
          if (watcher.tip !== undefined) {
            btcHeight = watcher.tip;
            btcGauge.set(btcHeight);
          }
          btcError = undefined;
        }
        while (queue.length > 0 && !abort.signal.aborted) {
          queueGauge.set(queue.length);
          const r = await pipeline.processBlock(queue[0]!.block, queue[0]!.cursor);
          if (r === 'retry') break;
          queue.shift();
        }
        queueGauge.set(queue.length);
      } catch (err) {
        if (isBridgeError(err, 'BTC_REORG_REACHED_EMITTED_BLOCK')) {
          btcHalted = true;
          return;
        }
        btcError = (err as Error).message;
        log.warn({ err }, 'bitcoin poll failed');
      }
      await sleep(config.bitcoin.pollIntervalMs, abort.signal);
    }
  }

  function every(ms: number, fn: () => Promise<unknown> | unknown): void {
    let busy = false;
    timers.push(
      setInterval(() => {
        if (busy || abort.signal.aborted) return;
        busy = true;
        Promise.resolve()
          .then(fn)
          .catch((err: unknown) => log.warn({ err }, 'periodic task failed'))
          .finally(() => {
            busy = false;
          });
      }, ms),
    );
  }

  const validator: Validator = {
    address,
    get peerId() {
      return peerId;
    },
    pipeline,
    btpStore,
    get services(): ValidatorServices {
      if (services === undefined) throw new BridgeError({ code: 'VALIDATOR_NOT_STARTED' });
      return services;
    },
    httpMounts: [btpRpc],

    async start() {
      if (started) return;
      started = true;
      log.info({ address, network: config.network, srcNetworkUid: genesis.srcNetworkUid }, 'validator starting');
      if (ownRpc) await ethRpc.start();
      ethRpc.registerHealth(deps.health);

      // The home contracts must be the genesis' federation.
      const bmvUid = await ethRpc.call({ to: genesis.contracts.bmv, data: new Interface(loadArtifact('BtpMessageVerifier').abi).encodeFunctionData('getSrcNetworkId') });
      const uid = new Interface(loadArtifact('BtpMessageVerifier').abi).decodeFunctionResult('getSrcNetworkId', bmvUid)[0] as string;
      if (uid !== genesis.srcNetworkUid) throw new BridgeError({ code: 'GENESIS_MISMATCH', message: `BMV ${genesis.contracts.bmv} verifies ${uid}, genesis says ${genesis.srcNetworkUid}`, problems: ['srcNetworkUid'] });

      // Derivation state: persisted, or the genesis on a first start.
      const persisted = await stateStore.loadDerivation();
      let state;
      let window: TimestampWindow | undefined;
      if (persisted !== undefined) {
        state = persisted.state;
        window = persisted.window;
        log.info({ nextHeight: state.nextHeight }, 'derivation state restored');
      } else {
        const t = await timestampsBefore(genesis.bitcoin.startHeight);
        state = genesisDerivationState(genesis, t.prevMedianTime);
        window = t.window;
        log.info({ nextHeight: state.nextHeight }, 'first start: derivation from the genesis');
      }
      const cursor = await stateStore.watcher.load();
      if (cursor !== undefined && cursor.halted === undefined && cursor.nextHeight !== state.nextHeight) {
        throw new BridgeError({ code: 'VALIDATOR_STATE_MISMATCH', message: `watcher cursor at ${cursor.nextHeight}, derivation at ${state.nextHeight}`, cursor: cursor.nextHeight, derivation: state.nextHeight });
      }

      // Home view before anything signs; its allowlist feeds the gater.
      for (let attempt = 0; ; attempt++) {
        try {
          await homeView.refresh();
          break;
        } catch (err) {
          if (attempt >= 20 || abort.signal.aborted) throw err;
          log.warn({ err }, 'home view not readable yet: retrying');
          await sleep(500, abort.signal);
        }
      }
      deps.health.register('home-view', () => homeView.health(Math.floor(now() / 1000)));

      p2p = await createP2pHost({
        network: config.network,
        privateKey: deps.networkKey,
        signer: createLocalEnvelopeSigner(deps.signingKey),
        listen: config.p2p.listen,
        persistentPeers: config.p2p.bootstrap,
        allowlist: homeView.allowlist ?? { validators: [], observers: config.p2p.observers },
        logger: deps.log,
        metrics: deps.metrics,
        ...deps.p2p,
      });
      peerId = p2p.peerId;
      p2p.handle('attestation', (a, meta) => pipeline.onAttestation(a, meta.signer));
      p2p.handle('heartbeat', (hb, meta) => {
        heartbeats.set(meta.signer, { validator: meta.signer, peerId: meta.peerId, softwareVersion: hb.softwareVersion, homeHeight: Number(hb.homeHeight), foreignHeight: Number(hb.foreignHeight), lastSignedHeight: Number(hb.lastSignedHeight), sentAtMs: meta.sentAtMs });
      });
      await p2p.start();

      await sender.start();
      const bmvAbi = loadArtifact('BtpMessageVerifier').abi;
      const accepted = new Interface(bmvAbi).getEvent('BlockAccepted')!.topicHash;
      bmvWatcher = createEventWatcher({
        rpc: ethRpc,
        db,
        log: deps.log,
        metrics: deps.metrics,
        options: { name: 'bmv', addresses: [genesis.contracts.bmv], topics: [accepted], abi: bmvAbi, confirmations: config.ethereum.confirmations, startBlock: genesis.homeStartBlock ?? 0, pollIntervalMs: config.ethereum.pollIntervalMs },
        onBatch: async (batch) => {
          if (batch.kind !== 'events') return [];
          let top = -1;
          for (const e of batch.events) if (e.name === 'BlockAccepted') top = Math.max(top, Number(e.args![0] as bigint));
          if (top >= 0) await pipeline.markRelayed(top);
          return [];
        },
      });
      bmvWatcher.registerHealth(deps.health);

      const relayed = Math.max(await stateStore.relayedHeight(), await relayer.bmvHeight());
      await pipeline.init(state, window, relayed, (await signLog.contents()).btp.length);
      await bmvWatcher.start();

      const wstore = new DeferredWatcherStore(stateStore.watcher);
      const watcher = new BtcWatcher({ rpc: bitcoinRpc, store: wstore, confirmations: config.bitcoin.confirmations, startHeight: state.nextHeight, logger: deps.log, metrics: deps.metrics });
      deps.health.register('bitcoin', () => {
        if (btcHalted) return { ok: false, detail: 'watcher halted by a reorg (operator step: docs/CONSENSUS.md §5)' };
        if (btcError !== undefined) return { ok: false, detail: btcError };
        if (btcHeight === null) return { ok: false, detail: 'no bitcoin tip yet' };
        const confirmed = btcHeight - config.bitcoin.confirmations + 1;
        const lag = confirmed - pipeline.derivedHeight;
        return lag > v.maxLagBlocks ? { ok: false, detail: `derivation ${lag} blocks behind the confirmed tip ${confirmed}` } : { ok: true, detail: `tip ${btcHeight}, derived ${pipeline.derivedHeight}` };
      });
      deps.health.register('derivation', () =>
        derivationHealth({ lastError: pipeline.lastError, failingSince: pipeline.failingSince, nextHeight: pipeline.nextHeight, now: now(), stuckAfterMs: v.derivationStuckMs }),
      );
      deps.health.register('consensus', () => {
        const c = pipeline.conflict;
        return c !== undefined ? { ok: false, detail: `a majority signed another decision at height ${c.height}` } : { ok: true };
      });

      services = {
        config,
        genesis,
        signingKey: deps.signingKey,
        address,
        signLog,
        p2p,
        bitcoinRpc,
        ethRpc,
        sender,
        createEventWatcher: (args) => createEventWatcher({ rpc: ethRpc, db, log: deps.log, metrics: deps.metrics, ...args }),
        homeView,
        db,
        log: deps.log,
        metrics: deps.metrics,
        consensusMetrics,
        health: deps.health,
        payoutStatus,
        now,
        maySign: async () => {
          const snap = homeView.snapshot;
          if (snap === undefined) throw new BridgeError({ code: 'CONSENSUS_HOME_VIEW_STALE', message: 'no home view yet' });
          assertMaySign({ now: Math.floor(now() / 1000), homeViewTime: snap.viewTime, schedulingMarginSeconds: snap.schedulingMarginSeconds, halt: await signLog.haltState() });
        },
        ledger: (outpoint) => pipeline.state?.ledger.get(outpoint),
      };

      homeView.start();
      loops.push(btcLoop(watcher, wstore));
      every(v.tickIntervalMs, () => pipeline.tick());
      every(v.regossipIntervalMs, () => pipeline.regossip());
      every(v.heartbeatIntervalMs, () =>
        p2p?.publish('heartbeat', {
          softwareVersion: `fednode/${VERSION}`,
          homeHeight: BigInt(Math.max(0, homeView.snapshot?.homeBlock ?? 0)),
          foreignHeight: BigInt(Math.max(0, btcHeight ?? 0)),
          lastSignedHeight: BigInt(Math.max(0, pipeline.lastSignedHeight)),
        }),
      );
      // Duties beside the BTP pipeline, on the same services (one TxSender: one nonce sequence).
      if (deps.duties?.payouts !== false && genesis.contracts.payout !== undefined) {
        payouts = createValidatorPayouts(services, { btpStore });
        await payouts.start();
      }
      if (deps.duties?.accountability !== false) {
        accountability = await accountabilityFromServices(services);
        await accountability?.start();
        accountability?.acceptEvidence(earlyEvidence.splice(0));
      }
      log.info({ peerId, nextHeight: state.nextHeight, relayed, payouts: payouts !== undefined, accountability: accountability !== undefined }, 'validator started');
    },

    async stop() {
      abort.abort();
      for (const t of timers) clearInterval(t);
      await Promise.allSettled(loops);
      // Duties first: they submit through the sender, which stops after them.
      await payouts?.stop();
      await accountability?.stop();
      await homeView.stop();
      await bmvWatcher?.stop();
      await sender.stop();
      await p2p?.stop();
      await btpRpc.close();
      if (ownRpc) await ethRpc.stop();
      log.info('validator stopped');
    },

    async status() {
      const s = homeView.snapshot;
      const p = p2p?.status();
      const current = s === undefined ? null : Math.max(...s.epochs.filter((e) => e.activationHeight !== undefined || e.epoch === 0).map((e) => e.epoch));
      return {
        peerId,
        validator: address,
        bitcoin: { height: btcHeight, derivedHeight: pipeline.derivedHeight, confirmations: config.bitcoin.confirmations, halted: btcHalted },
        ethereum: { height: s?.homeBlock ?? null, homeViewTime: s?.viewTime ?? null },
        p2p: {
          peers: p?.connectedPeers ?? 0,
          allowlist: p?.allowlistSize ?? 0,
          peerIds: p2p?.connectedPeers() ?? [],
          heartbeats: [...heartbeats.values()].map(({ sentAtMs, ...hb }) => ({ ...hb, ageMs: now() - sentAtMs })),
        },
        btp: {
          lastSignedHeight: pipeline.lastSignedHeight,
          lastFinalHeight: pipeline.lastFinalHeight,
          lastRelayedHeight: pipeline.lastRelayedHeight,
          conflict: pipeline.conflict?.height ?? null,
          lastError: pipeline.lastError ?? null,
        },
        signatures: { btp: pipeline.signedCount, payout: payoutStatus.signatures },
        pending: { btpBlocks: pipeline.pendingCount, withdrawals: payoutStatus.pendingWithdrawals },
        epoch: current,
      };
    },
  };
  return validator;
}

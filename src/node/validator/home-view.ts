import { Contract, encodeBase58, getBytes, keccak256, toUtf8Bytes, type JsonRpcProvider } from 'ethers';
import { federationScript } from '../../chains/bitcoin/scripts.js';
import { loadArtifact } from '../../chains/ethereum/artifacts.js';
import type { EthRpc } from '../../chains/ethereum/rpc/client.js';
import type { EpochInfo, HomeSnapshot } from '../../consensus/home-state.js';
import { majorityThreshold } from '../../consensus/quorum.js';
import { BridgeError } from '../../errors.js';
import type { HealthStatus } from '../health.js';
import type { Logger } from '../logger.js';
import type { MetricsFactory } from '../metrics.js';
import type { PeerAllowlist, ValidatorPeer } from '../p2p/peer-set.js';

/**
 * The node's view of the home contracts (DESIGN.md §2 "Validator set
 * changes"): a {@link HomeSnapshot} for BTP derivation and the p2p
 * allowlist, read from the ValidatorRegistry at one home block per poll.
 * `viewTime` is that block's timestamp, so freshness is judged against the
 * home chain's clock (docs/CONSENSUS.md §2.1).
 */

export interface HomeViewOptions {
  rpc: EthRpc;
  registry: string;
  /** Threshold of epoch 0's script (from the genesis); later epochs use the majority rule. */
  epoch0Threshold: number;
  /** Used while the registry has no scheduled value for `minDeposit` / `oldAddressWindow`. */
  defaults: { minDepositSats: bigint; oldAddressWindow: number };
  /** Peer ids admitted without a stake (config `p2p.observers`). */
  observers: readonly string[];
  pollIntervalMs: number;
  log: Logger;
  metrics?: MetricsFactory;
  /** Called after each poll that changed the allowlist. */
  onAllowlist?: (list: PeerAllowlist) => void;
}

interface CachedEpoch {
  validators: Uint8Array[];
  keys: Uint8Array[];
  peers: ValidatorPeer[];
}

export const PARAM_MIN_DEPOSIT = keccak256(toUtf8Bytes('minDeposit'));
export const PARAM_OLD_ADDRESS_WINDOW = keccak256(toUtf8Bytes('oldAddressWindow'));

/** 33-byte compressed key from the registry's 64-byte x‖y. */
export function compressPublicKey64(pub: Uint8Array): Uint8Array {
  if (pub.length !== 64) throw new BridgeError({ code: 'HOME_BAD_PUBLIC_KEY', length: pub.length });
  return Uint8Array.of((pub[63]! & 1) === 1 ? 0x03 : 0x02, ...pub.subarray(0, 32));
}

/** libp2p peer id string (base58btc of the multihash) from the registry's bytes; undefined when empty. */
export function peerIdFromBytes(b: Uint8Array): string | undefined {
  return b.length === 0 ? undefined : encodeBase58(b);
}

export class HomeView {
  readonly #o: HomeViewOptions;
  readonly #log: Logger;
  readonly #epochs = new Map<number, CachedEpoch>();
  readonly #abi = loadArtifact('ValidatorRegistry').abi;
  #snapshot: HomeSnapshot | undefined;
  #allowlist: PeerAllowlist | undefined;
  #allowKey = '';
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #homeHeight;

  constructor(opts: HomeViewOptions) {
    this.#o = opts;
    this.#log = opts.log.child({ module: 'home-view' });
    this.#homeHeight = opts.metrics?.gauge('fednode_home_view_block', 'Home block the registry view was read at');
  }

  get snapshot(): HomeSnapshot | undefined {
    return this.#snapshot;
  }

  get allowlist(): PeerAllowlist | undefined {
    return this.#allowlist;
  }

  /** One read of the registry at the latest home block. */
  async refresh(): Promise<HomeSnapshot> {
    const head = await this.#o.rpc.getBlock('latest');
    if (head === undefined) throw new BridgeError({ code: 'HOME_NO_HEAD' });
    const tag = head.number;
    const read = await this.#o.rpc.withProvider(async (p) => this.#read(p, tag));
    const snapshot: HomeSnapshot = { viewTime: head.timestamp, homeBlock: head.number, epochs: read.epochs, schedulingMarginSeconds: read.margin };
    this.#snapshot = snapshot;
    this.#lastError = undefined;
    this.#homeHeight?.set(head.number);
    const key = JSON.stringify(read.allowlist);
    if (key !== this.#allowKey) {
      this.#allowKey = key;
      this.#allowlist = read.allowlist;
      this.#log.info({ validators: read.allowlist.validators.length, observers: read.allowlist.observers.length }, 'p2p allowlist from the registry');
      this.#o.onAllowlist?.(read.allowlist);
    }
    for (const w of [...this.#waiters]) w();
    this.#waiters.clear();
    return snapshot;
  }

  async #read(provider: JsonRpcProvider, blockTag: number): Promise<{ epochs: EpochInfo[]; margin: number; allowlist: PeerAllowlist }> {
    const reg = new Contract(this.#o.registry, this.#abi, provider);
    const call = async <T>(fn: string, ...args: unknown[]): Promise<T> => (await reg.getFunction(fn).staticCall(...args, { blockTag })) as T;
    const [current, margin, candidateCount] = await Promise.all([call<bigint>('currentEpoch'), call<bigint>('activationMargin'), call<bigint>('candidateCount')]);
    const epochs: EpochInfo[] = [];
    const peers = new Map<string, string>();
    for (let e = 0; e <= Number(current) + 1; e++) {
      const [, activationMtp, activationBtcHeight, frozen, active] = await call<[bigint, bigint, bigint, boolean, boolean]>('epochInfo', e);
      if (!frozen) continue;
      let cached = this.#epochs.get(e);
      if (cached === undefined) {
        const [signers, publicKeys, , peerIds] = await call<[string[], string[], bigint[], string[]]>('epochDetails', e);
        cached = {
          validators: signers.map((s) => getBytes(s)),
          keys: publicKeys.map((k) => compressPublicKey64(getBytes(k))),
          peers: signers.flatMap((s, i) => {
            const id = peerIdFromBytes(getBytes(peerIds[i]!));
            return id === undefined ? [] : [{ address: s.toLowerCase(), peerId: id }];
          }),
        };
        this.#epochs.set(e, cached); // a frozen set never changes
      }
      for (const p of cached.peers) peers.set(p.address, p.peerId);
      const [minDep, minSet] = await call<[bigint, boolean]>('paramAt', PARAM_MIN_DEPOSIT, activationMtp);
      const [window, windowSet] = await call<[bigint, boolean]>('paramAt', PARAM_OLD_ADDRESS_WINDOW, activationMtp);
      const threshold = e === 0 ? this.#o.epoch0Threshold : majorityThreshold(cached.keys.length);
      const activationHeight = e === 0 ? undefined : active ? Number(activationBtcHeight) : undefined;
      epochs.push({
        epoch: e,
        validators: cached.validators,
        script: federationScript({ keys: cached.keys, threshold, epoch: e }),
        activationTime: Number(activationMtp),
        ...(activationHeight !== undefined ? { activationHeight } : {}),
        minDepositSats: minSet ? minDep : this.#o.defaults.minDepositSats,
        oldAddressWindow: windowSet ? Number(window) : this.#o.defaults.oldAddressWindow,
      });
    }
    // Registered validators, including those waiting for their epoch (P2P.md §7).
    for (let i = 0; i < Number(candidateCount); i++) {
      const signer = await call<string>('candidates', i);
      if (peers.has(signer.toLowerCase())) continue;
      const [, , , , peerId] = await call<[string, bigint, bigint, string, string]>('validatorInfo', signer);
      const id = peerIdFromBytes(getBytes(peerId));
      if (id !== undefined) peers.set(signer.toLowerCase(), id);
    }
    const validators = [...peers.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([address, peerId]) => ({ address, peerId }));
    return { epochs, margin: Number(margin), allowlist: { validators, observers: [...this.#o.observers] } };
  }

  /** Resolves after the next successful refresh. */
  nextRefresh(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const tick = (): void => {
      this.#running = this.refresh()
        .then(() => undefined)
        .catch((err: unknown) => {
          this.#lastError = (err as Error).message;
          this.#log.warn({ err }, 'home view refresh failed');
        })
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.pollIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.#o.pollIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Ready while a snapshot exists, the last read worked and the view is within the scheduling margin. */
  health(nowSeconds: number): HealthStatus {
    const s = this.#snapshot;
    if (s === undefined) return { ok: false, detail: this.#lastError ?? 'no home view yet' };
    const age = nowSeconds - s.viewTime;
    if (age > s.schedulingMarginSeconds) return { ok: false, detail: `home view ${age}s old (margin ${s.schedulingMarginSeconds}s)` };
    if (this.#lastError !== undefined) return { ok: false, detail: this.#lastError };
    return { ok: true, detail: `home block ${s.homeBlock}` };
  }
}

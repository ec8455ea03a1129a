import { Interface, getBytes, hexlify, zeroPadValue, type InterfaceAbi } from 'ethers';
import { BridgeError } from '../../../errors.js';
import { bytesToHex, reverseBytes } from '../../../chains/bitcoin/bytes.js';
import type { EthRpc } from '../../../chains/ethereum/rpc/client.js';
import type { BatchView, EncodedCall, KeeperView, PayoutContract, VersionTxView, WitnessRecord, WitnessSig } from './types.js';

/**
 * {@link PayoutContract} over the node's failover RPC (`src/chains/ethereum/rpc`):
 * views are `eth_call`s decoded with the coordinator's ABI, witness records
 * are `WitnessRecorded` logs, and calls are only encoded — the TxSender
 * sends them (docs/PAYOUTS.md §4).
 *
 * Contract facts this relies on (contracts/payout/: PayoutCoordinator and its
 * extension behind one address): `batchInfo` → (Batch, latest Version),
 * `batchInputs` (parallel arrays, txids in internal byte order),
 * `batchWithdrawals` (ids in output order; amounts and scripts from the BSH's
 * `withdrawals(id)`), `versionInfo(id, v)` (txid, change, fee, atQuorum,
 * approved), `versionTx`, `sighashes`, `inFlight`, `nextBatchId`,
 * `nextWithdrawal` and the BSH's `nextWithdrawalId`; the witness scripts from
 * `scripts()` (`EpochScripts.epochScript`); version 0's fee rate from the
 * batch's `estFee` and `vsize` (no per-batch rate is kept; `FeeOracle.feeRate`
 * at the closing block is only a fallback).
 */

export const PAYOUT_COORDINATOR_ABI: readonly string[] = [
  'function closeBatch() returns (uint256 batchId)',
  'function bumpFee(uint256 batchId) returns (uint256 version)',
  'function submitSignature(uint256 batchId, uint256 version, (uint16 input, uint8 keyIndex, uint8 recid, bytes32 r, bytes32 s)[] sigs)',
  'function submitSignatures(uint256 batchId, uint256 version, (uint16 input, uint8 keyIndex, uint8 recid, bytes32 r, bytes32 s)[] sigs)',
  'event WitnessRecorded(uint256 indexed batchId, uint256 version, address indexed validator, (uint16 input, uint8 keyIndex, uint8 recid, bytes32 r, bytes32 s)[] sigs)',
  'function batchInfo(uint256 batchId) view returns ((uint64 depositFrom, uint32 nDeposits, uint32 nInputs, bool withReserve, bool singleEpoch, uint8 status, uint32 epoch, uint32 inputEpoch, uint32 version, uint32 vsize, uint64 estFee, uint64 total, uint64 inputSum, uint64 closedAt, uint64 lastVersionAt, uint64 approvedAt) batch, (bytes32 txid, uint64 change, uint64 fee, uint32 atQuorum, bool approved) latest)',
  'function batchInputs(uint256 batchId) view returns (bytes32[] txids, uint32[] vouts, uint64[] amounts, uint32[] epochs, uint8[] kinds)',
  'function batchWithdrawals(uint256 batchId) view returns (uint64[])',
  'function versionInfo(uint256 batchId, uint256 version) view returns ((bytes32 txid, uint64 change, uint64 fee, uint32 atQuorum, bool approved))',
  'function versionTx(uint256 batchId, uint256 version) view returns (bytes raw)',
  'function sighashes(uint256 batchId, uint256 version) view returns (bytes32[])',
  'function importDeposits(bytes[] heights)',
  'function importedHeights() view returns (uint256)',
  'function inFlight() view returns (uint256)',
  'function nextBatchId() view returns (uint256)',
  'function nextWithdrawal() view returns (uint256)',
  'function bsh() view returns (address)',
  'function scripts() view returns (address)',
  'function feeOracle() view returns (address)',
];

/** The coordinator's helpers: `EpochScripts` (witness scripts) and `FeeOracle` (the fee rate). */
const HELPERS_ABI = ['function epochScript(uint256 epoch) view returns (bytes)', 'function feeRate() view returns (uint64)'];

const BSH_ABI = [
  'function nextWithdrawalId() view returns (uint256)',
  'function depositHeightCount() view returns (uint256)',
  'function depositHeights(uint256 i) view returns (uint64)',
  'function heightDepositCount(uint256 btpHeight) view returns (uint256)',
  'function withdrawals(uint256 id) view returns (address from, uint256 amount, uint8 status, bytes script)',
];

/** `batchInfo().status` (PayoutCoordinator constants). */
export const BATCH_STATUS = { none: 0, closed: 1, confirmed: 2, conflicted: 3, refunded: 4 } as const;

export interface EthersPayoutContractOptions {
  rpc: EthRpc;
  /** PayoutCoordinator address. */
  address: string;
  /** The operator account: `eth_call` probes of the keeper duties run from it. */
  from: string;
  /** Defaults to {@link PAYOUT_COORDINATOR_ABI} (the artifact's ABI works too). */
  abi?: InterfaceAbi;
  /** `eth_getLogs` span per request for witness records. */
  maxLogRange?: number;
}

type Row = Record<string, unknown> & unknown[];

export class EthersPayoutContract implements PayoutContract {
  readonly #rpc: EthRpc;
  readonly #address: string;
  readonly #from: string;
  readonly #iface: Interface;
  readonly #bshIface = new Interface(BSH_ABI);
  readonly #helpersIface = new Interface(HELPERS_ABI);
  readonly #helpers = new Map<string, string>();
  readonly #maxLogRange: number;
  #bsh: string | undefined;
  readonly #fixedCache = new Map<bigint, Pick<BatchView, 'inputs' | 'withdrawals' | 'feeRateCandidates' | 'closedAtBlock'>>();

  constructor(o: EthersPayoutContractOptions) {
    this.#rpc = o.rpc;
    this.#address = o.address;
    this.#from = o.from;
    this.#iface = new Interface(o.abi ?? PAYOUT_COORDINATOR_ABI);
    this.#maxLogRange = o.maxLogRange ?? 5_000;
  }

  async #view(fn: string, args: unknown[] = [], tag?: number, to = this.#address, iface = this.#iface): Promise<Row> {
    const data = iface.encodeFunctionData(fn, args);
    const out = await this.#rpc.call({ to, data }, tag ?? 'latest');
    return iface.decodeFunctionResult(fn, out) as unknown as Row;
  }

  async #bshAddress(): Promise<string> {
    this.#bsh ??= String((await this.#view('bsh'))[0]);
    return this.#bsh;
  }

  /** Address of an immutable helper (`scripts`, `feeOracle`), read once. */
  async #helper(name: 'scripts' | 'feeOracle'): Promise<string> {
    let a = this.#helpers.get(name);
    if (a === undefined) {
      a = String((await this.#view(name))[0]);
      this.#helpers.set(name, a);
    }
    return a;
  }

  /** True when the call would succeed now (an `eth_call` from the operator account). */
  async #wouldSucceed(call: EncodedCall): Promise<boolean> {
    try {
      await this.#rpc.call({ from: this.#from, to: call.to, data: call.data }, 'latest');
      return true;
    } catch {
      return false;
    }
  }

  async keeperView(): Promise<KeeperView> {
    const [inFlight, nextBatchId, nextWithdrawal, imported] = await Promise.all([this.#view('inFlight'), this.#view('nextBatchId'), this.#view('nextWithdrawal'), this.#view('importedHeights')]);
    const bsh = await this.#bshAddress();
    const [[nextId], [heights]] = await Promise.all([this.#view('nextWithdrawalId', [], undefined, bsh, this.#bshIface), this.#view('depositHeightCount', [], undefined, bsh, this.#bshIface)]);
    const importedHeights = Number(imported[0] as bigint);
    const inFlightId = BigInt(inFlight[0] as bigint);
    const queued = Number(BigInt(nextId as bigint) - BigInt(nextWithdrawal[0] as bigint));
    return {
      inFlight: inFlightId === 0n ? undefined : inFlightId,
      nextBatchId: BigInt(nextBatchId[0] as bigint),
      queuedWithdrawals: queued,
      importBacklog: Number(heights as bigint) - importedHeights,
      importedHeights,
      closeDue: inFlightId === 0n && queued > 0 && (await this.#wouldSucceed(this.encodeCloseBatch())),
      // The bump delay and the surplus bound are the contract's: ask it (a reverting eth_call is "not due").
      bumpDue: inFlightId !== 0n && (await this.#wouldSucceed(this.encodeBumpFee(inFlightId))),
    };
  }

  async batch(batchId: bigint): Promise<BatchView | undefined> {
    const [info] = (await this.#view('batchInfo', [batchId])) as unknown as [Row, Row];
    const status = Number(info[5]);
    if (status === BATCH_STATUS.none) return undefined;
    const latest = BigInt(info[8] as bigint);
    const fixed = await this.#fixed(batchId, Number(info[13]), BigInt(info[9] as bigint), BigInt(info[10] as bigint));
    const versions = await Promise.all(Array.from({ length: Number(latest) + 1 }, (_, v) => this.#view('versionInfo', [batchId, v]).then((r) => r[0] as Row)));
    let approvedVersion: bigint | undefined;
    versions.forEach((v, i) => {
      if (v[4] === true) approvedVersion = BigInt(i);
    });
    return {
      batchId,
      // `closeSweep` batches pay no withdrawal (T = Σ withdrawal amounts = 0, the contract's own
      // test in `surplus()`); `closeBatch` never closes a batch without a payable withdrawal.
      kind: BigInt(info[11] as bigint) === 0n ? 'sweep' : 'payout',
      latestVersion: latest,
      approvedVersion,
      confirmed: status !== BATCH_STATUS.closed,
      changeEpoch: Number(info[6]),
      versionFees: versions.map((v) => BigInt(v[2] as bigint)),
      ...fixed,
    };
  }

  /** What never changes once a batch is closed (inputs, withdrawals, the fee rate of version 0): read once. */
  async #fixed(batchId: bigint, closedAt: number, vsize: bigint, estFee: bigint): Promise<Pick<BatchView, 'inputs' | 'withdrawals' | 'feeRateCandidates' | 'closedAtBlock'>> {
    const hit = this.#fixedCache.get(batchId);
    if (hit !== undefined) return hit;
    const [ins, ids] = await Promise.all([this.#view('batchInputs', [batchId]), this.#view('batchWithdrawals', [batchId])]);
    const [txids, vouts, amounts, epochs, kinds] = ins as unknown as [string[], bigint[], bigint[], bigint[], bigint[]];
    const bsh = await this.#bshAddress();
    const withdrawals = await Promise.all((ids[0] as bigint[]).map(async (id) => {
      const w = await this.#view('withdrawals', [id], undefined, bsh, this.#bshIface);
      return { id: BigInt(id), amountSats: BigInt(w[1] as bigint), outputScript: getBytes(w[3] as string) };
    }));
    // The batch keeps its estimate's fee and vsize, not the rate: any rate r with
    // ceil(vsize × r / 1000) = estFee builds the same bytes, and floor(1000 × estFee / vsize) is one.
    const rates = new Set<bigint>();
    if (vsize > 0n) rates.add((1000n * estFee) / vsize);
    // Fallback for a batch without an estimate: the oracle's rate at the closing block and before it.
    if (rates.size === 0) {
      const oracle = await this.#helper('feeOracle');
      for (const tag of [closedAt, closedAt - 1]) {
        if (tag < 0) continue;
        try {
          rates.add(BigInt((await this.#view('feeRate', [], tag, oracle, this.#helpersIface))[0] as bigint));
        } catch {
          // a node without that block's state
        }
      }
    }
    const fixed = {
      inputs: txids.map((t, i) => ({
        txid: bytesToHex(reverseBytes(getBytes(t))),
        vout: Number(vouts[i]),
        amountSats: BigInt(amounts[i]!),
        epoch: Number(epochs[i]),
        kind: Number(kinds[i]) === 1 ? ('p2sh-p2wsh' as const) : ('p2wsh' as const),
      })),
      withdrawals,
      feeRateCandidates: [...rates],
      closedAtBlock: closedAt,
    };
    if (this.#fixedCache.size > 64) this.#fixedCache.clear();
    this.#fixedCache.set(batchId, fixed);
    return fixed;
  }

  async versionTx(batchId: bigint, version: bigint): Promise<VersionTxView> {
    const [raw, info] = await Promise.all([this.#view('versionTx', [batchId, version]), this.#view('versionInfo', [batchId, version])]);
    return { txid: bytesToHex(reverseBytes(getBytes((info[0] as Row)[0] as string))), unsignedTx: getBytes(raw[0] as string) };
  }

  async sighashes(batchId: bigint, version: bigint): Promise<Uint8Array[]> {
    return ((await this.#view('sighashes', [batchId, version]))[0] as string[]).map((h) => getBytes(h));
  }

  async epochScript(epoch: number): Promise<Uint8Array> {
    const s = getBytes((await this.#view('epochScript', [epoch], undefined, await this.#helper('scripts'), this.#helpersIface))[0] as string);
    if (s.length === 0) throw new BridgeError({ code: 'PAYOUT_EPOCH_SCRIPT_MISSING', epoch });
    return s;
  }

  async witnessRecords(batchId: bigint, fromBlock: number): Promise<WitnessRecord[]> {
    const event = this.#iface.getEvent('WitnessRecorded')!;
    const head = await this.#rpc.blockNumber();
    const out: WitnessRecord[] = [];
    for (let from = Math.max(0, fromBlock); from <= head; from += this.#maxLogRange) {
      const logs = await this.#rpc.getLogs({
        fromBlock: from,
        toBlock: Math.min(head, from + this.#maxLogRange - 1),
        address: this.#address,
        topics: [event.topicHash, zeroPadValue(hexlify(toBytes32(batchId)), 32)],
      });
      for (const l of logs) {
        if (l.removed) continue;
        const d = this.#iface.decodeEventLog(event, l.data, l.topics);
        out.push({
          batchId: BigInt(d[0] as bigint),
          version: BigInt(d[1] as bigint),
          validator: String(d[2]).toLowerCase(),
          sigs: (d[3] as Row[]).map((s) => ({ input: Number(s[0]), keyIndex: Number(s[1]), recid: Number(s[2]), r: getBytes(s[3] as string), s: getBytes(s[4] as string) })),
        });
      }
    }
    return out;
  }

  async depositHeights(from: number, max: number): Promise<{ height: number; count: number }[]> {
    const bsh = await this.#bshAddress();
    const total = Number((await this.#view('depositHeightCount', [], undefined, bsh, this.#bshIface))[0] as bigint);
    const out: { height: number; count: number }[] = [];
    for (let i = from; i < Math.min(total, from + max); i++) {
      const height = Number((await this.#view('depositHeights', [i], undefined, bsh, this.#bshIface))[0] as bigint);
      const count = Number((await this.#view('heightDepositCount', [height], undefined, bsh, this.#bshIface))[0] as bigint);
      out.push({ height, count });
    }
    return out;
  }

  encodeImportDeposits(heights: readonly Uint8Array[]): EncodedCall {
    return { to: this.#address, data: this.#iface.encodeFunctionData('importDeposits', [heights.map((h) => hexlify(h))]) };
  }

  encodeCloseBatch(): EncodedCall {
    return { to: this.#address, data: this.#iface.encodeFunctionData('closeBatch', []) };
  }

  encodeBumpFee(batchId: bigint): EncodedCall {
    return { to: this.#address, data: this.#iface.encodeFunctionData('bumpFee', [batchId]) };
  }

  encodeSubmitSignatures(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall {
    return { to: this.#address, data: this.#iface.encodeFunctionData('submitSignatures', [batchId, version, sigs.map(sigTuple)]) };
  }

  encodeSubmitSignature(batchId: bigint, version: bigint, sigs: readonly WitnessSig[]): EncodedCall {
    return { to: this.#address, data: this.#iface.encodeFunctionData('submitSignature', [batchId, version, sigs.map(sigTuple)]) };
  }
}

function sigTuple(s: WitnessSig): [number, number, number, string, string] {
  return [s.input, s.keyIndex, s.recid, hexlify(s.r), hexlify(s.s)];
}

function toBytes32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let x = v;
  for (let i = 31; i >= 0 && x > 0n; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

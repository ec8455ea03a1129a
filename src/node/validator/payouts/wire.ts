import { decodeBTPMessage } from '../../../chains/btp/codec.js';
import { toHex } from '../../../chains/btp/bytes.js';
import { bytesToHex, reverseBytes } from '../../../chains/bitcoin/bytes.js';
import { decodeRecord } from '../../../chains/bitcoin/records.js';
import type { HomeSnapshot } from '../../../consensus/home-state.js';
import { BridgeError } from '../../../errors.js';
import type { BtpStore } from '../../rpc/store.js';
import type { ValidatorServices } from '../validator.js';
import { ValidatorStateStore } from '../state-store.js';
import { EthersPayoutContract } from './ethers-contract.js';
import { PayoutPipeline, type PayoutPipelineDeps, type PayoutPipelineOptions } from './pipeline.js';
import { openPayoutSublevel } from './store.js';
import type { DepositOutpoint } from './types.js';

/**
 * Builds the payout pipeline from the validator's services (src/node/validator/validator.ts):
 * the composition root calls `createValidatorPayouts(validator.services, {btpStore})` after
 * `validator.start()`, then `start()` / `stop()` (docs/PAYOUTS.md §4).
 */

/** Deposit outpoints of one BTP block's messages (deposit-mint, -refund, -unclaimed records), in message order. */
export function depositOutpointsOf(messages: readonly Uint8Array[]): DepositOutpoint[] {
  const out: DepositOutpoint[] = [];
  for (const m of messages) {
    const r = decodeRecord(decodeBTPMessage(m).payload);
    if (r === undefined || r.type === 'payout-confirmed') continue;
    out.push({ txid: bytesToHex(reverseBytes(r.txid)), vout: r.vout });
  }
  return out;
}

/** Addresses (lowercase 0x) of the current epoch: the activated epoch with the highest number. */
export function currentEpochValidators(snapshot: HomeSnapshot | undefined): string[] | undefined {
  const active = snapshot?.epochs.filter((e) => e.activationHeight !== undefined).sort((a, b) => b.epoch - a.epoch)[0];
  return active?.validators.map((v) => toHex(v).toLowerCase());
}

export interface ValidatorPayoutsArgs {
  /** The node's BTP blocks (`validator.btpStore`): deposit outpoints per height for the import duty. */
  btpStore?: BtpStore;
  /** PayoutCoordinator address; default: the genesis' `contracts.payout`. */
  address?: string;
  options?: Partial<PayoutPipelineOptions>;
  /** Overrides of the dependencies built here (tests). */
  deps?: Partial<PayoutPipelineDeps>;
}

export function createValidatorPayouts(s: ValidatorServices, args: ValidatorPayoutsArgs = {}): PayoutPipeline {
  const address = args.address ?? s.genesis.contracts.payout;
  if (address === undefined) throw new BridgeError({ code: 'PAYOUT_NO_COORDINATOR', message: 'no payout coordinator address (genesis contracts.payout)' });
  const contract = new EthersPayoutContract({ rpc: s.ethRpc, address, from: s.sender.address });
  const btpStore = args.btpStore;
  // The BTP pipeline persists its derivation state (ledger included) here; read-only for us.
  const stateStore = new ValidatorStateStore(s.db);
  const networkId = s.genesis.networkId;
  return new PayoutPipeline(
    {
      signingKey: s.signingKey,
      signLog: s.signLog,
      gossip: {
        publish: (w) => s.p2p.publish('payout-witness', w),
        subscribe: (h) => s.p2p.handle('payout-witness', (w, meta) => h(w, meta)),
      },
      bitcoin: s.bitcoinRpc,
      contract,
      sender: s.sender,
      store: openPayoutSublevel(s.db),
      log: s.log,
      metrics: s.metrics,
      consensusMetrics: s.consensusMetrics,
      now: s.now,
      keepers: () => currentEpochValidators(s.homeView.snapshot) ?? s.genesis.epoch0.validators.map((a) => a.toLowerCase()),
      maySign: s.maySign,
      ledger: async () => {
        const d = await stateStore.loadDerivation();
        return d === undefined ? undefined : (outpoint: string) => d.state.ledger.get(outpoint);
      },
      onStatus: (st) => {
        s.payoutStatus.signatures = st.signedInputs;
        s.payoutStatus.pendingWithdrawals = st.queuedWithdrawals;
      },
      ...(btpStore !== undefined
        ? {
            depositOutpoints: async (height: number) => {
              if (height > (await btpStore.latestHeight())) return undefined;
              const b = await btpStore.block(networkId, height);
              return b === undefined || b === null ? [] : depositOutpointsOf(b.messages);
            },
          }
        : {}),
      ...args.deps,
    },
    args.options,
  );
}

/**
 * The accountability module as the composition root builds it: from a started validator's
 * services (its EthRpc, TxSender, sign-log, database, event watchers, logger and metrics) and
 * the genesis. The Slasher is not in the genesis: it is read from the registry (`slasher()`).
 */
import type { ValidatorServices } from '../validator.js';
import { Accountability, type AccountabilityOptions } from './accountability.js';
import { slasherOfRegistry } from './chain.js';
import { signLogSignatureSource } from './own-signature.js';

/** Undefined when the registry names no slasher (a federation deployed without slashing). */
export async function accountabilityFromServices(
  s: ValidatorServices,
  opts: { options?: Partial<AccountabilityOptions>; slasher?: string } = {},
): Promise<Accountability | undefined> {
  const g = s.genesis;
  const slasher = opts.slasher ?? (await slasherOfRegistry(s.ethRpc, g.contracts.staking));
  if (slasher === undefined) {
    s.log.child({ module: 'accountability' }).warn({ registry: g.contracts.staking }, 'the registry names no slasher: accountability duties are off');
    return undefined;
  }
  return new Accountability({
    rpc: s.ethRpc,
    sender: s.sender,
    contracts: { slasher, bmv: g.contracts.bmv, registry: g.contracts.staking, ...(g.contracts.payout !== undefined ? { payout: g.contracts.payout } : {}) },
    self: s.address,
    network: { srcNetworkUid: g.srcNetworkUid, networkTypeId: g.networkTypeId },
    ownSignature: signLogSignatureSource(s.signLog, s.signingKey),
    db: s.db,
    watch: { createEventWatcher: s.createEventWatcher, startBlock: g.homeStartBlock ?? 0, confirmations: s.config.ethereum.confirmations, pollIntervalMs: s.config.ethereum.pollIntervalMs },
    log: s.log,
    metrics: s.metrics,
    ...(opts.options !== undefined ? { options: opts.options } : {}),
  });
}

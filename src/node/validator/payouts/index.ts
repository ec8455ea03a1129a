/**
 * The validator's payout pipeline (home → Bitcoin): docs/PAYOUTS.md.
 */
export { PayoutPipeline, DEFAULT_PAYOUT_PIPELINE_OPTIONS } from './pipeline.js';
export type { BitcoinBroadcaster, PayoutPipelineDeps, PayoutPipelineOptions } from './pipeline.js';
export { rederiveVersion } from './rederive.js';
export type { LedgerLookup, RederiveInput, RederivedVersion } from './rederive.js';
export { parseFederationScript } from './script-parse.js';
export { openPayoutSublevel, PayoutStore } from './store.js';
export type { BatchRecord, PayoutSublevel, StoredVersion } from './store.js';
export type * from './types.js';
export { EthersPayoutContract, PAYOUT_COORDINATOR_ABI, BATCH_STATUS } from './ethers-contract.js';
export type { EthersPayoutContractOptions } from './ethers-contract.js';
export { createValidatorPayouts, currentEpochValidators, depositOutpointsOf } from './wire.js';
export type { ValidatorPayoutsArgs } from './wire.js';

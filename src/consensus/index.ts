/** Pure protocol rules (DESIGN.md §5): no I/O, no clock of its own. docs/CONSENSUS.md. */
export * from './home-state.js';
export * from './ledger.js';
export * from './mtp.js';
export * from './derivation.js';
export * from './quorum.js';
export * from './btp-aggregator.js';
export * from './payout-aggregator.js';
export * from './equivocation.js';
export * from './safety.js';
export * from './signlog-policy.js';
export * from './signlog-format.js';
export * from './batch-version.js';
export * from './metrics.js';
export * from './keys.js';

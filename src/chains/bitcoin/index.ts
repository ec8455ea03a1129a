// Public surface of the Bitcoin side (docs/PROTOCOL.md). The regtest node
// lives in ./regtest/ and is imported from there by tests and the devnet only.
export * from './constants.js';
export * from './networks.js';
export * from './scripts.js';
export * from './output-scripts.js';
export * from './weight.js';
export * from './sighash.js';
export * from './signer.js';
export * from './witness.js';
export * from './payout.js';
export * from './records.js';
export * from './deposits.js';
export * from './rpc.js';
export * from './watcher.js';
export * from './watcher-store.js';
export * from './payout-signing.js';

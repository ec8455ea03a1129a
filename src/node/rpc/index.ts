export * from './btp-rpc.js';
export * from './params.js';
export * from './store.js';

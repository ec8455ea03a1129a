export * from './fees.js';
export * from './revert.js';
export * from './sender.js';
export * from './store.js';

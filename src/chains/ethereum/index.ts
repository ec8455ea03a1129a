/** Home (EVM) chain: local dev node, provider settings, contract artifacts, deployment and typed bindings. */
export * from './devchain.js';
export * from './provider.js';
export * from './artifacts.js';
export * from './contracts.js';
export * from './bindings.js';

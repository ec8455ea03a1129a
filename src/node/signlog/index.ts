export * from './signlog.js';
export * from './sign.js';

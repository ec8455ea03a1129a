export * from './signlog.js';

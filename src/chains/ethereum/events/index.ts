export * from './cursor.js';
export * from './watcher.js';

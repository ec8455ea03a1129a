#!/usr/bin/env node
// Entry point of the `fednode` command. The polyfill must load before libp2p.
import '../dist/polyfill.js';
const { main } = await import('../dist/node/cli/main.js');
process.exitCode = await main(process.argv);

// Loaded before every test file (vitest setupFiles): libp2p needs the polyfill first.
import '../src/polyfill.js';

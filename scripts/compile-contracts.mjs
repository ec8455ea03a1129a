#!/usr/bin/env node
// Compiles contracts/**/*.sol with the bundled solc wasm (offline, pinned 0.8.30) into
// build/contracts/<Name>.json = {abi, bytecode, deployedBytecode}. A hash of the sources and
// settings is kept in build/contracts/.stamp so an unchanged tree is a fast no-op (this runs
// before every `npm test`). Exits non-zero with solc's messages on any compile error.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'contracts');
const outDir = join(root, 'build', 'contracts');
const stampPath = join(outDir, '.stamp');

const settings = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function listSol(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listSol(p));
    else if (e.name.endsWith('.sol')) out.push(p);
  }
  return out.sort();
}

const files = listSol(srcDir);
const sources = {};
const hash = createHash('sha256').update(JSON.stringify(settings));
for (const f of files) {
  const key = relative(srcDir, f).split('\\').join('/');
  const content = readFileSync(f, 'utf8');
  sources[key] = { content };
  hash.update(key).update('\0').update(content).update('\0');
}
const stamp = hash.digest('hex');
if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
  console.log(`compile-contracts: up to date (${files.length} sources)`);
  process.exit(0);
}
if (files.length === 0) {
  console.log('compile-contracts: no contracts');
  process.exit(0);
}

const { default: solc } = await import('solc');
const t0 = Date.now();
const output = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings }), {
  import: (p) => {
    const f = join(srcDir, p);
    return existsSync(f) ? { contents: readFileSync(f, 'utf8') } : { error: `not found: ${p}` };
  },
}));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
for (const w of (output.errors ?? []).filter((e) => e.severity !== 'error')) {
  if (!/SPDX|pragma/.test(w.message)) console.warn(w.formattedMessage ?? w.message);
}
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage ?? e.message);
  console.error(`compile-contracts: ${errors.length} error(s)`);
  process.exit(1);
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
let n = 0;
for (const [file, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [name, c] of Object.entries(contracts)) {
    const bytecode = c.evm?.bytecode?.object ?? '';
    if (bytecode === '') continue; // interfaces and abstract contracts
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify({
      contractName: name,
      sourceName: file,
      abi: c.abi,
      bytecode: `0x${bytecode}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    }, null, 2));
    n++;
  }
}
writeFileSync(stampPath, stamp);
console.log(`compile-contracts: ${n} contracts from ${files.length} sources in ${Date.now() - t0} ms (solc ${solc.version()})`);

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { CONFIG_LEAVES, envNameFor } from '../../../src/node/config/leaves.js';
import { ConfigInvalidError, formatProblem, loadConfig } from '../../../src/node/config/load.js';
import { redactConfig } from '../../../src/node/config/redact.js';

const dir = mkdtempSync(join(tmpdir(), 'fednode-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.toml`);
  writeFileSync(p, text);
  return p;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('gives typed defaults with no file and no env', () => {
    const { config, warnings } = loadConfig({ env: {}, cwd: dir });
    expect(config.bitcoin.confirmations).toBe(6);
    expect(config.ethereum.rpcUrls).toEqual(['http://127.0.0.1:8545']);
    expect(config.http.host).toBe('127.0.0.1');
    expect(warnings).toEqual([]);
  });

  it('resolves a relative dataDir against the config file directory', () => {
    const f = file('dataDir = "node-a"\n');
    expect(loadConfig({ file: f, env: {} }).dataDir).toBe(join(dir, 'node-a'));
  });

  it('applies precedence flags > env > file > defaults', () => {
    const f = file('[bitcoin]\nconfirmations = 3\npollIntervalMs = 700\n[http]\nport = 9000\n');
    const env = { FEDNODE_BITCOIN_CONFIRMATIONS: '4', FEDNODE_HTTP_PORT: '9001' };
    const { config } = loadConfig({ file: f, env, sets: ['bitcoin.confirmations=5'] });
    expect(config.bitcoin.confirmations).toBe(5); // flag beats env and file
    expect(config.http.port).toBe(9001); // env beats file
    expect(config.bitcoin.pollIntervalMs).toBe(700); // file beats default
    expect(config.ethereum.chainId).toBe(31337); // default
  });

  it('reads lists from the environment as comma-separated values', () => {
    const { config } = loadConfig({ env: { FEDNODE_ETHEREUM_RPC_URLS: 'http://a:1, http://b:2' } });
    expect(config.ethereum.rpcUrls).toEqual(['http://a:1', 'http://b:2']);
  });

  it('derives one env name per leaf, all distinct', () => {
    expect(envNameFor('bitcoin.rpcUrl')).toBe('FEDNODE_BITCOIN_RPC_URL');
    const names = CONFIG_LEAVES.map((l) => l.envName);
    expect(new Set(names).size).toBe(names.length);
  });

  it('reports a bad URL with its path and the offending value', () => {
    const f = file('[bitcoin]\nrpcUrl = "localhost"\n');
    expect(problemsOf(() => loadConfig({ file: f, env: {} }))).toEqual([`bitcoin.rpcUrl: expected an http(s) URL, got "localhost" (in ${f})`]);
  });

  it('names the env variable a bad value came from', () => {
    const problems = problemsOf(() => loadConfig({ env: { FEDNODE_HTTP_PORT: 'eighty' } }));
    expect(problems).toEqual(['http.port: expected number, got "eighty" (from FEDNODE_HTTP_PORT)']);
  });

  it('reports every problem at once, each with its own path and reason', () => {
    const f = file(
      [
        'network = "Dev Net"',
        '[http]',
        'port = 70000',
        '[bitcoin]',
        'network = "moon"',
        'confirmations = 0',
        'rpcUrll = "http://x"',
        '[ethereum]',
        'rpcUrls = []',
        '[ethereum.contracts]',
        'bsh = "0x1234"',
        '[p2p]',
        'bootstrap = ["127.0.0.1:9651"]',
        '[colour]',
        'x = 1',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ file: f, env: {} })).map((p) => p.replace(` (in ${f})`, ''));
    expect(problems).toEqual(
      expect.arrayContaining([
        'network: expected a lowercase name like "devnet", got "Dev Net"',
        'http.port: expected number <= 65535, got 70000',
        'bitcoin.network: expected one of "mainnet", "testnet", "signet", "regtest", got "moon"',
        'bitcoin.confirmations: expected number >= 1, got 0',
        'bitcoin.rpcUrll: unknown key (did you mean "rpcUrl"?)',
        'ethereum.rpcUrls: expected at least one RPC URL, got 0 items',
        'ethereum.contracts.bsh: expected a 0x-prefixed 20-byte hex address, got "0x1234"',
        'p2p.bootstrap.0: expected a TCP multiaddr like /ip4/127.0.0.1/tcp/9651[/p2p/<peer id>], got "127.0.0.1:9651"',
        'colour: unknown key',
      ]),
    );
    expect(problems).toHaveLength(9);
  });

  it('rejects a wrong type in the file', () => {
    const f = file('[bitcoin]\nconfirmations = "six"\n');
    expect(problemsOf(() => loadConfig({ file: f, env: {} }))[0]).toMatch(/^bitcoin\.confirmations: expected number, got "six"/);
  });

  it('rejects a malformed --set and an unknown --set path', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, sets: ['bitcoin.rpcUrl', 'bitcoin.rpcurl=http://x:1'] }));
    expect(problems).toEqual([
      'bitcoin.rpcUrl: expected --set <path>=<value> (from --set bitcoin.rpcUrl)',
      'bitcoin.rpcurl: unknown key (did you mean "bitcoin.rpcUrl"?) (from --set bitcoin.rpcurl=http://x:1)',
    ]);
  });

  it('warns about unknown FEDNODE_ variables with a suggestion', () => {
    const { warnings } = loadConfig({ env: { FEDNODE_BITCOIN_RPCURL: 'http://x:1', FEDNODE_PASSWORD: 'secret' } });
    expect(warnings).toEqual(['ignoring unknown environment variable FEDNODE_BITCOIN_RPCURL (did you mean FEDNODE_BITCOIN_RPC_URL?)']);
  });

  it('gives a file:line:column error for TOML syntax errors', () => {
    const f = file('[bitcoin\nrpcUrl = 1\n');
    try {
      loadConfig({ file: f, env: {} });
      expect.unreachable();
    } catch (err) {
      expect(isBridgeError(err, 'CONFIG_FILE_SYNTAX')).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`^${f}:1:\\d+: invalid TOML`));
    }
  });

  it('fails on a missing file only when the file was asked for', () => {
    const missing = join(dir, 'nope.toml');
    expect(loadConfig({ file: missing, env: {} }).file).toBeUndefined();
    expect(() => loadConfig({ file: missing, env: {}, requireFile: true })).toThrow(/config file not found/);
  });

  it('redacts secrets and URL credentials', () => {
    const { config } = loadConfig({ env: { FEDNODE_BITCOIN_RPC_PASSWORD: 'hunter2', FEDNODE_ETHEREUM_RPC_URLS: 'http://u:pw@host:8545' } });
    const safe = JSON.stringify(redactConfig(config));
    expect(safe).not.toContain('hunter2');
    expect(safe).not.toContain(':pw@');
    expect(config.bitcoin.rpcPassword).toBe('hunter2'); // the original is untouched
  });
});

describe('derived defaults', () => {
  it('derives the BTP SrcNetworkUID from the Bitcoin network unless set', () => {
    expect(loadConfig({ env: {} }).config.btp.srcNetworkUid).toBe('0x10.btc');
    expect(loadConfig({ env: { FEDNODE_BITCOIN_NETWORK: 'signet' } }).config.btp.srcNetworkUid).toBe('0x3.btc');
    expect(loadConfig({ env: { FEDNODE_BITCOIN_NETWORK: 'mainnet', FEDNODE_BTP_SRC_NETWORK_UID: '0x99.btc' } }).config.btp.srcNetworkUid).toBe('0x99.btc');
  });
});

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { devnetPorts } from '../../../src/node/devnet/layout.js';
import { LiveBlock, renderStatus } from '../../../src/node/devnet/status.js';

describe('devnet status table', () => {
  const now = new Date('2026-01-02T03:04:05Z');

  it('shows every field a validator reports, and — for the ones it does not', () => {
    const lines = renderStatus({ bitcoin: 812, evm: 95 }, [
      {
        name: 'v1',
        process: 'running',
        status: {
          validator: '0x1234567890abcdef1234567890abcdef12345678',
          bitcoin: { height: 812, derivedHeight: 811 },
          ethereum: { height: 95 },
          p2p: { peers: 3 },
          btp: { lastSignedHeight: 800, lastFinalHeight: 800, lastRelayedHeight: 799 },
          signatures: { btp: 4, payout: 1 },
          pending: { btpBlocks: 1, withdrawals: 0 },
        },
      },
      { name: 'v2', process: 'running', status: { address: '0xabcdefabcdefabcdefabcdefabcdefabcdefabcd', ready: false } },
      { name: 'v3', process: 'running', status: undefined },
      { name: 'v4', process: 'exited (1)', status: undefined },
    ], now);
    expect(lines[0]).toBe('fednode devnet · bitcoin regtest height 812 · EVM block 95 · 03:04:05 UTC · Ctrl-C stops everything');
    const cells = lines.slice(2).map((l) => l.split(/\s{2,}/));
    expect(cells[0]).toEqual(['v1', '0x123456…5678', '812/811', '95', '3', '800/800/799', '4/1', '1/0', 'up']);
    expect(cells[1]).toEqual(['v2', '0xabcdef…abcd', '—', '—', '—', '—', '—', '—', 'starting']);
    expect(cells[2]).toEqual(['v3', '—', '—', '—', '—', '—', '—', '—', 'no answer']);
    expect(cells[3]!.at(-1)).toBe('exited (1)');
    // Columns line up: every row's state starts where the header's does.
    const col = lines[1]!.indexOf('state');
    for (const l of lines.slice(2)) expect(l.slice(col, col + 2)).toMatch(/^(up|st|no|ex)/);
  });

  it('redraws in place on a terminal and appends otherwise', () => {
    const capture = (tty: boolean): string => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const b = new LiveBlock(out, tty);
      b.draw(['a', 'b']);
      b.draw(['c', 'd', 'e']);
      return text;
    };
    expect(capture(true)).toBe('a\nb\n\x1b[2F\x1b[Jc\nd\ne\n');
    expect(capture(false)).toBe('a\nb\nc\nd\ne\n');
  });

  it('assigns fixed ports by default and shifted ones with a base port', () => {
    expect(devnetPorts(2)).toEqual({ evm: 8545, bitcoin: 18443, http: [8645, 8646], p2p: [9651, 9652] });
    expect(devnetPorts(3, 40_000)).toEqual({ evm: 40_000, bitcoin: 40_001, http: [40_100, 40_101, 40_102], p2p: [40_200, 40_201, 40_202] });
  });
});

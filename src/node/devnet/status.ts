/**
 * The devnet's live status table, from each validator's `GET /status`. Fields a node does not
 * report (yet) are shown as "—".
 */
import { getJson } from './processes.js';

/** What a validator's /status may carry (docs/OPERATIONS.md); every field optional. */
export interface ValidatorStatus {
  peerId?: string;
  validator?: string;
  address?: string;
  ready?: boolean;
  bitcoin?: { height?: number; derivedHeight?: number };
  ethereum?: { height?: number };
  p2p?: { peers?: number };
  peers?: number;
  btp?: { lastSignedHeight?: number; lastFinalHeight?: number; lastRelayedHeight?: number };
  signatures?: { btp?: number; payout?: number };
  pending?: { btpBlocks?: number; withdrawals?: number };
}

export interface NodeRow {
  name: string;
  /** 'running', or why not. */
  process: string;
  status: ValidatorStatus | undefined;
}

export interface ChainHeights {
  bitcoin: number | undefined;
  evm: number | undefined;
}

const DASH = '—';
const v = (x: unknown): string => ((typeof x === 'number' && x >= 0) || typeof x === 'string' ? String(x) : DASH);
const pair = (a: unknown, b: unknown): string => (a === undefined && b === undefined ? DASH : `${v(a)}/${v(b)}`);
const trip = (a: unknown, b: unknown, c: unknown): string => (a === undefined && b === undefined && c === undefined ? DASH : `${v(a)}/${v(b)}/${v(c)}`);

export async function fetchStatus(httpUrl: string, timeoutMs = 1_000): Promise<ValidatorStatus | undefined> {
  return getJson<ValidatorStatus>(`${httpUrl}/status`, timeoutMs);
}

/** The table as lines (no trailing newline). */
export function renderStatus(chains: ChainHeights, rows: readonly NodeRow[], now: Date = new Date()): string[] {
  const header = ['node', 'address', 'btc tip/derived', 'evm', 'peers', 'btp signed/final/relayed', 'sigs btp/payout', 'pending btp/wd', 'state'];
  const body = rows.map((r) => {
    const s = r.status;
    const addr = s?.validator ?? s?.address;
    return [
      r.name,
      typeof addr === 'string' ? `${addr.slice(0, 8)}…${addr.slice(-4)}` : DASH,
      pair(s?.bitcoin?.height, s?.bitcoin?.derivedHeight),
      v(s?.ethereum?.height),
      v(s?.p2p?.peers ?? s?.peers),
      trip(s?.btp?.lastSignedHeight, s?.btp?.lastFinalHeight, s?.btp?.lastRelayedHeight),
      pair(s?.signatures?.btp, s?.signatures?.payout),
      pair(s?.pending?.btpBlocks, s?.pending?.withdrawals),
      r.process !== 'running' ? r.process : s === undefined ? 'no answer' : s.ready === false ? 'starting' : 'up',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    `fednode devnet · bitcoin regtest height ${v(chains.bitcoin)} · EVM block ${v(chains.evm)} · ${now.toISOString().slice(11, 19)} UTC · Ctrl-C stops everything`,
    line(header),
    ...body.map(line),
  ];
}

/** Redraws a block of lines in place on a terminal (cursor up + clear), or prints it plainly. */
export class LiveBlock {
  #lines = 0;
  constructor(private readonly out: NodeJS.WritableStream, private readonly tty: boolean) {}

  draw(lines: readonly string[]): void {
    if (this.tty && this.#lines > 0) this.out.write(`\x1b[${this.#lines}F\x1b[J`);
    this.out.write(lines.join('\n') + '\n');
    this.#lines = lines.length;
  }

  /** Forget the block (the next draw prints below it), e.g. after other output. */
  detach(): void {
    this.#lines = 0;
  }
}

import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LoggerFactoryOptions {
  level: LogLevel;
  /** Human-readable output (pino-pretty); defaults to true when stderr is a TTY. */
  pretty?: boolean;
  /** Where JSON lines go; defaults to stderr so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

/**
 * Keys that must never reach a log line. pino removes them wherever they
 * appear (two levels deep), so a careless `log.info({config})` cannot leak.
 */
const REDACT_PATHS = [
  'password', '*.password', 'privateKey', '*.privateKey', 'secret', '*.secret',
  'mnemonic', '*.mnemonic', 'rpcPassword', '*.rpcPassword', 'authorization', '*.authorization',
];

/** The root logger. Modules take a child: `root.child({module: 'btc-watcher'})`. */
export function createLogger(opts: LoggerFactoryOptions): Logger {
  const base: LoggerOptions = {
    level: opts.level,
    base: { app: 'fednode' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stderr.isTTY === true);
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' } } });
  }
  return pino(base, opts.destination ?? pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for pure-logic tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Typed errors. Every error fednode raises on purpose is a {@link BridgeError}
 * with a stable machine-readable `code` and a context object of structured
 * fields (never secrets), so logs, RPC replies and CLI messages can all be
 * derived from one place.
 */
export type ErrorContext = Record<string, unknown>;

export interface BridgeErrorOptions<C extends string = string> {
  code: C;
  /** Human-readable message; defaults to the code plus the context. */
  message?: string;
  cause?: unknown;
  [field: string]: unknown;
}

export class BridgeError<C extends string = string> extends Error {
  readonly code: C;
  readonly context: ErrorContext;

  constructor(opts: BridgeErrorOptions<C>) {
    const { code, message, cause, ...context } = opts;
    super(message ?? defaultMessage(code, context), cause === undefined ? undefined : { cause });
    this.name = 'BridgeError';
    this.code = code;
    this.context = context;
  }

  toJSON(): { code: C; message: string; context: ErrorContext } {
    return { code: this.code, message: this.message, context: this.context };
  }
}

function defaultMessage(code: string, context: ErrorContext): string {
  const fields = Object.entries(context)
    .map(([k, v]) => `${k}=${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`)
    .join(' ');
  return fields ? `${code}: ${fields}` : code;
}

/** True when `err` is a BridgeError, optionally with the given code. */
export function isBridgeError<C extends string>(err: unknown, code?: C): err is BridgeError<C> {
  return err instanceof BridgeError && (code === undefined || err.code === code);
}

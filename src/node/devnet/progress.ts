/** Progress lines for long work: "starting EVM node… ok (0.9 s)". */
export class Progress {
  constructor(private readonly out: NodeJS.WritableStream) {}

  line(text: string): void {
    this.out.write(`${text}\n`);
  }

  /** Runs `fn`, printing `label…` before and `ok (t s)` / `FAILED (t s)` after; returns its value. */
  async step<T>(label: string, fn: () => Promise<T>, detail?: (value: T) => string): Promise<T> {
    this.out.write(`${label}… `);
    const t0 = performance.now();
    try {
      const value = await fn();
      const extra = detail ? `: ${detail(value)}` : '';
      this.out.write(`ok (${seconds(t0)})${extra}\n`);
      return value;
    } catch (err) {
      this.out.write(`FAILED (${seconds(t0)})\n`);
      throw err;
    }
  }

  /**
   * A long wait: `label…` on its own line, `  … note` lines from `fn` (what it is waiting for),
   * then `  ok (t s): detail` or `  FAILED (t s)`.
   */
  async wait<T>(label: string, fn: (note: (text: string) => void) => Promise<T>, detail?: (value: T) => string): Promise<T> {
    this.out.write(`${label}…\n`);
    const t0 = performance.now();
    try {
      const value = await fn((text) => this.out.write(`  … ${text}\n`));
      this.out.write(`  ok (${seconds(t0)})${detail ? `: ${detail(value)}` : ''}\n`);
      return value;
    } catch (err) {
      this.out.write(`  FAILED (${seconds(t0)})\n`);
      throw err;
    }
  }
}



export function seconds(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

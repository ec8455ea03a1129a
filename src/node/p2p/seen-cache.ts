/**
 * Keys of items already delivered, remembered until they would be stale
 * anyway (after that the freshness check rejects replays), with a hard size
 * cap so a flood cannot grow memory without bound.
 */
export class SeenCache {
  private readonly expiry = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  has(key: string, nowMs: number): boolean {
    const until = this.expiry.get(key);
    return until !== undefined && until > nowMs;
  }

  add(key: string, nowMs: number): void {
    this.expiry.delete(key); // re-insert at the back so insertion order stays expiry order
    this.expiry.set(key, nowMs + this.ttlMs);
    this.prune(nowMs);
  }

  get size(): number {
    return this.expiry.size;
  }

  private prune(nowMs: number): void {
    // Entries are in expiry order, so stop at the first live one.
    for (const [key, until] of this.expiry) {
      if (until > nowMs && this.expiry.size <= this.maxEntries) break;
      this.expiry.delete(key);
    }
  }
}

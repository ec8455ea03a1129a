/** FIFO with a fixed capacity: a push into a full queue is refused and counted. */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  dropped = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): boolean {
    if (this.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.items.push(item);
    return true;
  }

  /** Remove and return up to `max` items from the front. */
  take(max: number): T[] {
    const n = Math.min(max, this.length);
    const out = this.items.slice(this.head, this.head + n);
    this.head += n;
    // Compact now and then so the backing array does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  clear(): T[] {
    return this.take(this.length);
  }
}

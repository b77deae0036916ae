// A double-ended queue on a growable ring buffer: O(1) at both ends, which
// the delivery buffer needs (events leave at the front, and a failed
// stream's events go back to the front in order).

/** A FIFO queue that can also take items back at the front. */
export class Deque<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private size = 0;

  /** Number of items. */
  get length(): number {
    return this.size;
  }

  /** Adds an item at the back. */
  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) % this.items.length] = item;
    this.size++;
  }

  /** Removes and returns the front item. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.size--;
    return item;
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  /** Moves every item of other, in order, to the front of this queue, leaving other empty. */
  prependAll(other: Deque<T>): void {
    const moved: T[] = [];
    for (let item = other.shift(); item !== undefined; item = other.shift()) moved.push(item);
    for (let i = moved.length - 1; i >= 0; i--) this.unshift(moved[i]!);
  }

  /** Removes and returns every item, front first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  private unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1 + this.items.length) % this.items.length;
    this.items[this.head] = item;
    this.size++;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}

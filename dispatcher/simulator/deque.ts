/**
 * A growable ring buffer of numbers: O(1) push at the back and shift at the
 * front, without the O(n) Array.shift that would dominate a long run.
 */
export class NumberDeque {
  private buffer = new Float64Array(64);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(value: number): void {
    if (this.count === this.buffer.length) this.grow();
    this.buffer[(this.head + this.count) % this.buffer.length] = value;
    this.count++;
  }

  shift(): number {
    if (this.count === 0) throw new RangeError('shift on an empty deque');
    const value = this.buffer[this.head]!;
    this.head = (this.head + 1) % this.buffer.length;
    this.count--;
    return value;
  }

  /** The i-th value from the front. */
  at(i: number): number {
    return this.buffer[(this.head + i) % this.buffer.length]!;
  }

  private grow(): void {
    const next = new Float64Array(this.buffer.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.at(i);
    this.buffer = next;
    this.head = 0;
  }
}

/** A set that keeps only the most recently added `capacity` values: memory for ids seen lately. */
export class BoundedSet<T> {
  private readonly values = new Set<T>();

  constructor(private readonly capacity: number) {}

  has(value: T): boolean {
    return this.values.has(value);
  }

  add(value: T): void {
    this.values.delete(value); // re-adding makes it the most recent
    this.values.add(value);
    if (this.values.size > this.capacity) this.values.delete(this.values.values().next().value as T);
  }

  get size(): number {
    return this.values.size;
  }
}

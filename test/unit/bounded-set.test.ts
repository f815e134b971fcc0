import { describe, expect, it } from 'vitest';
import { BoundedSet } from '../../infra/bounded-set.js';

describe('BoundedSet', () => {
  it('keeps only the most recently added values', () => {
    const set = new BoundedSet<string>(2);
    set.add('a');
    set.add('b');
    set.add('c');
    expect([set.has('a'), set.has('b'), set.has('c'), set.size]).toEqual([false, true, true, 2]);
  });

  it('counts a value added again as recent', () => {
    const set = new BoundedSet<string>(2);
    set.add('a');
    set.add('b');
    set.add('a');
    set.add('c');
    expect([set.has('a'), set.has('b'), set.has('c')]).toEqual([true, false, true]);
  });
});

import { describe, it, expect } from 'vitest';
import { overlayLayers } from '../../../src/image/rootfs.js';

describe('overlayLayers', () => {
  it.each([
    { list: [], want: [] },
    { list: ['a'], want: ['a'] },
    { list: ['a', 'b', 'c'], want: ['a', 'b', 'c'] },
    // a layer listed several times in a row
    { list: ['a', 'a', 'a'], want: ['a'] },
    // Docker's empty layer between real ones
    { list: ['base', 'e', 'x', 'e', 'e'], want: ['base', 'x', 'e'] },
    // A, B, A: A's last place is above B, so A wins over B
    { list: ['base', 'a', 'b', 'a'], want: ['base', 'b', 'a'] },
    { list: ['a', 'b', 'a', 'b'], want: ['a', 'b'] },
    { list: ['a', 'b', 'c', 'a', 'c'], want: ['b', 'a', 'c'] },
  ])('$list stacks as $want (lowest first, each layer at its topmost place)', ({ list, want }) => {
    expect(overlayLayers(list)).toEqual(want);
  });
});

import { describe, expect, it } from 'vitest';
import { RootfsMounts } from '../../../src/services/rootfs-mounts.js';
import type { ImagePort } from '../../../src/services/lifecycle-deps.js';

/** fakeImages counts mountRootfs calls; each mount takes `ms` and fails when `fail` is set. */
function fakeImages(ms = 5, fail = false) {
  const calls: string[] = [];
  let inFlight = 0;
  let overlapped = false;
  const images = {
    async mountRootfs(id: string) {
      calls.push(id);
      if (++inFlight > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      if (fail) throw new Error('mount failed');
    },
  } as unknown as ImagePort;
  return { images, calls, overlapped: () => overlapped };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RootfsMounts', () => {
  it('soon mounts after a moment; ensure then waits for that mount instead of starting another alongside', async () => {
    const f = fakeImages(20);
    const m = new RootfsMounts(f.images);
    m.soon('c', '/r');
    expect(f.calls).toEqual([]);
    await sleep(5);
    expect(f.calls).toEqual(['c']);
    await m.ensure('c', '/r');
    expect(f.overlapped()).toBe(false);
  });

  it('an ensure that comes before the timer cancels it and mounts itself, once', async () => {
    const f = fakeImages();
    const m = new RootfsMounts(f.images);
    m.soon('c', '/r');
    await m.ensure('c', '/r');
    await sleep(10);
    expect(f.calls).toEqual(['c']);
  });

  it('a background mount that failed fails the ensure that waits for it', async () => {
    const f = fakeImages(1, true);
    const m = new RootfsMounts(f.images);
    m.soon('c', '/r');
    await sleep(10);
    await expect(m.ensure('c', '/r')).rejects.toThrow('mount failed');
  });

  it('quiet cancels a mount not begun yet, so nothing lands after an unmount', async () => {
    const f = fakeImages();
    const m = new RootfsMounts(f.images);
    m.soon('c', '/r');
    await m.quiet('c');
    await sleep(10);
    expect(f.calls).toEqual([]);
  });
});

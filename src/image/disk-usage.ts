import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from '../errors/index.js';

/** Usage is what a tree really takes on disk: allocated bytes and inodes, hard links counted once. */
export interface Usage {
  bytes: number;
  inodes: number;
}

/** PARALLEL is how many lstat/readdir calls the walk keeps in flight (one at a time costs a round trip each). */
const PARALLEL = 32;

/** eachBounded runs `fn` over items with at most `limit` in flight. */
async function eachBounded<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const gone = <T>(e: unknown): T | undefined => {
  if (isErrno(e, 'ENOENT')) return undefined;
  throw e;
};

/**
 * diskUsage walks `root` without following symlinks and sums allocated blocks (st_blocks × 512) and inodes,
 * counting each inode once; `seen` carries inodes across several calls on one filesystem. Entries that vanish
 * during the walk are skipped. The walk goes level by level with many calls in flight.
 */
export async function diskUsage(root: string, seen = new Set<number>()): Promise<Usage> {
  const u: Usage = { bytes: 0, inodes: 0 };
  let level = [root];
  while (level.length) {
    const dirs: string[] = [];
    await eachBounded(level, PARALLEL, async (p) => {
      const st: Stats | undefined = await lstat(p).catch((e: unknown) => gone<Stats>(e));
      if (!st) return;
      if (!seen.has(st.ino)) {
        seen.add(st.ino);
        u.bytes += st.blocks * 512;
        u.inodes++;
      }
      if (st.isDirectory()) dirs.push(p);
    });
    const children: string[] = [];
    await eachBounded(dirs, PARALLEL, async (d) => {
      const names = await readdir(d).catch((e: unknown) => gone<string[]>(e));
      for (const n of names ?? []) children.push(join(d, n));
    });
    level = children;
  }
  return u;
}

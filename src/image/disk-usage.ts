import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors/index.js';

/** Usage is what a tree really takes on disk: allocated bytes and inodes, hard links counted once. */
export interface Usage {
  bytes: number;
  inodes: number;
}

/**
 * diskUsage walks `root` without following symlinks and sums allocated blocks (st_blocks × 512) and inodes,
 * counting each inode once; `seen` carries inodes across several calls on one filesystem. Entries that vanish
 * during the walk are skipped.
 */
export async function diskUsage(root: string, seen = new Set<number>()): Promise<Usage> {
  const u: Usage = { bytes: 0, inodes: 0 };
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    let st;
    try {
      st = await lstat(p, { bigint: false });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue;
      throw e;
    }
    if (!seen.has(st.ino)) {
      seen.add(st.ino);
      u.bytes += st.blocks * 512;
      u.inodes++;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(p);
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        throw e;
      }
      for (const n of names) stack.push(join(p, n));
    }
  }
  return u;
}

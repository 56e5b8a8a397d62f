import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors/index.js';

/** PRIVATE_DIR_MODE and PRIVATE_FILE_MODE are the modes of what fune keeps for root alone. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * TightenRule says what to do with one entry of a walk, by its path relative to the walk's top (as segments):
 * 'skip' leaves it and everything below alone (content with its own modes, another tool's state); 'keep' leaves
 * its mode but still walks into a directory; undefined (the default) takes group and other bits away.
 */
export type TightenRule = (rel: readonly string[]) => 'skip' | 'keep' | undefined;

/** TightenResult counts what a walk changed, with the paths changed (for the log). */
export interface TightenResult {
  changed: string[];
  seen: number;
}

/**
 * tightenTree takes group and other permission bits away from every directory and regular file under `top`
 * (not `top` itself), so that only the owner (root) can reach them. It never follows a symlink, never changes a
 * socket, FIFO or device, and does not go into another filesystem below the first level (a mounted rootfs,
 * tmpfs or namespace file, whose modes are what the container sees); `rule` names the other exceptions. Entries
 * that vanish during the walk are skipped. `maxDepth` bounds the walk.
 */
export async function tightenTree(top: string, rule: TightenRule, maxDepth = 8): Promise<TightenResult> {
  const out: TightenResult = { changed: [], seen: 0 };
  const walk = async (dir: string, rel: string[], dev: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return;
      throw e;
    }
    for (const name of names) {
      const path = join(dir, name);
      const r = [...rel, name];
      const what = rule(r);
      if (what === 'skip') continue;
      const st = await lstat(path).catch((e: unknown) => {
        if (isErrno(e, 'ENOENT')) return undefined;
        throw e;
      });
      if (!st) continue;
      out.seen++;
      const isDir = st.isDirectory();
      if (!isDir && !st.isFile()) continue;
      // A mount point below the first level: a rootfs, shm, an image volume or a namespace file.
      if (r.length > 1 && st.dev !== dev) continue;
      if (what !== 'keep' && (st.mode & 0o077) !== 0) {
        await chmod(path, st.mode & 0o7700);
        out.changed.push(path);
      }
      if (isDir && r.length < maxDepth) await walk(path, r, st.dev);
    }
  };
  const st = await lstat(top);
  await walk(top, [], st.dev);
  return out;
}

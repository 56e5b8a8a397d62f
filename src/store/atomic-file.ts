import { open, rename, mkdir, rm, readFile, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isErrno } from '../errors/index.js';

/** TMP_PREFIX marks temporary files; start-up recovery removes any left by a crash. */
export const TMP_PREFIX = '.tmp-';

/** fsyncDir makes a directory's entries (a rename, a new file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * writeFileAtomic replaces `path` with `data` so that a crash leaves either the old or the new content, never a
 * mix: write a temporary file beside it, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${TMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** readFileIfExists reads a file, or gives undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/**
 * removeFile deletes one file; a file already gone is fine. (fs.rm with `force` walks the path as a tree: an lstat
 * and a JS-side recursion before the unlink.)
 */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

/**
 * removeTreeAtomic deletes a directory so that a crash never leaves it half-removed under its own name: it is
 * renamed to a temporary name first (which recovery sweeps), then removed.
 */
export async function removeTreeAtomic(path: string): Promise<void> {
  const doomed = join(dirname(path), `${TMP_PREFIX}rm-${basename(path)}.${randomBytes(4).toString('hex')}`);
  try {
    await rename(path, doomed);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  await fsyncDir(dirname(path));
  await rm(doomed, { recursive: true, force: true });
}

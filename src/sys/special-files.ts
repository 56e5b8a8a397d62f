import type { ProcessRunner } from './process-runner.js';
import { runChecked } from './process-runner.js';

/**
 * SpecialFiles makes the files Node's fs cannot: device nodes and fifos (mknod(2)) and extended attributes
 * (setxattr(2)). Used by layer unpacking for overlayfs whiteouts, opaque directories and image xattrs.
 */
export interface SpecialFiles {
  /** mknod makes a character ('c') or block ('b') device or a fifo ('p') at `path` with `mode` (permission bits). */
  mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, mode: number): Promise<void>;
  /** setXattr sets an extended attribute on `path` itself (not following a symlink). */
  setXattr(path: string, name: string, value: Buffer): Promise<void>;
}

/** toolSpecialFiles does it with coreutils `mknod` and attr's `setfattr`, through the process runner. */
export function toolSpecialFiles(runner: ProcessRunner): SpecialFiles {
  return {
    async mknod(path, type, major, minor, mode) {
      const m = (mode & 0o7777).toString(8);
      const args = type === 'p' ? ['-m', m, '--', path, 'p'] : ['-m', m, '--', path, type, String(major), String(minor)];
      await runChecked(runner, 'mknod', args, { timeoutMs: 30_000 });
    },
    async setXattr(path, name, value) {
      await runChecked(runner, 'setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, '--', path], { timeoutMs: 30_000 });
    },
  };
}

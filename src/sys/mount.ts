import type { ProcessRunner } from './process-runner.js';
import { runChecked } from './process-runner.js';
import { readFile } from 'node:fs/promises';

/** MountRequest is one mount(8) call. */
export interface MountRequest {
  source: string;
  target: string;
  fstype: string;
  options: string[];
  /**
   * cwd is the directory mount runs in: relative paths in `options` (overlay lowerdirs) resolve against it, which
   * keeps long layer chains under the one-page limit of mount options.
   */
  cwd?: string;
}

/** Mounter is the seam for mount and unmount; the only place fune mounts filesystems. */
export interface Mounter {
  mount(req: MountRequest): Promise<void>;
  /** unmount unmounts `target`; a target that is not mounted is not an error. */
  unmount(target: string): Promise<void>;
  /** isMounted tells whether `target` is a mount point (from /proc/self/mountinfo). */
  isMounted(target: string): Promise<boolean>;
}

/** MOUNT_OPTIONS_LIMIT is the kernel's bound on the option string of mount(2): one page. */
export const MOUNT_OPTIONS_LIMIT = 4096;

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** mountPoints reads the mount points of this process's mount namespace. */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => unescapeMountinfo(l.split(' ')[4] ?? ''));
}

/** toolMounter runs util-linux mount(8) and umount(8) through the process runner. */
export function toolMounter(runner: ProcessRunner): Mounter {
  const m: Mounter = {
    async mount(req) {
      const opts = req.options.join(',');
      if (opts.length >= MOUNT_OPTIONS_LIMIT) throw new Error(`mount options for ${req.target} are ${opts.length} bytes, over the ${MOUNT_OPTIONS_LIMIT}-byte limit`);
      await runChecked(runner, 'mount', ['-t', req.fstype, '-o', opts, '--', req.source, req.target], { cwd: req.cwd, timeoutMs: 60_000 });
    },
    async unmount(target) {
      if (!(await m.isMounted(target))) return;
      await runChecked(runner, 'umount', ['--', target], { timeoutMs: 60_000 });
    },
    async isMounted(target) {
      return (await mountPoints()).includes(target);
    },
  };
  return m;
}

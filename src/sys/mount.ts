import type { ProcessRunner } from './process-runner.js';
import { runChecked } from './process-runner.js';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

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

/**
 * MountAddon is native/mount: mount(2) and umount2(2) on libuv's threadpool (cb gets 0 or -errno), and a mount-root
 * test by statx (1, 0, or -errno). With `cwd`, relative paths in `data` resolve against it (a thread of the addon's
 * own changes into it). See native/mount/mount.c.
 */
export interface MountAddon {
  mount(source: string, target: string, fstype: string, flags: number, data: string | null, cwd: string | null, cb: (err: number) => void): void;
  umount(target: string, flags: number, cb: (err: number) => void): void;
  isMountPoint(path: string): number;
}

const MOUNT_ADDON_PATH = join('native', 'mount', 'build', 'Release', 'fune_mount.node');
let mountAddon: MountAddon | null | undefined;

/**
 * loadMountAddon loads native/mount once (null when it was not built, or the kernel's statx cannot tell a mount
 * root: Linux < 5.8; fune then runs mount(8) and umount(8)).
 */
export function loadMountAddon(): MountAddon | null {
  if (mountAddon !== undefined) return mountAddon;
  mountAddon = null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, MOUNT_ADDON_PATH);
    if (!existsSync(file)) continue;
    const addon = createRequire(import.meta.url)(file) as MountAddon;
    if (addon.isMountPoint('/') === 1) mountAddon = addon;
    break;
  }
  return mountAddon;
}

/** MS_FLAGS are the mount options that are mount(2) flags, not filesystem data (as mount(8) reads them). */
const MS_FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [1, 0], rw: [0, 1], nosuid: [2, 0], suid: [0, 2], nodev: [4, 0], dev: [0, 4], noexec: [8, 0], exec: [0, 8],
  sync: [16, 0], async: [0, 16], dirsync: [128, 0], noatime: [1024, 0], atime: [0, 1024], nodiratime: [2048, 0],
  diratime: [0, 2048], relatime: [1 << 21, 0], norelatime: [0, 1 << 21], strictatime: [1 << 24, 0], lazytime: [1 << 25, 0],
};
/** TOOL_ONLY are options only mount(8) understands (they are not the kernel's): such a mount goes to mount(8). */
const TOOL_ONLY = /^(defaults|auto|noauto|user|users|nouser|owner|group|nofail|bind|rbind|loop|remount|move|x-.*|_netdev|comment=.*)$/;

/** mountArgs splits mount(8)-style options into mount(2)'s flags and data, or undefined when only mount(8) can do them. */
export function mountArgs(options: readonly string[]): { flags: number; data: string } | undefined {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o === '') continue;
    const f = MS_FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (TOOL_ONLY.test(o) || o.startsWith('propagation')) return undefined;
    else data.push(o);
  }
  return { flags, data: data.join(',') };
}

const errnoName = (err: number) => {
  try {
    return getSystemErrorName(err);
  } catch {
    return `errno ${-err}`;
  }
};

/** syscallMount mounts through the addon; a failure is an Error naming the call and the errno. */
export function syscallMount(addon: MountAddon, req: MountRequest, args: { flags: number; data: string }): Promise<void> {
  return new Promise((resolve, reject) =>
    addon.mount(req.source, req.target, req.fstype, args.flags, args.data || null, req.cwd ?? null, (err) =>
      err === 0 ? resolve() : reject(Object.assign(new Error(`mount -t ${req.fstype} ${req.source} on ${req.target}: ${errnoName(err)}`), { errno: err, code: errnoName(err) })),
    ),
  );
}

/** MNT_DETACH is umount2's lazy flag (umount -l). */
export const MNT_DETACH = 2;

/**
 * syscallUnmount unmounts `target` through the addon; a target that is not a mount point (EINVAL while statx says so)
 * or does not exist is fine, as the tools' callers treat it.
 */
export function syscallUnmount(addon: MountAddon, target: string, flags = 0): Promise<void> {
  return new Promise((resolve, reject) =>
    addon.umount(target, flags, (err) => {
      if (err === 0 || err === -2 /* ENOENT */) return resolve();
      if (err === -22 /* EINVAL */ && addon.isMountPoint(target) !== 1) return resolve();
      reject(Object.assign(new Error(`umount ${target}: ${errnoName(err)}`), { errno: err, code: errnoName(err) }));
    }),
  );
}

/** isMountRoot tells through the addon whether `target` is a mount point (a missing path is not). */
export function isMountRoot(addon: MountAddon, target: string): boolean {
  const r = addon.isMountPoint(target);
  if (r === 1 || r === 0 || r === -2 || r === -20 /* ENOTDIR */) return r === 1;
  throw Object.assign(new Error(`statx ${target}: ${errnoName(r)}`), { errno: r, code: errnoName(r) });
}

/**
 * syscallMounter is the Mounter with native/mount: mount(2) and umount2(2) on libuv's threadpool and statx for
 * isMounted, no mount(8), umount(8) or read of /proc/self/mountinfo (each of which costs more the more pods run);
 * options only mount(8) understands still go to `tools`.
 */
export function syscallMounter(addon: MountAddon, tools: Mounter): Mounter {
  return {
    async mount(req) {
      const opts = req.options.join(',');
      if (opts.length >= MOUNT_OPTIONS_LIMIT) throw new Error(`mount options for ${req.target} are ${opts.length} bytes, over the ${MOUNT_OPTIONS_LIMIT}-byte limit`);
      const args = mountArgs(req.options);
      if (!args) return tools.mount(req);
      await syscallMount(addon, req, args);
    },
    unmount: (target) => syscallUnmount(addon, target),
    isMounted: async (target) => isMountRoot(addon, target),
  };
}

/** nodeMounter is syscallMounter over toolMounter when native/mount is there, else toolMounter. */
export function nodeMounter(runner: ProcessRunner): Mounter {
  const addon = loadMountAddon();
  const tools = toolMounter(runner);
  return addon ? syscallMounter(addon, tools) : tools;
}

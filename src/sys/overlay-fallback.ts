import { runChecked, type ProcessRunner } from './process-runner.js';
import type { Mounter, MountRequest } from './mount.js';

/**
 * The fuse-overlayfs fallback of a node in a user namespace. The kernel mounts overlayfs there since Linux 5.11
 * (with `userxattr`), but an older kernel, or one whose distribution turned it off, refuses: EPERM ("permission
 * denied", "must be superuser") or no overlay at all in that namespace. Then each overlay mount is made by
 * fuse-overlayfs instead (Debian: fuse-overlayfs; it needs /dev/fuse), as rootless containerd's fuse-overlayfs
 * snapshotter and rootless Podman do. It reads the same layers: whiteouts as 0:0 character devices, opaque
 * directories by `user.overlay.opaque`. The first refusal switches the node over for good (logged once); a failure
 * that is not a refusal (a missing directory, a bad option) is the mount's own error and changes nothing.
 * fuse-overlayfs takes the same lowerdir/upperdir/workdir options (not `userxattr`, which it has no use for) and
 * daemonizes once the mount is up; umount(8) takes the mount down like any other. (No `--` before the target:
 * fuse-overlayfs 1.10 hands it on to libfuse, which refuses it as an option.)
 */

/**
 * OVERLAY_REFUSED tells a kernel's refusal of overlayfs from other mount failures: EPERM or ENODEV from mount(2)
 * (the mount addon's errors name the errno), or mount(8)'s messages for them.
 */
export const OVERLAY_REFUSED = /\bEPERM\b|\bENODEV\b|permission denied|must be superuser|operation not permitted|unknown filesystem type 'overlay'/i;

/** fuseOptions are the mount options for fuse-overlayfs: the overlay's, without the kernel-only ones. */
export function fuseOptions(options: string[]): string[] {
  return options.filter((o) => o !== 'userxattr');
}

/** OverlayFallbackOptions tune the fallback. */
export interface OverlayFallbackOptions {
  runner: ProcessRunner;
  /** fuseOverlayfs is the program (default: fuse-overlayfs on PATH). */
  fuseOverlayfs?: string;
  /** onFallback is told once, when the first refusal switches the node to fuse-overlayfs. */
  onFallback?: (refusal: Error) => void;
}

/** overlayFallbackMounter wraps `inner`: overlay mounts go to fuse-overlayfs once the kernel refused one. */
export function overlayFallbackMounter(inner: Mounter, o: OverlayFallbackOptions): Mounter & { readonly usingFuse: boolean } {
  let fuse = false;
  const fuseMount = async (req: MountRequest, refusal?: Error) => {
    const bin = o.fuseOverlayfs ?? 'fuse-overlayfs';
    try {
      await runChecked(o.runner, bin, ['-o', fuseOptions(req.options).join(','), req.target], { cwd: req.cwd, timeoutMs: 60_000 });
    } catch (e) {
      if (!refusal) throw e;
      throw new Error(`the kernel refused an overlay mount in this user namespace (${refusal.message}), and the fuse-overlayfs fallback failed too (Debian: apt-get install fuse-overlayfs; it needs /dev/fuse): ${(e as Error).message}`, { cause: e });
    }
  };
  return {
    get usingFuse() {
      return fuse;
    },
    async mount(req) {
      if (req.fstype !== 'overlay') return inner.mount(req);
      if (fuse) return fuseMount(req);
      try {
        await inner.mount(req);
      } catch (e) {
        if (!OVERLAY_REFUSED.test((e as Error).message)) throw e;
        await fuseMount(req, e as Error);
        fuse = true;
        o.onFallback?.(e as Error);
      }
    },
    unmount: (target) => inner.unmount(target),
    isMounted: (target) => inner.isMounted(target),
  };
}

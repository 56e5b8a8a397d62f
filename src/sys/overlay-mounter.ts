import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, type ProcessRunner } from './process-runner.js';
import type { Mounter, MountRequest } from './mount.js';

/**
 * Which program mounts a node's overlays: the kernel's overlayfs, or fuse-overlayfs where the kernel refuses
 * overlayfs in a user namespace (before Linux 5.11, or a distribution kernel that turns it off), as rootless
 * containerd's fuse-overlayfs snapshotter and rootless Podman do. fuse-overlayfs reads the layers fune writes for
 * a user namespace as they are: whiteouts as 0:0 character devices, opaque directories by `user.overlay.opaque`.
 * The choice is made once at start-up by a probe mount (probeOverlay), not by the first container's failure.
 */

/** OverlayMounterName is what mounts overlays on this node. */
export type OverlayMounterName = 'kernel' | 'fuse-overlayfs';

/** OverlayChoice is the probe's answer, kept in the node's facts (Status verbose `node.overlay`). */
export interface OverlayChoice {
  mounter: OverlayMounterName;
  /** reason says why: configured, the probe mount's result, or the kernel's refusal that sent it to fuse-overlayfs. */
  reason: string;
}

/** FUSE_DROPPED are overlay options that only the kernel's overlayfs knows. */
const FUSE_DROPPED = new Set(['userxattr', 'redirect_dir=on', 'redirect_dir=off', 'index=on', 'index=off', 'metacopy=on', 'metacopy=off', 'volatile']);

/** fuseOverlayArgs are fuse-overlayfs's arguments for an overlay mount request (options first, then the target). */
export function fuseOverlayArgs(req: MountRequest): string[] {
  const opts = req.options.filter((o) => o !== '' && !FUSE_DROPPED.has(o));
  return ['-o', opts.join(','), req.target];
}

/**
 * fuseOverlayMounter is `inner` with every overlay mount made by fuse-overlayfs instead (same lowerdir, upperdir and
 * workdir options, relative lowerdirs against the same cwd; fuse-overlayfs resolves them once and daemonizes when the
 * mount is up). Other mounts, unmounts (umount2 takes a FUSE mount down like any other) and isMounted are inner's.
 */
export function fuseOverlayMounter(inner: Mounter, runner: ProcessRunner, program = 'fuse-overlayfs'): Mounter {
  return {
    async mount(req) {
      if (req.fstype !== 'overlay') return inner.mount(req);
      await runChecked(runner, program, fuseOverlayArgs(req), { cwd: req.cwd, timeoutMs: 60_000 });
    },
    unmount: (target) => inner.unmount(target),
    isMounted: (target) => inner.isMounted(target),
  };
}

/**
 * OVERLAY_REFUSED tells the kernel's refusal of overlayfs from other failures of the probe: EPERM (not allowed in
 * this user namespace), ENODEV (no overlay filesystem here), or mount(8)'s messages for them.
 */
export const OVERLAY_REFUSED = /\bEPERM\b|\bENODEV\b|\bEACCES\b|permission denied|must be superuser|operation not permitted|unknown filesystem type/i;

/** OverlayProbe is what probeOverlay needs. */
export interface OverlayProbe {
  /** configured: runtime.overlay_mounter ("auto" probes). */
  configured: 'auto' | OverlayMounterName;
  /** inUserNamespace: only there does "auto" probe (as real root the kernel's overlayfs is taken as given). */
  inUserNamespace: boolean;
  /** dir is a scratch directory on the filesystem of the layers (made and removed here). */
  dir: string;
  /** options are the node's overlay options for the kernel (`userxattr` in a user namespace). */
  options: string[];
  mounter: Mounter;
  runner: ProcessRunner;
  program?: string;
}

/**
 * probeOverlay picks the overlay mounter at start-up. "kernel" and "fuse-overlayfs" are taken as configured; "auto"
 * on a node in a user namespace mounts a one-layer overlay in `dir` with the node's options: mounted, the kernel's
 * overlayfs is used; refused (OVERLAY_REFUSED), the same probe through fuse-overlayfs decides, and when that fails
 * too the error says both. A probe failure that is not a refusal is thrown as it is.
 */
export async function probeOverlay(p: OverlayProbe): Promise<OverlayChoice> {
  if (p.configured !== 'auto') return { mounter: p.configured, reason: `runtime.overlay_mounter = "${p.configured}"` };
  if (!p.inUserNamespace) return { mounter: 'kernel', reason: 'real root: the kernel\'s overlayfs' };
  const tryMount = async (m: Mounter): Promise<void> => {
    await rm(p.dir, { recursive: true, force: true });
    for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(join(p.dir, d), { recursive: true });
    const target = join(p.dir, 'merged');
    try {
      await m.mount({ source: 'overlay', fstype: 'overlay', target, options: ['lowerdir=lower', 'upperdir=upper', 'workdir=work', ...p.options], cwd: p.dir });
    } finally {
      await m.unmount(target).catch(() => undefined);
    }
  };
  try {
    try {
      await tryMount(p.mounter);
      return { mounter: 'kernel', reason: 'a probe mount of overlayfs in this user namespace worked' };
    } catch (e) {
      const refusal = (e as Error).message;
      if (!OVERLAY_REFUSED.test(refusal)) throw e;
      try {
        await tryMount(fuseOverlayMounter(p.mounter, p.runner, p.program));
      } catch (f) {
        throw new Error(`the kernel refused an overlay mount in this user namespace (${refusal}), and fuse-overlayfs failed too (Debian: apt-get install fuse-overlayfs; it needs /dev/fuse): ${(f as Error).message}`, { cause: f });
      }
      return { mounter: 'fuse-overlayfs', reason: `the kernel refused overlayfs in this user namespace (${refusal})` };
    }
  } finally {
    await rm(p.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

import { runChecked, type ProcessRunner } from '../sys/process-runner.js';
import { loadMountAddon, MNT_DETACH, syscallMount, syscallUnmount } from '../sys/mount.js';
import { readFile } from 'node:fs/promises';

/** mountPoints gives the set of mount points in /proc/self/mountinfo (octal escapes decoded). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/**
 * mountTmpfs mounts a tmpfs of `sizeBytes` at `target` (the pod's /dev/shm); `owner` (host ids) owns its root, for
 * a pod with its own user namespace, whose root it then is.
 */
export async function mountTmpfs(runner: ProcessRunner, target: string, sizeBytes: number, owner?: { uid: number; gid: number }): Promise<void> {
  const own = owner ? `,uid=${owner.uid},gid=${owner.gid}` : '';
  // mount(2) through native/mount when it is there (nosuid, nodev, noexec as flags), else mount(8).
  const addon = loadMountAddon();
  if (addon) return syscallMount(addon, { source: 'shm', target, fstype: 'tmpfs', options: [] }, { flags: 2 | 4 | 8, data: `mode=1777,size=${sizeBytes}${own}` });
  await runChecked(runner, 'mount', ['-t', 'tmpfs', '-o', `rw,nosuid,nodev,noexec,mode=1777,size=${sizeBytes}${own}`, 'shm', target], { timeoutMs: 30_000 });
}

/** unmount unmounts `target` (lazily, so a process still holding it cannot block removal); not mounted is fine. */
export async function unmount(runner: ProcessRunner, target: string): Promise<void> {
  const addon = loadMountAddon();
  if (addon) return syscallUnmount(addon, target, MNT_DETACH);
  if (!(await mountPoints()).has(target)) return;
  await runChecked(runner, 'umount', ['-l', target], { timeoutMs: 30_000 });
}

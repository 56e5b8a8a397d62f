import { describe, expect, it } from 'vitest';
import { fuseOptions, overlayFallbackMounter } from '../../../src/sys/overlay-fallback.js';
import { RuntimeError } from '../../../src/errors/index.js';
import type { Mounter, MountRequest } from '../../../src/sys/mount.js';
import type { ProcessRunner, RunOptions } from '../../../src/sys/process-runner.js';

/**
 * The kernel's refusal of overlayfs in a user namespace cannot be caused on the test hosts (5.11+ allow it), so it is
 * injected: the inner mounter fails overlay mounts with mount(8)'s message for it, and fuse-overlayfs is a runner
 * that records its command lines (and can fail).
 */
function fakes(refusal: string | undefined, fuseCode = 0) {
  const kernel: MountRequest[] = [];
  const fuse: { cmd: string; args: readonly string[]; cwd?: string }[] = [];
  const inner: Mounter = {
    async mount(req) {
      if (req.fstype === 'overlay' && refusal) throw new RuntimeError('Internal', `mount -t overlay -o ${req.options.join(',')} -- overlay ${req.target}: exit status 32: mount: ${req.target}: ${refusal}`);
      kernel.push(req);
    },
    unmount: async () => undefined,
    isMounted: async () => false,
  };
  const runner: ProcessRunner = {
    spawn: () => {
      throw new Error('no');
    },
    async run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
      fuse.push({ cmd, args, cwd: opts.cwd });
      return { code: fuseCode, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(fuseCode ? 'fuse: device not found, try \'modprobe fuse\' first' : ''), timedOut: false };
    },
  };
  return { inner, runner, kernel, fuse };
}

const rootfs: MountRequest = { source: 'overlay', fstype: 'overlay', target: '/s/rootfs/c1/merged', options: ['lowerdir=l/A:l/B', 'upperdir=/s/rootfs/c1/upper', 'workdir=/s/rootfs/c1/work', 'userxattr'], cwd: '/s/layers/l' };

describe('the fuse-overlayfs fallback (refusal injected)', () => {
  it('keeps the kernel\'s overlayfs while it mounts', async () => {
    const f = fakes(undefined);
    const m = overlayFallbackMounter(f.inner, { runner: f.runner });
    await m.mount(rootfs);
    expect(f.kernel).toEqual([rootfs]);
    expect(f.fuse).toEqual([]);
    expect(m.usingFuse).toBe(false);
  });

  it.each([
    'permission denied.',
    'must be superuser to use mount.',
    'unknown filesystem type \'overlay\'.',
    'EPERM',
    'ENODEV',
  ])('on a refusal (%s) mounts with fuse-overlayfs, without userxattr, from the same directory, and stays with it', async (refusal) => {
    const f = fakes(refusal);
    const told: string[] = [];
    const m = overlayFallbackMounter(f.inner, { runner: f.runner, onFallback: (e) => told.push(e.message) });
    await m.mount(rootfs);
    await m.mount({ ...rootfs, target: '/s/rootfs/c2/merged' });
    expect(f.fuse).toEqual([
      { cmd: 'fuse-overlayfs', args: ['-o', 'lowerdir=l/A:l/B,upperdir=/s/rootfs/c1/upper,workdir=/s/rootfs/c1/work', '/s/rootfs/c1/merged'], cwd: '/s/layers/l' },
      { cmd: 'fuse-overlayfs', args: ['-o', 'lowerdir=l/A:l/B,upperdir=/s/rootfs/c1/upper,workdir=/s/rootfs/c1/work', '/s/rootfs/c2/merged'], cwd: '/s/layers/l' },
    ]);
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(refusal);
    expect(m.usingFuse).toBe(true);
  });

  it('other mounts (binds, tmpfs) still go to the kernel after the switch', async () => {
    const f = fakes('permission denied.');
    const m = overlayFallbackMounter(f.inner, { runner: f.runner });
    await m.mount(rootfs);
    const bind: MountRequest = { source: '/a', fstype: 'none', target: '/b', options: ['bind'] };
    await m.mount(bind);
    expect(f.kernel).toEqual([bind]);
  });

  it('a failure that is not a refusal is the mount\'s own error, and fuse-overlayfs is not tried', async () => {
    const f = fakes('special device overlay does not exist.');
    const m = overlayFallbackMounter(f.inner, { runner: f.runner });
    await expect(m.mount(rootfs)).rejects.toThrow(/special device overlay does not exist/);
    expect(f.fuse).toEqual([]);
    expect(m.usingFuse).toBe(false);
  });

  it('when fuse-overlayfs fails too, the error gives both reasons and the fix, and the next mount tries the kernel again', async () => {
    const f = fakes('permission denied.', 1);
    const m = overlayFallbackMounter(f.inner, { runner: f.runner });
    await expect(m.mount(rootfs)).rejects.toThrow(/the kernel refused an overlay mount in this user namespace \(.*permission denied\.\), and the fuse-overlayfs fallback failed too \(Debian: apt-get install fuse-overlayfs; it needs \/dev\/fuse\): .*modprobe fuse/);
    expect(m.usingFuse).toBe(false);
    await expect(m.mount(rootfs)).rejects.toThrow(/the kernel refused/);
    expect(f.fuse).toHaveLength(2);
  });

  it('fuseOptions drops only the kernel-only userxattr', () => {
    expect(fuseOptions(['lowerdir=a', 'userxattr', 'ro', 'nosuid'])).toEqual(['lowerdir=a', 'ro', 'nosuid']);
  });
});

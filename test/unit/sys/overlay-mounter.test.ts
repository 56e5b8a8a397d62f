// The overlay mounter's choice at start-up (probeOverlay) and the fuse-overlayfs mounter, with a fake kernel mounter
// (refusals injected: the guest's kernel 6.1 mounts overlayfs in a user namespace, so it cannot refuse) and a fake
// runner standing in for fuse-overlayfs. The guest test (test/vm/rootless.test.ts) runs the real fuse-overlayfs.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fuseOverlayArgs, fuseOverlayMounter, probeOverlay } from '../../../src/sys/overlay-mounter.js';
import type { Mounter, MountRequest } from '../../../src/sys/mount.js';
import type { ProcessRunner, RunOptions } from '../../../src/sys/process-runner.js';

interface Ran { cmd: string; args: readonly string[]; cwd?: string }

function fakes(kernel: (req: MountRequest) => Error | undefined, fuse: (args: readonly string[]) => { code: number; stderr?: string } = () => ({ code: 0 })) {
  const mounts: MountRequest[] = [];
  const unmounts: string[] = [];
  const ran: Ran[] = [];
  const mounter: Mounter = {
    mount(req) {
      mounts.push(req);
      const e = kernel(req);
      return e ? Promise.reject(e) : Promise.resolve();
    },
    unmount(target) {
      unmounts.push(target);
      return Promise.resolve();
    },
    isMounted: () => Promise.resolve(false),
  };
  const runner: ProcessRunner = {
    spawn: () => {
      throw new Error('not used');
    },
    run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
      ran.push({ cmd, args, cwd: opts.cwd });
      const r = fuse(args);
      return Promise.resolve({ code: r.code, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(r.stderr ?? ''), timedOut: false });
    },
  };
  return { mounter, runner, mounts, unmounts, ran };
}

const eperm = () => Object.assign(new Error('mount -t overlay overlay on /x/merged: EPERM'), { code: 'EPERM' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fune-overlay-probe-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('probeOverlay: what mounts overlays, chosen at start-up', () => {
  it('in a user namespace, a kernel that mounts the probe keeps the kernel\'s overlayfs (with the node\'s options), and the probe is cleaned up', async () => {
    const f = fakes(() => undefined);
    const probe = join(dir, 'probe');
    const r = await probeOverlay({ configured: 'auto', inUserNamespace: true, dir: probe, options: ['userxattr'], mounter: f.mounter, runner: f.runner });
    expect(r.mounter).toBe('kernel');
    expect(f.mounts).toHaveLength(1);
    expect(f.mounts[0]).toMatchObject({ fstype: 'overlay', target: join(probe, 'merged'), cwd: probe, options: ['lowerdir=lower', 'upperdir=upper', 'workdir=work', 'userxattr'] });
    expect(f.unmounts).toEqual([join(probe, 'merged')]);
    expect(f.ran).toEqual([]);
    expect(existsSync(probe)).toBe(false);
  });

  it.each([
    ['EPERM', eperm()],
    ['ENODEV', new Error('mount -t overlay overlay on /x: ENODEV')],
    ['mount(8)\'s "must be superuser"', new Error('mount: /x: must be superuser to use mount.')],
  ])('a kernel refusal (%s) switches to fuse-overlayfs once its own probe mount works', async (_name, err) => {
    const f = fakes(() => err);
    const probe = join(dir, 'probe');
    const r = await probeOverlay({ configured: 'auto', inUserNamespace: true, dir: probe, options: ['userxattr'], mounter: f.mounter, runner: f.runner });
    expect(r.mounter).toBe('fuse-overlayfs');
    expect(r.reason).toContain(err.message);
    expect(f.ran).toEqual([{ cmd: 'fuse-overlayfs', args: ['-o', 'lowerdir=lower,upperdir=upper,workdir=work', join(probe, 'merged')], cwd: probe }]);
    expect(existsSync(probe)).toBe(false);
  });

  it('a refusal where fuse-overlayfs fails too is an error naming both, and nothing is left', async () => {
    const f = fakes(eperm, () => ({ code: 1, stderr: 'fuse: device not found, try \'modprobe fuse\' first' }));
    const probe = join(dir, 'probe');
    const p = probeOverlay({ configured: 'auto', inUserNamespace: true, dir: probe, options: ['userxattr'], mounter: f.mounter, runner: f.runner });
    await expect(p).rejects.toThrow(/the kernel refused an overlay mount in this user namespace \(.*EPERM\), and fuse-overlayfs failed too .*device not found/);
    expect(existsSync(probe)).toBe(false);
  });

  it('a probe failure that is not a refusal is thrown as it is (no fallback)', async () => {
    const f = fakes(() => new Error('mount -t overlay overlay on /x: EINVAL'));
    await expect(probeOverlay({ configured: 'auto', inUserNamespace: true, dir: join(dir, 'p'), options: [], mounter: f.mounter, runner: f.runner })).rejects.toThrow('EINVAL');
    expect(f.ran).toEqual([]);
  });

  it.each([
    ['kernel', true],
    ['fuse-overlayfs', true],
    ['fuse-overlayfs', false],
  ] as const)('configured %s (user namespace %s): taken as it is, without a probe', async (configured, userns) => {
    const f = fakes(eperm);
    const r = await probeOverlay({ configured, inUserNamespace: userns, dir: join(dir, 'p'), options: [], mounter: f.mounter, runner: f.runner });
    expect(r).toEqual({ mounter: configured, reason: `runtime.overlay_mounter = "${configured}"` });
    expect(f.mounts).toEqual([]);
  });

  it('auto as real root: the kernel\'s, without a probe', async () => {
    const f = fakes(eperm);
    expect((await probeOverlay({ configured: 'auto', inUserNamespace: false, dir: join(dir, 'p'), options: [], mounter: f.mounter, runner: f.runner })).mounter).toBe('kernel');
    expect(f.mounts).toEqual([]);
  });
});

describe('fuseOverlayMounter', () => {
  it('mounts overlays with fuse-overlayfs in the same cwd, without the kernel-only options; other mounts and unmounts go to the kernel', async () => {
    const f = fakes(() => undefined);
    const m = fuseOverlayMounter(f.mounter, f.runner, '/usr/bin/fuse-overlayfs');
    await m.mount({ source: 'overlay', fstype: 'overlay', target: '/r/c1/merged', options: ['lowerdir=l/A:l/B', 'upperdir=/r/c1/upper', 'workdir=/r/c1/work', 'userxattr'], cwd: '/img/l' });
    await m.mount({ source: 'overlay', fstype: 'overlay', target: '/v', options: ['lowerdir=l/A', 'ro', 'nosuid', 'nodev', 'noexec'], cwd: '/img/l' });
    await m.mount({ source: '/src', fstype: 'none', target: '/t', options: ['bind'] });
    await m.unmount('/r/c1/merged');
    expect(f.ran).toEqual([
      { cmd: '/usr/bin/fuse-overlayfs', args: ['-o', 'lowerdir=l/A:l/B,upperdir=/r/c1/upper,workdir=/r/c1/work', '/r/c1/merged'], cwd: '/img/l' },
      { cmd: '/usr/bin/fuse-overlayfs', args: ['-o', 'lowerdir=l/A,ro,nosuid,nodev,noexec', '/v'], cwd: '/img/l' },
    ]);
    expect(f.mounts.map((x) => x.target)).toEqual(['/t']);
    expect(f.unmounts).toEqual(['/r/c1/merged']);
  });

  it('a failing fuse-overlayfs is the mount\'s error with its stderr', async () => {
    const f = fakes(() => undefined, () => ({ code: 1, stderr: 'fuse-overlayfs: cannot read upper dir' }));
    await expect(fuseOverlayMounter(f.mounter, f.runner).mount({ source: 'overlay', fstype: 'overlay', target: '/m', options: ['lowerdir=a'] })).rejects.toThrow(/exit status 1: fuse-overlayfs: cannot read upper dir/);
  });

  it('fuseOverlayArgs drops empty and kernel-only options', () => {
    expect(fuseOverlayArgs({ source: 'overlay', fstype: 'overlay', target: '/m', options: ['lowerdir=a', '', 'userxattr', 'volatile', 'index=off'] })).toEqual(['-o', 'lowerdir=a', '/m']);
  });
});

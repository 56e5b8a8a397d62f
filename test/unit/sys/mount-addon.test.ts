// native/mount on the real kernel (as root): mount(2) of a tmpfs with flags and data, an overlay whose lowerdir is
// relative to the call's cwd (the daemon's own cwd stays), statx's mount-root test, umount2 that treats a target
// that is no mount point (or is gone) as done; a failing mount is an errno error that mounts nothing. mountArgs
// splits mount(8)'s options into flags and data, and leaves to mount(8) what only it understands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isMountRoot, loadMountAddon, mountArgs, MNT_DETACH, syscallMounter, syscallUnmount, type Mounter } from '../../../src/sys/mount.js';

const root = process.getuid?.() === 0;
let dir = '';
const entry = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === p);
const noTools: Mounter = {
  mount: (req) => Promise.reject(new Error(`mount(8) asked for ${req.options.join(',')}`)),
  unmount: () => Promise.reject(new Error('umount(8) asked for')),
  isMounted: () => Promise.reject(new Error('mountinfo asked for')),
};

beforeAll(() => {
  if (!root) return;
  dir = mkdtempSync(join(tmpdir(), 'fune-mount-'));
  for (const d of ['t', 'lower/a', 'upper', 'work']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'lower', 'a', 'f'), 'from the layer');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mountArgs', () => {
  it.each([
    [['rw', 'nosuid', 'nodev', 'noexec', 'mode=1777', 'size=65536'], { flags: 2 | 4 | 8, data: 'mode=1777,size=65536' }],
    [['ro', 'nosuid', 'nodev', 'lowerdir=a:b', 'userxattr'], { flags: 1 | 2 | 4, data: 'lowerdir=a:b,userxattr' }],
    [['ro', 'rw'], { flags: 0, data: '' }],
    [['lowerdir=l', 'upperdir=/u', 'workdir=/w'], { flags: 0, data: 'lowerdir=l,upperdir=/u,workdir=/w' }],
    [['bind'], undefined],
    [['defaults'], undefined],
    [['remount', 'ro'], undefined],
    [['x-systemd.automount'], undefined],
  ])('%j', (opts, want) => expect(mountArgs(opts)).toEqual(want));
});

describe.runIf(root)('native/mount', () => {
  it('is built and loads', () => expect(loadMountAddon()).not.toBeNull());

  it('mounts a tmpfs with its flags and data, tells its root, and unmounts it (twice is fine)', async () => {
    const m = syscallMounter(loadMountAddon()!, noTools);
    const t = join(dir, 't');
    expect(await m.isMounted(t)).toBe(false);
    await m.mount({ source: 'shm', target: t, fstype: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'noexec', 'size=65536'] });
    expect(await m.isMounted(t)).toBe(true);
    const e = entry(t)!.split(' ');
    expect(e[5]!.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'noexec']));
    expect(e.slice(e.indexOf('-') + 1, e.indexOf('-') + 3)).toEqual(['tmpfs', 'shm']);
    expect(e.at(-1)).toContain('size=64k');
    await m.unmount(t);
    expect(entry(t)).toBeUndefined();
    expect(await m.isMounted(t)).toBe(false);
    await m.unmount(t);
    await m.unmount(join(dir, 'no-such-dir'));
    expect(await m.isMounted(join(dir, 'no-such-dir'))).toBe(false);
  });

  it('resolves an overlay\'s relative lowerdir against the call\'s cwd and leaves the daemon\'s cwd alone', async () => {
    const m = syscallMounter(loadMountAddon()!, noTools);
    const t = join(dir, 't');
    const cwd = process.cwd();
    await m.mount({ source: 'overlay', target: t, fstype: 'overlay', options: ['lowerdir=a', `upperdir=${join(dir, 'upper')}`, `workdir=${join(dir, 'work')}`], cwd: join(dir, 'lower') });
    try {
      expect(process.cwd()).toBe(cwd);
      expect(readFileSync(join(t, 'f'), 'utf8')).toBe('from the layer');
      writeFileSync(join(t, 'g'), 'written');
      expect(readFileSync(join(dir, 'upper', 'g'), 'utf8')).toBe('written');
    } finally {
      await m.unmount(t);
    }
    expect(entry(t)).toBeUndefined();
  });

  it('fails a mount it cannot make with the errno, and mounts nothing', async () => {
    const m = syscallMounter(loadMountAddon()!, noTools);
    const t = join(dir, 't');
    await expect(m.mount({ source: 'overlay', target: t, fstype: 'overlay', options: ['lowerdir=nowhere', `upperdir=${join(dir, 'upper')}`, `workdir=${join(dir, 'work')}`], cwd: dir })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(m.mount({ source: 'x', target: t, fstype: 'no-such-fs', options: [] })).rejects.toMatchObject({ code: 'ENODEV' });
    expect(entry(t)).toBeUndefined();
    // An option only mount(8) knows goes to it.
    await expect(m.mount({ source: dir, target: t, fstype: 'none', options: ['bind'] })).rejects.toThrow('mount(8) asked for bind');
  });

  it('detaches lazily (umount -l)', async () => {
    const addon = loadMountAddon()!;
    const m = syscallMounter(addon, noTools);
    const t = join(dir, 't');
    await m.mount({ source: 'shm', target: t, fstype: 'tmpfs', options: [] });
    await syscallUnmount(addon, t, MNT_DETACH);
    expect(isMountRoot(addon, t)).toBe(false);
  });
});

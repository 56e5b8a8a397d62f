import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootfsMounts, readInside } from '../../../src/services/rootfs-mounts.js';
import type { ImagePort } from '../../../src/services/lifecycle-deps.js';

/** fakeImages counts mountRootfs calls; each mount takes `ms` and fails when `fail` is set. */
function fakeImages(ms = 5, fail = false) {
  const calls: string[] = [];
  let inFlight = 0;
  let overlapped = false;
  const images = {
    async mountRootfs(id: string) {
      calls.push(id);
      if (++inFlight > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      if (fail) throw new Error('mount failed');
    },
  } as unknown as ImagePort;
  return { images, calls, overlapped: () => overlapped };
}

describe('RootfsMounts', () => {
  it('reads the user files of an image once, from the rootfs of its first container, and keeps them by image id', async () => {
    const f = fakeImages(1);
    const m = new RootfsMounts(f.images);
    const first = await m.userFiles('img', 'c1', '/nonexistent/rootfs');
    expect(f.calls).toEqual(['c1']);
    expect(first).toEqual({ passwd: '', group: '' });
    expect(await m.userFiles('img', 'c2', '/nonexistent/rootfs')).toBe(first);
    expect(f.calls).toEqual(['c1']);
    // ensure waits for the mount userFiles began rather than mounting alongside it.
    await m.ensure('c1', '/r');
    expect(f.overlapped()).toBe(false);
  });

  it('a mount begun for the user files that failed fails the create, and quiet swallows it before an unmount', async () => {
    const f = fakeImages(1, true);
    const m = new RootfsMounts(f.images);
    await expect(m.userFiles('img', 'c1', '/r')).rejects.toThrow('mount failed');
    await expect(m.quiet('c1')).resolves.toBeUndefined();
  });
});

describe('readInside', () => {
  it('reads files of the rootfs, through symlinks that stay inside it, and never a host file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fune-readinside-'));
    try {
      await mkdir(join(root, 'etc'));
      await mkdir(join(root, 'usr/lib'), { recursive: true });
      await writeFile(join(root, 'usr/lib/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      await symlink('../usr/lib/passwd', join(root, 'etc/passwd'));
      expect(await readInside(root, 'etc/passwd')).toBe('root:x:0:0::/root:/bin/sh\n');
      // An absolute link resolves on the host, outside the rootfs.
      await writeFile(join(tmpdir(), `fune-host-secret-${process.pid}`), 'host secret');
      await symlink(join(tmpdir(), `fune-host-secret-${process.pid}`), join(root, 'etc/group'));
      expect(await readInside(root, 'etc/group')).toBe('');
      expect(await readInside(root, 'etc/shadow')).toBe('');
      await rm(join(tmpdir(), `fune-host-secret-${process.pid}`));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

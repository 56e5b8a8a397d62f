import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageUserFiles, readInside } from '../../../src/services/user-files.js';
import type { ImagePort } from '../../../src/services/lifecycle-deps.js';

/** fakeImages counts mountRootfs calls; each mount fails when `fail` is set. */
function fakeImages(fail = false) {
  const calls: string[] = [];
  const images = {
    async mountRootfs(id: string) {
      calls.push(id);
      await new Promise((r) => setTimeout(r, 1));
      if (fail) throw new Error('mount failed');
    },
  } as unknown as ImagePort;
  return { images, calls };
}

describe('ImageUserFiles', () => {
  it('reads the user files of an image once, from the rootfs of its first container, and keeps them by image id', async () => {
    const f = fakeImages();
    const u = new ImageUserFiles(f.images);
    const first = await u.get('img', 'c1', '/nonexistent/rootfs');
    expect(f.calls).toEqual(['c1']);
    expect(first).toEqual({ passwd: '', group: '' });
    expect(await u.get('img', 'c2', '/nonexistent/rootfs')).toBe(first);
    expect(f.calls).toEqual(['c1']);
    await u.get('other', 'c3', '/nonexistent/rootfs');
    expect(f.calls).toEqual(['c1', 'c3']);
  });

  it('fails with the mount when the rootfs of the first container cannot be mounted, and keeps nothing', async () => {
    const f = fakeImages(true);
    const u = new ImageUserFiles(f.images);
    await expect(u.get('img', 'c1', '/r')).rejects.toThrow('mount failed');
    await expect(u.get('img', 'c2', '/r')).rejects.toThrow('mount failed');
    expect(f.calls).toEqual(['c1', 'c2']);
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

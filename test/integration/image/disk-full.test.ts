// A pull that runs out of room: the daemon's root on a small tmpfs this test mounts, filled with ballast, and a
// bound on an image's unpacked size (registry.max_unpacked_size). The pull fails with RESOURCE_EXHAUSTED, keeps
// nothing, and the daemon goes on serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criClient, failure, grpc, startDaemon, type CriClient, type TestDaemon } from '../../helpers/daemon.js';
import { hostsToml, startRegistry, type TestRegistry } from './registry-helper.js';
import { busyboxImage, noiseLayer, pushImage, type Image } from '../../../hack/test-images.js';

const MiB = 1 << 20;
const S = grpc.status;

/** tree lists every path under `dir` (what a failed pull must not change). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await tree(p)));
  }
  return out.sort();
}

const freeBytes = async (dir: string) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/** SmallRoot is a daemon whose root is a tmpfs of `size` MiB. */
interface SmallRoot {
  d: TestDaemon;
  img: CriClient;
  rt: CriClient;
  root: string;
  /** fill writes ballast until `free` MiB are left; unfill removes it. */
  fill(free: number): Promise<void>;
  unfill(): Promise<void>;
  close(): Promise<void>;
}

async function smallRoot(sizeMiB: number, toml: string): Promise<SmallRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'fune-full-'));
  const root = join(dir, 'root');
  await mkdir(root);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'fune-test-full', root]);
  let d: TestDaemon;
  try {
    d = await startDaemon({ dir, toml });
  } catch (e) {
    execFileSync('umount', [root]);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const ballast = join(root, 'ballast');
  const img = criClient(d.socket, 'v1', 'ImageService');
  const rt = criClient(d.socket, 'v1', 'RuntimeService');
  return {
    d,
    root,
    img,
    rt,
    async fill(free) {
      const n = (await freeBytes(root)) - free * MiB;
      await writeFile(ballast, Buffer.alloc(Math.max(0, n), 1));
    },
    async unfill() {
      await rm(ballast, { force: true });
    },
    async close() {
      img.close();
      rt.close();
      await d.stop('SIGKILL');
      execFileSync('umount', [root]);
      await d.cleanup();
    },
  };
}

describe('pulls that run out of room', () => {
  let reg: TestRegistry;
  let work: string;
  let certs: string;
  let small: Image;
  let big: Image;
  let huge: Image;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fune-full-certs-'));
    certs = join(work, 'certs.d');
    reg = await startRegistry();
    await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
    small = await busyboxImage();
    // pseudo-random bytes in uncompressed OCI layers: blob and layer each take their full size (gzip could not
    // shrink them anyway, and would cost seconds)
    big = await busyboxImage({ layers: [await noiseLayer('big', 12, MiB)], oci: true, compression: 'none' });
    huge = await busyboxImage({ layers: [await noiseLayer('huge', 40, MiB)], oci: true, compression: 'none' });
    await pushImage(reg.base, 'fune/small', 'v1', small);
    await pushImage(reg.base, 'fune/big', 'v1', big);
    await pushImage(reg.base, 'fune/huge', 'v1', huge);
  });

  afterAll(async () => {
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('disk full while unpacking: RESOURCE_EXHAUSTED, nothing kept, the daemon serves on, and the same pull works once there is room', async () => {
    const s = await smallRoot(64, `[registry]\nconfig_path = "${certs}"\n`);
    try {
      const image = join(s.root, 'image');
      const before = await tree(image);
      // 16 MiB left: the 12 MiB layer's blob and its unpacked files (about 26 MiB together) do not fit
      await s.fill(16);
      const freeBefore = await freeBytes(s.root);
      const ref = `${reg.host}/fune/big:v1`;
      const f = await failure(s.img.call('PullImage', { image: { image: ref } }));
      expect(f.code).toBe(S.RESOURCE_EXHAUSTED);
      expect(f.details).toContain(`pull of ${ref} failed, nothing of it kept`);
      expect(f.details).toContain(`no space left on the filesystem of ${image}`);
      // no half layer, no blob or its temporary file, no image record: the store is as it was, and so is the space
      expect(await tree(image)).toEqual(before);
      expect(Math.abs((await freeBytes(s.root)) - freeBefore)).toBeLessThan(256 << 10);
      expect((await s.img.call('ImageStatus', { image: { image: ref } })).image).toBeNull();
      expect((await s.img.call('ListImages', {})).images).toEqual([]);
      // the daemon goes on serving: other calls, and a pull that fits
      expect((await s.rt.call('Version', {})).runtime_name).toBe('fune');
      expect((await s.img.call('PullImage', { image: { image: `${reg.host}/fune/small:v1` } })).image_ref).toBe(small.config.digest);
      // room again: the same pull succeeds
      await s.unfill();
      expect((await s.img.call('PullImage', { image: { image: ref } })).image_ref).toBe(big.config.digest);
      expect(Number((await s.img.call('ImageStatus', { image: { image: ref } })).image.size)).toBeGreaterThan(12 * MiB);
    } finally {
      await s.close();
    }
  });

  it('registry.max_unpacked_size fails a larger image early, before the disk fills, and keeps nothing', async () => {
    const s = await smallRoot(64, `[registry]\nconfig_path = "${certs}"\nmax_unpacked_size = "6MiB"\n`);
    try {
      const image = join(s.root, 'image');
      // an image under the bound pulls
      expect((await s.img.call('PullImage', { image: { image: `${reg.host}/fune/small:v1` } })).image_ref).toBe(small.config.digest);
      const before = await tree(image);
      // 24 MiB left, for an image of 40 MiB: only a pull that stops early fails on the bound rather than on ENOSPC
      await s.fill(24);
      const ref = `${reg.host}/fune/huge:v1`;
      const f = await failure(s.img.call('PullImage', { image: { image: ref } }));
      expect(f.code).toBe(S.RESOURCE_EXHAUSTED);
      expect(f.details).toMatch(/unpacks to more than registry\.max_unpacked_size \(6291456 bytes\): stopped at layer sha256:[0-9a-f]{64}, entry "data-huge\/f\d+"/);
      expect(f.details).not.toMatch(/no space left/i);
      expect(await tree(image)).toEqual(before);
      expect((await s.img.call('ImageStatus', { image: { image: ref } })).image).toBeNull();
      expect((await s.img.call('ListImages', {})).images).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

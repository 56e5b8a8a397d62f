import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ImageManager } from '../../../src/image/images.js';
import { importArchive } from '../../../src/image/archive.js';
import { NodeTransport } from '../../../src/image/transport.js';
import { hostPlatform } from '../../../src/image/manifest.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';
import { toolMounter } from '../../../src/sys/mount.js';
import { toolSpecialFiles } from '../../../src/sys/special-files.js';
import { ImageService } from '../../../src/services/image-service.js';
import { busyboxEntries, makeTar, buildImage, ociArchive } from '../../../hack/test-images.js';

describe('container root filesystems (overlayfs over shared layers)', () => {
  let dir: string;
  let svc: ImageService;
  let m: ImageManager;
  const mounter = toolMounter(nodeProcessRunner);
  const targets: string[] = [];
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-rootfs-'));
    m = new ImageManager({
      dir: join(dir, 'image'), runner: nodeProcessRunner, special: toolSpecialFiles(nodeProcessRunner), mounter, transport: new NodeTransport(),
      configPath: join(dir, 'certs.d'), platform: hostPlatform(process.arch), stallMs: 5000, deadlineMs: 0, concurrency: 3, chown: true, now: () => Date.now(),
    });
    await m.init(log);
    svc = new ImageService({ images: m, pinnedImages: [], platform: hostPlatform(process.arch) });
    const base = await makeTar([...busyboxEntries(), { name: 'etc/motd', body: 'hello' }, { name: 'var/', type: 'directory' }, { name: 'var/cache/', type: 'directory' }, { name: 'var/cache/old', body: 'old' }]);
    const top = await makeTar([{ name: 'etc/.wh.motd' }, { name: 'var/cache/.wh..wh..opq' }, { name: 'var/cache/new', body: 'new' }, { name: 'dev/', type: 'directory' }, { name: 'dev/fifo', type: 'fifo' }]);
    const img = buildImage({ layers: [base, top], user: 'www-data' });
    // a deep image: 120 small layers (far past what absolute lowerdir paths would fit in one page)
    const deepLayers = [base];
    for (let i = 0; i < 120; i++) deepLayers.push(await makeTar([{ name: `layer${i}`, body: String(i) }]));
    const deep = buildImage({ layers: deepLayers });
    await importArchive(m, Readable.from(await ociArchive([{ ref: 'fune.test/ws:1', image: img }, { ref: 'fune.test/deep:1', image: deep }])), hostPlatform(process.arch));
  }, 120_000);

  afterAll(async () => {
    for (const t of targets) await mounter.unmount(t).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('resolveImage gives config, user and layer dirs lowest first', () => {
    const r = svc.resolveImage('fune.test/ws:1');
    expect(r.user).toBe('www-data');
    expect(r.config.cmd).toEqual(['sh']);
    expect(r.layerDirs).toHaveLength(2);
    expect(r.repoTags).toEqual(['fune.test/ws:1']);
    expect(() => svc.resolveImage('fune.test/absent:1')).toThrow(/not found/);
  });

  it('mounts an overlay where whiteouts hide files, opaque dirs hide lower content, and writes land in the upper dir', async () => {
    const id = 'c0ffee';
    const plan = await svc.prepareRootfs(id, svc.resolveImage('fune.test/ws:1').id);
    const target = join(dir, 'mnt-ws');
    await mkdir(target);
    targets.push(target);
    await svc.mountRootfs(id, target);
    await svc.mountRootfs(id, target); // idempotent
    expect(await readdir(join(target, 'etc'))).not.toContain('motd');
    expect(await readdir(join(target, 'var/cache'))).toEqual(['new']);
    expect(execFileSync('chroot', [target, '/bin/sh', '-c', 'echo ok; id -u www-data']).toString()).toBe('ok\n33\n');
    await writeFile(join(target, 'written'), 'w');
    expect(await readFile(join(plan.upperdir, 'written'), 'utf8')).toBe('w');
    // the shared layer is untouched
    expect(await readdir(plan.lowerdirs[0]!)).not.toContain('written');
    await svc.unmountRootfs(target);
    expect(await mounter.isMounted(target)).toBe(false);
    await svc.unmountRootfs(target); // not mounted: fine
  });

  it('takes the image index lock to enter a new writable layer, and not to remove one', async () => {
    const ws = svc.resolveImage('fune.test/ws:1').id;
    const ids = () => m.rootfs.all().map((r) => r.containerId);
    let release!: () => void;
    let held = m.lock.run(() => new Promise<void>((r) => (release = r)));
    // a collection (or pull) holds the lock: the record must not enter before it is done
    const prep = svc.prepareRootfs('lock1', ws);
    await new Promise((r) => setTimeout(r, 50));
    expect(ids()).not.toContain('lock1');
    release();
    await held;
    const plan = await prep;
    expect(ids()).toContain('lock1');
    expect((await readdir(join(plan.upperdir, '..'))).sort()).toEqual(['upper', 'work']);
    // removal needs no lock: it finishes while another holder keeps it
    held = m.lock.run(() => new Promise<void>((r) => (release = r)));
    const removed = svc.removeRootfs('lock1').then(() => 'removed');
    expect(ids()).not.toContain('lock1');
    expect(await Promise.race([removed, new Promise((r) => setTimeout(() => r('waited for the lock'), 5000))])).toBe('removed');
    await expect(readdir(join(plan.upperdir, '..'))).rejects.toThrow(/ENOENT/);
    release();
    await held;
  });


  it('keeps layers a container uses after its image is removed, frees them with the rootfs', async () => {
    const deep = svc.resolveImage('fune.test/deep:1');
    const plan = await svc.prepareRootfs('deep1', deep.id);
    expect(plan.mountOptions.join(',').length).toBeLessThan(4096);
    const target = join(dir, 'mnt-deep');
    await mkdir(target);
    targets.push(target);
    await svc.mountRootfs('deep1', target);
    expect(await readFile(join(target, 'layer119'), 'utf8')).toBe('119');
    expect(await readFile(join(target, 'layer0'), 'utf8')).toBe('0');
    await svc.remove('fune.test/deep:1', log);
    expect(svc.status('fune.test/deep:1', false).image).toBeNull();
    expect(await readFile(join(target, 'layer5'), 'utf8')).toBe('5');
    await svc.unmountRootfs(target);
    const before = (await m.layers.list()).length;
    await svc.removeRootfs('deep1');
    await svc.remove('fune.test/ws:1', log); // triggers collection
    const after = (await m.layers.list()).length;
    expect(after).toBeLessThan(before - 100);
  });
});

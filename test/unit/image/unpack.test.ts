import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile, readFile, lstat, readlink, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';
import { createHash } from 'node:crypto';
import * as tar from 'tar-stream';
import { unpackLayer, cleanName } from '../../../src/image/unpack.js';
import type { SpecialFiles } from '../../../src/sys/special-files.js';
import { RuntimeError } from '../../../src/errors/index.js';
import { nodeRulesOf, ROOT_LAYER_FORMAT, type LayerFormat } from '../../../src/domain/node.js';

type E = { name: string; type?: tar.Header['type']; body?: string; linkname?: string; mode?: number; pax?: Record<string, string>; devmajor?: number; devminor?: number };

async function tarOf(entries: E[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    await new Promise<void>((res, rej) =>
      p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), mtime: new Date(1_000_000_000_000), pax: e.pax, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 }, e.body ?? '', (err) => (err ? rej(err) : res())),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function fakeSpecial() {
  const calls: string[] = [];
  const s: SpecialFiles = {
    async mknod(path, type, major, minor) {
      calls.push(`mknod ${path} ${type} ${major}:${minor}`);
      await writeFile(path, `dev ${type}`);
    },
    async setXattr(path, name, value) {
      calls.push(`xattr ${path} ${name}=${value.toString()}`);
    },
  };
  return { s, calls };
}

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'fune-unpack-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

async function unpack(entries: E[], compress: 'gzip' | 'none' = 'gzip', format?: LayerFormat) {
  const raw = await tarOf(entries);
  const blob = join(dir, 'blob');
  await writeFile(blob, compress === 'gzip' ? gzipSync(raw, { level: constants.Z_BEST_SPEED }) : raw);
  const dest = join(dir, 'layer');
  await (await import('node:fs/promises')).mkdir(dest);
  const { s, calls } = fakeSpecial();
  const warnings: string[] = [];
  const res = await unpackLayer(blob, dest, { special: s, chown: false, format, onWarning: (m) => warnings.push(m) });
  (calls as string[] & { warnings?: string[] }).warnings = warnings;
  return { res, dest, calls, diffId: `sha256:${createHash('sha256').update(raw).digest('hex')}` };
}

describe('cleanName', () => {
  it('drops ./ and trailing slashes', () => {
    expect(cleanName('./a/b/')).toBe('a/b');
    expect(cleanName('./')).toBe('');
  });
  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\0b'])('rejects %j', (n) => {
    expect(() => cleanName(n)).toThrow(/rejected/);
  });
});

describe('unpackLayer', () => {
  it('extracts files, dirs, symlinks and hard links and computes the diff id', async () => {
    const { res, dest, diffId } = await unpack([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', body: 'BB', mode: 0o755 },
      { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
      { name: 'bin/ls', type: 'symlink', linkname: 'busybox' },
      { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
    ]);
    expect(res.diffId).toBe(diffId);
    expect(await readFile(join(dest, 'bin/sh'), 'utf8')).toBe('BB');
    expect((await stat(join(dest, 'bin/sh'))).ino).toBe((await stat(join(dest, 'bin/busybox'))).ino);
    expect(await readlink(join(dest, 'bin/ls'))).toBe('busybox');
    expect((await stat(join(dest, 'bin/busybox'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dest, 'etc/passwd'))).mtimeMs).toBe(1_000_000_000_000);
  });

  it('handles uncompressed layers', async () => {
    const { res, diffId, dest } = await unpack([{ name: 'a', body: 'x' }], 'none');
    expect(res.diffId).toBe(diffId);
    expect(await readdir(dest)).toEqual(['a']);
  });

  it('turns whiteouts into 0:0 char devices and opaque markers into the overlay xattr', async () => {
    const { dest, calls } = await unpack([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd' },
      { name: 'var/lib/.wh..wh..opq' },
      { name: 'var/lib/new', body: 'n' },
    ]);
    expect(calls).toContain(`mknod ${join(dest, 'etc/motd')} c 0:0`);
    expect(calls).toContain(`xattr ${join(dest, 'var/lib')} trusted.overlay.opaque=y`);
    expect(await readdir(join(dest, 'etc'))).toEqual(['motd']);
    expect(await readFile(join(dest, 'var/lib/new'), 'utf8')).toBe('n');
  });

  describe('inside a user namespace (NodeRules "userns")', () => {
    const userns = nodeRulesOf({ user: { uid: 0, inUserNamespace: true, uidMap: [], gidMap: [] }, lsm: { apparmor: true, selinux: false }, capabilities: [], minOomScoreAdj: 0, cgroup: { mode: 'v2', driver: 'systemd', controllers: [], own: '/' } });
    const entries: E[] = [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd' },
      { name: 'var/lib/.wh..wh..opq' },
      { name: 'dev/', type: 'directory' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'dev/fifo', type: 'fifo' },
      { name: 'f', body: 'x', pax: { 'SCHILY.xattr.trusted.k': 'v', 'SCHILY.xattr.user.k': 'v' } },
    ];

    it('writes opaque marks as user.overlay.opaque, keeps whiteouts and fifos, skips and counts device nodes and trusted.* xattrs', async () => {
      const { res, dest, calls } = await unpack(entries, 'gzip', userns);
      expect(calls).toContain(`mknod ${join(dest, 'etc/motd')} c 0:0`);
      expect(calls).toContain(`xattr ${join(dest, 'var/lib')} user.overlay.opaque=y`);
      expect(calls).toContain(`mknod ${join(dest, 'dev/fifo')} p 0:0`);
      expect(calls).toContain(`xattr ${join(dest, 'f')} user.k=v`);
      expect(calls.filter((c) => c.includes('trusted.') || c.includes('dev/null') || c.includes('dev/sda'))).toEqual([]);
      expect(res.skippedDevices).toBe(2);
      expect(await readdir(join(dest, 'dev'))).toEqual(['fifo']);
      expect((calls as string[] & { warnings?: string[] }).warnings).toEqual([expect.stringContaining('xattr trusted.k of f skipped')]);
    });

    it('as real root the same layer makes both devices and sets trusted.* (ROOT_LAYER_FORMAT)', async () => {
      const { res, dest, calls } = await unpack(entries, 'gzip', ROOT_LAYER_FORMAT);
      expect(calls).toContain(`mknod ${join(dest, 'dev/null')} c 1:3`);
      expect(calls).toContain(`mknod ${join(dest, 'dev/sda')} b 8:0`);
      expect(calls).toContain(`xattr ${join(dest, 'var/lib')} trusted.overlay.opaque=y`);
      expect(calls).toContain(`xattr ${join(dest, 'f')} trusted.k=v`);
      expect(res.skippedDevices).toBe(0);
    });
  });

  it('carries PAX xattrs', async () => {
    const { dest, calls } = await unpack([{ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.k': 'v' } }]);
    expect(calls).toContain(`xattr ${join(dest, 'f')} user.k=v`);
  });

  it('lets a later entry replace an earlier one', async () => {
    const { dest } = await unpack([
      { name: 'a', body: 'one' },
      { name: 'a', body: 'two' },
    ]);
    expect(await readFile(join(dest, 'a'), 'utf8')).toBe('two');
  });

  it('writes files too large for a batch directly, in order with the batched entries around them', async () => {
    const big = 'b'.repeat((1 << 20) + 12345);
    const { dest, res, diffId } = await unpack([
      { name: 'd/small1', body: 's1' },
      { name: 'd/sub/big', body: big, mode: 0o750 },
      { name: 'd/sub/small2', body: 's2' },
      { name: 'd/sub/hl', type: 'link', linkname: 'd/sub/big' },
      { name: 'd/sub/', type: 'directory', mode: 0o711 },
    ]);
    expect(res.diffId).toBe(diffId);
    expect(await readFile(join(dest, 'd/sub/big'), 'utf8')).toBe(big);
    expect((await stat(join(dest, 'd/sub/big'))).mode & 0o777).toBe(0o750);
    expect((await stat(join(dest, 'd/sub/big'))).mtimeMs).toBe(1_000_000_000_000);
    expect((await stat(join(dest, 'd/sub/hl'))).ino).toBe((await stat(join(dest, 'd/sub/big'))).ino);
    expect(await readFile(join(dest, 'd/sub/small2'), 'utf8')).toBe('s2');
    expect((await stat(join(dest, 'd/sub'))).mode & 0o777).toBe(0o711);
  });

  it('reports a file system failure of a batched step as the layer failing', async () => {
    const raw = await tarOf([{ name: 'a', body: 'x' }]);
    const blob = join(dir, 'blob');
    await writeFile(blob, raw);
    const dest = join(dir, 'layer');
    await (await import('node:fs/promises')).mkdir(join(dest, 'a'), { recursive: true });
    await expect(unpackLayer(blob, dest, { special: fakeSpecial().s, chown: false })).rejects.toThrow(/EEXIST/);
  });

  const escapes: [string, E[]][] = [
    ['dot-dot', [{ name: '../evil', body: 'x' }]],
    ['nested dot-dot', [{ name: 'a/../../evil', body: 'x' }]],
    ['absolute', [{ name: '/evil', body: 'x' }]],
    ['through a symlink', [{ name: 'l', type: 'symlink', linkname: '/tmp' }, { name: 'l/evil', body: 'x' }]],
    ['through a relative symlink', [{ name: 'd/', type: 'directory' }, { name: 'd/up', type: 'symlink', linkname: '../..' }, { name: 'd/up/evil', body: 'x' }]],
    ['hard link outside', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
    ['hard link to an absent file', [{ name: 'h', type: 'link', linkname: 'etc/shadow' }]],
    ['hard link through a symlink', [{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'l/passwd' }]],
  ];
  it.each(escapes)('rejects a path escape: %s', async (_n, entries) => {
    const outside = await readdir(dir);
    await expect(unpack(entries)).rejects.toThrow(/rejected/);
    // nothing was written next to the layer directory
    expect((await readdir(dir)).filter((n) => !outside.includes(n)).sort()).toEqual(['blob', 'layer']);
    await expect(lstat('/tmp/evil')).rejects.toThrow();
  });

  it('fails on a truncated gzip stream', async () => {
    const raw = await tarOf([{ name: 'a', body: 'x'.repeat(100000) }]);
    const gz = gzipSync(raw);
    const blob = join(dir, 'blob');
    await writeFile(blob, gz.subarray(0, gz.length - 20));
    const dest = join(dir, 'layer');
    await (await import('node:fs/promises')).mkdir(dest);
    await expect(unpackLayer(blob, dest, { special: fakeSpecial().s, chown: false })).rejects.toThrow();
  });
});

describe('malformed whiteouts', () => {
  /** attempt unpacks `entries` with a recording SpecialFiles and gives the error and what was asked of it. */
  async function attempt(entries: E[]) {
    const blob = join(dir, 'blob');
    await writeFile(blob, await tarOf(entries));
    const dest = join(dir, 'layer');
    await (await import('node:fs/promises')).mkdir(dest);
    const { s, calls } = fakeSpecial();
    const err = await unpackLayer(blob, dest, { special: s, chown: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, calls, dest };
  }

  const cases: [string, E[], string][] = [
    ['a bare .wh. at the root (it would remove the layer directory)', [{ name: 'keep', body: 'k' }, { name: '.wh.' }], '.wh.'],
    ['a bare .wh. in a directory (it would remove the directory)', [{ name: 'd/keep', body: 'k' }, { name: 'd/.wh.' }], 'd/.wh.'],
    ['.wh.. at the root', [{ name: '.wh..' }], '.wh..'],
    ['.wh.. in a directory', [{ name: 'd/keep', body: 'k' }, { name: 'd/.wh..' }], 'd/.wh..'],
    ['.wh.+.. at the root (it would mknod beside the layer)', [{ name: '.wh...' }], '.wh...'],
    ['.wh.+.. in a directory (it would white out the directory)', [{ name: 'd/keep', body: 'k' }, { name: 'd/.wh...' }], 'd/.wh...'],
    ['an opaque marker at the layer root', [{ name: '.wh..wh..opq' }], '.wh..wh..opq'],
    ['an opaque marker that is a directory', [{ name: 'd/.wh..wh..opq/', type: 'directory' }], 'd/.wh..wh..opq'],
    ['a file under an opaque marker', [{ name: 'd/.wh..wh..opq/x', body: 'x' }], 'd/.wh..wh..opq/x'],
    ['an opaque marker that is a symlink', [{ name: 'd/.wh..wh..opq', type: 'symlink', linkname: '/etc' }], 'd/.wh..wh..opq'],
    ['a whiteout that is a directory', [{ name: '.wh.x/', type: 'directory' }], '.wh.x'],
    ['a file under a whiteout name', [{ name: '.wh.x/y', body: 'y' }], '.wh.x/y'],
    ['a whiteout that is a symlink', [{ name: 'd/.wh.x', type: 'symlink', linkname: '/etc/passwd' }], 'd/.wh.x'],
    ['a whiteout that is a fifo', [{ name: '.wh.x', type: 'fifo' }], '.wh.x'],
    ['a whiteout that is a character device', [{ name: '.wh.x', type: 'character-device' }], '.wh.x'],
  ];
  it.each(cases)('rejects %s: FAILED_PRECONDITION naming the entry, nothing made for it', async (_what, entries, name) => {
    const outside = await readdir(dir);
    const { err, calls, dest } = await attempt(entries);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).kind).toBe('FailedPrecondition');
    expect((err as RuntimeError).message).toContain(`layer entry "${name}`);
    expect((err as RuntimeError).message).toMatch(/malformed whiteout/);
    expect(calls.filter((c) => c.startsWith('mknod') || c.includes('opaque'))).toEqual([]);
    // the layer directory is still there, and nothing was made beside it
    expect((await stat(dest)).isDirectory()).toBe(true);
    expect((await readdir(dir)).filter((n) => !outside.includes(n)).sort()).toEqual(['blob', 'layer']);
  });

  it('still takes the well-formed kinds: whiteouts, hard-linked whiteouts, opaque markers, aufs metadata', async () => {
    const { err, calls, dest } = await attempt([
      { name: 'a', body: 'a' },
      { name: '.wh.gone' },
      { name: '.wh.also-gone', type: 'link', linkname: 'a' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/.wh.x.y' },
      { name: '.wh..wh.aufs', body: '' },
      { name: '.wh..wh.plnk/', type: 'directory' },
      { name: '.wh..wh.plnk/123.456', body: 'p' },
      { name: 'hl', type: 'link', linkname: '.wh..wh.plnk/123.456' },
    ]);
    expect(err).toBeUndefined();
    expect(calls).toContain(`mknod ${join(dest, 'gone')} c 0:0`);
    expect(calls).toContain(`mknod ${join(dest, 'also-gone')} c 0:0`);
    expect(calls).toContain(`mknod ${join(dest, 'd/x.y')} c 0:0`);
    expect(calls).toContain(`xattr ${join(dest, 'd')} trusted.overlay.opaque=y`);
    expect(await readFile(join(dest, 'hl'), 'utf8')).toBe('p');
  });
});

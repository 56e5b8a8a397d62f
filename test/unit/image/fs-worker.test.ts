import { describe, it, expect, beforeEach, afterEach, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, lstat, readlink, stat, readdir, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsWorker, FsError } from '../../../src/image/fs-worker.js';
import { FsBatch, BATCH_OPS } from '../../../src/image/fs-batch.js';

const worker = new FsWorker();
let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'fune-fsworker-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));
afterAll(async () => worker.close());

async function* chunks(...parts: string[]): AsyncIterable<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('FsWorker', () => {
  it('runs a batch in order: directories, files from the data buffer, symlinks, hard links, metadata', async () => {
    const data = new Uint8Array(Buffer.from('helloworld'));
    await worker.run(
      [
        { op: 'mkdir', path: join(dir, 'd'), mode: 0o755 },
        { op: 'file', path: join(dir, 'd/a'), mode: 0o644, at: 0, len: 5, mtime: 1000 },
        { op: 'file', path: join(dir, 'd/b'), mode: 0o600, at: 5, len: 5, chmod: 0o4755, mtime: 2000.5 },
        { op: 'symlink', path: join(dir, 'd/s'), target: 'a', mtime: 3000 },
        { op: 'link', path: join(dir, 'd/h'), src: join(dir, 'd/a') },
        { op: 'meta', path: join(dir, 'd'), chmod: 0o700, mtime: 4000, symlink: false },
      ],
      data,
    );
    expect(await readFile(join(dir, 'd/a'), 'utf8')).toBe('hello');
    expect(await readFile(join(dir, 'd/b'), 'utf8')).toBe('world');
    expect((await stat(join(dir, 'd/a'))).mtimeMs).toBe(1_000_000);
    expect((await stat(join(dir, 'd/b'))).mtimeMs).toBe(2_000_500);
    expect((await stat(join(dir, 'd/b'))).mode & 0o7777).toBe(0o4755);
    expect(await readlink(join(dir, 'd/s'))).toBe('a');
    expect((await lstat(join(dir, 'd/s'))).mtimeMs).toBe(3_000_000);
    expect((await stat(join(dir, 'd/h'))).ino).toBe((await stat(join(dir, 'd/a'))).ino);
    expect((await stat(join(dir, 'd'))).mode & 0o7777).toBe(0o700);
    expect((await stat(join(dir, 'd'))).mtimeMs).toBe(4_000_000);
  });

  it('stops a batch at its first failure and reports the errno code', async () => {
    const data = new Uint8Array(Buffer.from('xy'));
    await worker.run([{ op: 'file', path: join(dir, 'a'), mode: 0o644, at: 0, len: 1, mtime: 0 }], data.slice());
    const err = await worker
      .run(
        [
          { op: 'file', path: join(dir, 'a'), mode: 0o644, at: 1, len: 1, mtime: 0 },
          { op: 'mkdir', path: join(dir, 'after'), mode: 0o755 },
        ],
        data,
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FsError);
    expect((err as FsError).code).toBe('EEXIST');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('x');
    expect(await readdir(dir)).toEqual(['a']);
  });

  it('measures disk usage, counting hard links once and not following symlinks', async () => {
    const data = new Uint8Array(10000);
    await worker.run(
      [
        { op: 'mkdir', path: join(dir, 'd'), mode: 0o755 },
        { op: 'file', path: join(dir, 'd/f'), mode: 0o644, at: 0, len: 10000, mtime: 0 },
        { op: 'link', path: join(dir, 'd/g'), src: join(dir, 'd/f') },
        { op: 'symlink', path: join(dir, 'd/up'), target: '/', mtime: 0 },
      ],
      data,
    );
    const u = await worker.du(join(dir, 'd'));
    expect(u.inodes).toBe(3);
    const st = await stat(join(dir, 'd/f'));
    expect(u.bytes).toBeGreaterThanOrEqual(st.blocks * 512);
    expect(u.bytes).toBeLessThan(st.blocks * 512 + 64 * 1024);
  });

  it('starts again after close', async () => {
    await worker.close();
    await worker.run([{ op: 'mkdir', path: join(dir, 'x'), mode: 0o755 }], new Uint8Array(0));
    expect(await readdir(dir)).toEqual(['x']);
  });
});

describe('FsBatch', () => {
  it('keeps the order across batches and carries contents of many files', async () => {
    const b = new FsBatch(worker);
    await b.add({ op: 'mkdir', path: join(dir, 'd'), mode: 0o755 });
    const n = BATCH_OPS * 2 + 7;
    for (let i = 0; i < n; i++) await b.addFile({ op: 'file', path: join(dir, `d/f${i}`), mode: 0o644, mtime: 0 }, 4, chunks('ab', `${i % 10}`, 'z'));
    await b.sync();
    expect((await readdir(join(dir, 'd'))).length).toBe(n);
    expect(await readFile(join(dir, `d/f${n - 1}`), 'utf8')).toBe(`ab${(n - 1) % 10}z`);
  });

  it('surfaces a failure at sync, and settle waits without throwing', async () => {
    await mkdir(join(dir, 'taken'));
    const b = new FsBatch(worker);
    await b.add({ op: 'mkdir', path: join(dir, 'taken'), mode: 0o755 });
    await expect(b.sync()).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(b.settle()).resolves.toBeUndefined();
    await expect(b.add({ op: 'mkdir', path: join(dir, 'other'), mode: 0o755 })).rejects.toMatchObject({ code: 'EEXIST' });
  });
});

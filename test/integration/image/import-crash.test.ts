import { describe, it, expect, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, criClient, MAIN, type TestDaemon } from '../../helpers/daemon.js';
import { hostsToml } from './registry-helper.js';
import { busyboxEntries, makeTar, buildImage, noiseLayer, ociArchive, dockerSaveArchive, type Image } from '../../../hack/test-images.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function daemon(toml = ''): Promise<TestDaemon> {
  const d = await startDaemon({ toml });
  cleanups.push(() => d.cleanup());
  return d;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

describe('fune images import (through the daemon)', () => {
  it('loads a docker save tarball and an OCI archive with several images, tags kept', async () => {
    const d = await daemon();
    const work = await mkdtemp(join(tmpdir(), 'fune-import-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const base = await makeTar(busyboxEntries());
    const extra = await makeTar([{ name: 'hello', body: 'hi' }]);
    const a = buildImage({ layers: [base], compression: 'none' });
    const b = buildImage({ layers: [base, extra], compression: 'none', user: '1000' });
    await writeFile(join(work, 'save.tar'), await dockerSaveArchive([
      { tags: ['fune.test/a:1', 'fune.test/a:latest'], image: a, rawLayers: [base] },
      { tags: ['b:2'], image: b, rawLayers: [base, extra] },
    ]));
    const c = buildImage({ layers: [base, await makeTar([{ name: 'c', body: 'c' }])], oci: true });
    const z = buildImage({ layers: [base, await makeTar([{ name: 'z', body: 'z' }])], compression: 'zstd' });
    await writeFile(join(work, 'oci.tar'), await ociArchive([{ ref: 'fune.test/c:oci', image: c }, { ref: 'fune.test/z:zstd', image: z }]));

    const r1 = await run(process.execPath, [MAIN, 'images', 'import', join(work, 'save.tar'), '--state', d.state]);
    expect(r1.stdout).toContain(a.config.digest);
    const r2 = await run('sh', ['-c', `"${process.execPath}" "${MAIN}" images import - --state "${d.state}" < /dev/null`]).catch((e: unknown) => e as { code: number; stderr: string });
    expect((r2 as { code?: number }).code).toBe(1); // stdin was empty: not an archive
    expect(r2.stderr).toMatch(/not a docker save or OCI layout archive/);
    const r3 = await run('sh', ['-c', `"${process.execPath}" "${MAIN}" images import - --state "${d.state}" < "${join(work, 'oci.tar')}"`]);
    expect(r3.stdout).toContain(z.config.digest);

    const img = criClient(d.socket, 'v1', 'ImageService');
    cleanups.push(async () => img.close());
     
    const st = async (ref: string): Promise<{ id: string; repo_tags: string[]; uid: { value: string } }> => (await img.call('ImageStatus', { image: { image: ref } })).image;
    expect((await st('fune.test/a:1')).repo_tags.sort()).toEqual(['fune.test/a:1', 'fune.test/a:latest']);
    expect((await st('b:2')).id).toBe(b.config.digest);
    expect((await st('docker.io/library/b:2')).uid.value).toBe('1000');
    expect((await st('fune.test/c:oci')).id).toBe(c.config.digest);
    expect((await st('fune.test/z:zstd')).id).toBe(z.config.digest);

    const ls = await run(process.execPath, [MAIN, 'images', 'ls', '--state', d.state]);
    expect(ls.stdout).toContain('fune.test/z:zstd');
    const rmOut = await run(process.execPath, [MAIN, 'images', 'rm', 'fune.test/z:zstd', 'nothing:here', '--state', d.state]);
    expect(rmOut.stdout).toContain(`removed ${z.config.digest}`);
    expect(rmOut.stdout).toContain('nothing:here: not present');
    expect(await st('fune.test/z:zstd')).toBeNull();
    expect(d.logs()).toContain('image imported');
  });

  it('rejects an archive with a path-escaping layer and records nothing', async () => {
    const d = await daemon();
    const work = await mkdtemp(join(tmpdir(), 'fune-import-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const evil = await makeTar([{ name: '../../escaped', body: 'x' }]);
    const e = buildImage({ layers: [evil], compression: 'none' });
    await writeFile(join(work, 'evil.tar'), await dockerSaveArchive([{ tags: ['evil:1'], image: e, rawLayers: [evil] }]));
    const res = await run(process.execPath, [MAIN, 'images', 'import', join(work, 'evil.tar'), '--state', d.state]).catch((x: unknown) => x as { code: number; stderr: string });
    expect((res as { code?: number }).code).toBe(1);
    expect(res.stderr).toMatch(/rejected/);
    const img = criClient(d.socket, 'v1', 'ImageService');
    cleanups.push(async () => img.close());
    expect((await img.call('ImageStatus', { image: { image: 'evil:1' } })).image).toBeNull();
    expect((await walk(join(d.root, 'image'))).filter((p) => p.includes('.tmp-') || p.endsWith('escaped'))).toEqual([]);
  });
});

describe('crash safety', () => {
  it('a daemon killed mid-pull restarts clean and the pull then succeeds', async () => {
    const big: Image = buildImage({ layers: [await makeTar(busyboxEntries()), await noiseLayer('crash', 4, 2_000_000)] });
    let slow = true;
    const srv: Server = createServer((req, res) => {
      const u = req.url ?? '';
      if (u === '/v2/') return void res.writeHead(200).end('{}');
      if (u.includes('/manifests/')) return void res.writeHead(200, { 'content-type': big.manifest.mediaType }).end(big.manifest.data);
      const blob = [big.config, ...big.layers].find((b) => u.endsWith(b.digest));
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(blob.data.length) });
      if (!slow || blob.data.length < 1_000_000) return void res.end(blob.data);
      let off = 0;
      const t = setInterval(() => {
        if (res.destroyed) return clearInterval(t);
        res.write(blob.data.subarray(off, off + 65536));
        off += 65536;
        if (off >= blob.data.length) {
          clearInterval(t);
          res.end();
        }
      }, 20);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanups.push(async () => {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    });
    const host = `127.0.0.1:${(srv.address() as { port: number }).port}`;
    const certs = await mkdtemp(join(tmpdir(), 'fune-certs-'));
    cleanups.push(() => rm(certs, { recursive: true, force: true }));
    await hostsToml(certs, host, `server = "http://${host}"\n`);
    const toml = `[registry]\nconfig_path = "${certs}"\n`;
    const d1 = await daemon(toml);
    const c1 = criClient(d1.socket, 'v1', 'ImageService');
    const pulling = c1.call('PullImage', { image: { image: `${host}/fune/big:1` } }).catch((e: unknown) => e as { code: number; stderr: string });
    const ingest = join(d1.root, 'image', 'content', 'ingest');
    for (let i = 0; i < 200; i++) {
      const files = await readdir(ingest).catch(() => []);
      const sizes = await Promise.all(files.map((f) => stat(join(ingest, f)).then((s) => s.size).catch(() => 0)));
      if (sizes.some((s) => s > 200_000)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await readdir(ingest)).length).toBeGreaterThan(0);
    // stop() waits on the exit listener attached at spawn: a listener attached after the
    // kill could miss an exit that already happened (a killed process has signalCode set,
    // not exitCode), which hung this test until its timeout once in CI.
    const killed = d1.stop('SIGKILL');
    await pulling;
    c1.close();
    expect(await killed).toBeNull();
    expect(d1.proc.signalCode).toBe('SIGKILL');
    slow = false;
    const d2 = await startDaemon({ toml, dir: d1.dir });
    cleanups.push(() => d2.cleanup());
    expect(await readdir(ingest)).toEqual([]);
    expect((await walk(join(d2.root, 'image'))).filter((p) => p.includes('.tmp-'))).toEqual([]);
    const c2 = criClient(d2.socket, 'v1', 'ImageService');
    cleanups.push(async () => c2.close());
    expect((await c2.call('PullImage', { image: { image: `${host}/fune/big:1` } })).image_ref).toBe(big.config.digest);
    expect(Number((await c2.call('ImageStatus', { image: { image: `${host}/fune/big:1` } })).image.size)).toBeGreaterThan(8_000_000);
  });
});

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, criClient, failure, grpc, type TestDaemon, type CriClient } from '../../helpers/daemon.js';
import { startRegistry, startTokenServer, blobDataPath, hostsToml, freePort, type TestRegistry, type TokenServer } from './registry-helper.js';
import { busyboxImage, buildImage, buildIndex, makeTar, pushImage, pushIndex, type Image, type TarEntry } from '../../../hack/test-images.js';

const S = grpc.status;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...(await walk(p)));
  }
  return out;
}

describe('image pulls against a real registry', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let img: CriClient;
  let certs: string;
  let base: Image;
  let userImg: Image;
  let stall: Server;
  let stallPort: number;
  let work: string;
  let hostImg: Image;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fune-pull-'));
    certs = join(work, 'certs.d');
    reg = await startRegistry();
    base = await busyboxImage();
    await pushImage(reg.base, 'fune/busybox', 'latest', base);
    await pushImage(reg.base, 'fune/busybox', '1.0', base);
    userImg = await busyboxImage({ user: 'www-data:33', layers: [await makeTar([{ name: 'marker', body: 'u' }])] });
    await pushImage(reg.base, 'fune/user', 'latest', userImg);
    const uidImg = await busyboxImage({ user: '1002', layers: [await makeTar([{ name: 'marker', body: 'uid' }])] });
    await pushImage(reg.base, 'fune/uid', 'latest', uidImg);
    // multi-platform index: the host entry differs from the others by a marker file
    const other = buildImage({ layers: [await makeTar([{ name: 'arm', body: 'arm' }])], architecture: 'arm64' });
    const other2 = buildImage({ layers: [await makeTar([{ name: 'ppc', body: 'ppc' }])], architecture: 'ppc64le' });
    const host = await busyboxImage({ layers: [await makeTar([{ name: 'amd64-marker', body: 'x' }])] });
    const index = buildIndex([{ image: other2, architecture: 'ppc64le' }, { image: other, architecture: 'arm64', variant: 'v8' }, { image: host, architecture: 'amd64' }], true);
    await pushIndex(reg.base, 'fune/multi', 'latest', [other2, other, host], index);
    hostImg = host;
    // a stalling registry: serves the manifest and config, then sends a few bytes of the layer and stops
    const stallImg = buildImage({ layers: [await makeTar([{ name: 'big', body: Buffer.alloc(200_000, 7) }])], compression: 'none' });
    stall = createServer((req, res) => {
      const u = req.url ?? '';
      if (u === '/v2/') return void res.writeHead(200).end('{}');
      if (u.includes('/manifests/')) return void res.writeHead(200, { 'content-type': stallImg.manifest.mediaType }).end(stallImg.manifest.data);
      if (u.endsWith(stallImg.config.digest)) return void res.writeHead(200).end(stallImg.config.data);
      if (u.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': String(stallImg.layers[0]!.data.length) });
        res.write(stallImg.layers[0]!.data.subarray(0, 1000));
        return; // never ends
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', () => r()));
    stallPort = (stall.address() as { port: number }).port;
    const deadPort = await freePort();
    await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
    await hostsToml(certs, `127.0.0.1:${stallPort}`, `server = "http://127.0.0.1:${stallPort}"\n`);
    // a name with a dead mirror first: the pull must fall back to the server
    await hostsToml(certs, 'registry.fune.test', `server = "http://${reg.host}"\n\n[host."http://127.0.0.1:${deadPort}"]\n  capabilities = ["pull", "resolve"]\n`);
    // docker.io short names go to the local registry too
    await hostsToml(certs, 'docker.io', `server = "http://${reg.host}"\n[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`);
    await pushImage(reg.base, 'library/busybox', '1.28', base);
    d = await startDaemon({ toml: `[registry]\nconfig_path = "${certs}"\npull_progress_timeout = "1s"\n` });
    img = criClient(d.socket, 'v1', 'ImageService');
  });

  afterAll(async () => {
    img?.close();
    await d?.cleanup();
    await reg?.stop();
    await new Promise<void>((r) => (stall ? stall.close(() => r()) : r()));
    stall?.closeAllConnections();
    await rm(work, { recursive: true, force: true });
  });

  const pull = (image: string, auth?: object) => img.call('PullImage', { image: { image }, auth });
  const status = (image: string) => img.call('ImageStatus', { image: { image } });

  it('pulls by tag and reports the image with tags, digests, size', async () => {
    const res = await pull(`${reg.host}/fune/busybox:latest`);
    expect(res.image_ref).toBe(base.config.digest);
    const st = await status(`${reg.host}/fune/busybox`);
    expect(st.image.id).toBe(base.config.digest);
    expect(st.image.repo_tags).toEqual([`${reg.host}/fune/busybox:latest`]);
    expect(st.image.repo_digests).toEqual([`${reg.host}/fune/busybox@${base.manifest.digest}`]);
    expect(Number(st.image.size)).toBeGreaterThan(500_000);
    // status by id and by digest find the same image
    expect((await status(base.config.digest)).image.id).toBe(base.config.digest);
    expect((await status(`${reg.host}/fune/busybox@${base.manifest.digest}`)).image.id).toBe(base.config.digest);
    // a second tag of the same image joins the same record
    await pull(`${reg.host}/fune/busybox:1.0`);
    const list = await img.call('ListImages', {});
    const mine = list.images.filter((i: { id: string }) => i.id === base.config.digest);
    expect(mine).toHaveLength(1);
    expect((mine[0] as unknown as { repo_tags: string[] }).repo_tags.sort()).toEqual([`${reg.host}/fune/busybox:1.0`, `${reg.host}/fune/busybox:latest`]);
  });

  it('pulls by digest, and a short docker.io name through a hosts.toml that overrides Docker Hub', async () => {
    const res = await pull(`${reg.host}/fune/busybox@${base.manifest.digest}`);
    expect(res.image_ref).toBe(base.config.digest);
    const short = await pull('busybox:1.28');
    expect(short.image_ref).toBe(base.config.digest);
    expect((await status('docker.io/library/busybox:1.28')).image.repo_tags).toContain('docker.io/library/busybox:1.28');
    // Docker Hub's endpoint, docker.io's default without a hosts.toml, was never tried
    expect(d.logs()).not.toContain('registry-1.docker.io');
  });

  it('selects the host platform from a multi-platform index', async () => {
    const host = hostImg;
    const res = await pull(`${reg.host}/fune/multi:latest`);
    expect(res.image_ref).toBe(host.config.digest);
  });

  it('reports uid and username from the image config User', async () => {
    await pull(`${reg.host}/fune/user`);
    await pull(`${reg.host}/fune/uid`);
    const u = (await status(`${reg.host}/fune/user`)).image;
    expect(u.username).toBe('www-data');
    expect(u.uid).toBeNull();
    const n = (await status(`${reg.host}/fune/uid`)).image;
    expect(n.uid.value).toBe('1002');
    expect(n.username).toBe('');
  });

  it('falls back from a dead mirror to the server', async () => {
    const res = await pull('registry.fune.test/fune/busybox:latest');
    expect(res.image_ref).toBe(base.config.digest);
  });

  it('rejects invalid references and unknown images with the right codes', async () => {
    expect((await failure(pull('Not/Valid:Ref'))).code).toBe(S.INVALID_ARGUMENT);
    expect((await failure(pull(''))).code).toBe(S.INVALID_ARGUMENT);
    const nf = await failure(pull(`${reg.host}/fune/absent:latest`));
    expect(nf.code).toBe(S.NOT_FOUND);
    expect((await status('no-such-image:1')).image).toBeNull();
  });

  it('fails a stalled download with DEADLINE_EXCEEDED and keeps nothing', async () => {
    const t0 = Date.now();
    const f = await failure(pull(`127.0.0.1:${stallPort}/fune/stall:latest`));
    expect(f.code).toBe(S.DEADLINE_EXCEEDED);
    expect(f.details).toMatch(/stall/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const ingest = await readdir(join(d.root, 'image', 'content', 'ingest'));
    expect(ingest).toEqual([]);
    expect((await status(`127.0.0.1:${stallPort}/fune/stall:latest`)).image).toBeNull();
  });

  it('rejects a corrupted blob and stores nothing of it', async () => {
    const bad = await busyboxImage({ layers: [await makeTar([{ name: 'corrupt-me', body: 'y'.repeat(5000) }])] });
    await pushImage(reg.base, 'fune/corrupt', 'latest', bad);
    const layer = bad.layers[1]!;
    const p = blobDataPath(reg, layer.digest);
    const data = await readFile(p);
    data.writeUInt8(data.readUInt8(data.length - 10) ^ 0xff, data.length - 10);
    await writeFile(p, data);
    const f = await failure(pull(`${reg.host}/fune/corrupt:latest`));
    expect(f.code).toBe(S.FAILED_PRECONDITION);
    expect(f.details).toContain(layer.digest);
    expect((await status(`${reg.host}/fune/corrupt:latest`)).image).toBeNull();
    const files = await walk(join(d.root, 'image'));
    expect(files.some((f) => f.includes(layer.digest.slice(7)))).toBe(false);
    expect(files.some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it.each([
    ['a bare .wh.', [{ name: 'keep', body: 'k' }, { name: '.wh.' }], '.wh.'],
    ['.wh.. in a directory', [{ name: 'd/keep', body: 'k' }, { name: 'd/.wh..' }], 'd/.wh..'],
    ['.wh.+.. at the root', [{ name: '.wh...' }], '.wh...'],
    ['an opaque marker at the root', [{ name: '.wh..wh..opq' }], '.wh..wh..opq'],
    ['a file under an opaque marker', [{ name: 'd/.wh..wh..opq/x', body: 'x' }], 'd/.wh..wh..opq/x'],
    ['a whiteout that is a symlink', [{ name: '.wh.x', type: 'symlink', linkname: '/etc' }], '.wh.x'],
  ] as [string, TarEntry[], string][])('refuses a layer with %s: FAILED_PRECONDITION naming the entry, nothing kept', async (_what, entries, name) => {
    const bad = await busyboxImage({ layers: [await makeTar(entries)] });
    const repo = `fune/wh-${bad.config.digest.slice(7, 19)}`;
    await pushImage(reg.base, repo, 'latest', bad);
    const f = await failure(pull(`${reg.host}/${repo}:latest`));
    expect(f.code).toBe(S.FAILED_PRECONDITION);
    expect(f.details).toContain(`layer entry "${name}"`);
    expect(f.details).toContain(JSON.parse(bad.config.data.toString()).rootfs.diff_ids[1]);
    expect((await status(`${reg.host}/${repo}:latest`)).image).toBeNull();
    const files = await walk(join(d.root, 'image'));
    expect(files.some((p) => p.includes('.tmp-'))).toBe(false);
  });

  it('ImageFsInfo grows with a pull and shrinks with a removal; RemoveImage of an absent image is fine', async () => {
    const info0 = await img.call('ImageFsInfo', {});
    const fs0 = info0.image_filesystems[0];
    expect(fs0.fs_id.mountpoint).toMatch(/^\//);
    // Writable layers share the image directory: container_filesystems is the same filesystem, not split (KEP-4191).
    expect(info0.container_filesystems).toHaveLength(1);
    expect(info0.container_filesystems[0]).toEqual(fs0);
    const big = await busyboxImage({ layers: [await makeTar([{ name: 'big', body: Buffer.alloc(3_000_000, 1) }])] });
    await pushImage(reg.base, 'fune/big', 'latest', big);
    await pull(`${reg.host}/fune/big:latest`);
    const fs1 = (await img.call('ImageFsInfo', {})).image_filesystems[0];
    expect(Number(fs1.used_bytes.value)).toBeGreaterThan(Number(fs0.used_bytes.value) + 3_000_000);
    expect(Number(fs1.inodes_used.value)).toBeGreaterThan(Number(fs0.inodes_used.value));
    await img.call('RemoveImage', { image: { image: `${reg.host}/fune/big:latest` } });
    expect((await status(`${reg.host}/fune/big:latest`)).image).toBeNull();
    const fs2 = (await img.call('ImageFsInfo', {})).image_filesystems[0];
    expect(Number(fs2.used_bytes.value)).toBeLessThan(Number(fs1.used_bytes.value) - 3_000_000);
    // the busybox layer is shared with other images and stays
    expect((await status(`${reg.host}/fune/busybox:latest`)).image).not.toBeNull();
    await img.call('RemoveImage', { image: { image: `${reg.host}/fune/big:latest` } });
  });

  it('removes an image by id with all its tags', async () => {
    await img.call('RemoveImage', { image: { image: base.config.digest } });
    expect((await status(`${reg.host}/fune/busybox:latest`)).image).toBeNull();
    expect((await status(`${reg.host}/fune/busybox:1.0`)).image).toBeNull();
    // pulling again works (blobs and layers re-fetched)
    expect((await pull(`${reg.host}/fune/busybox:latest`)).image_ref).toBe(base.config.digest);
  });
});

describe('registry authentication', () => {
  let work: string;
  let certs: string;
  const user = 'alice';
  const password = 's3cret-pass';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'fune-auth-'));
    certs = join(work, 'certs.d');
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('basic auth (htpasswd): anonymous fails, credentials (and the auth field) succeed, secrets stay out of errors', async () => {
    const reg = await startRegistry({ htpasswd: { user, password } });
    const d = await startDaemon({ toml: `[registry]\nconfig_path = "${certs}"\n` });
    const c = criClient(d.socket, 'v1', 'ImageService');
    try {
      const im = await busyboxImage();
      await pushImage(reg.base, 'fune/private', 'latest', im, { username: user, password });
      await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
      const ref = `${reg.host}/fune/private:latest`;
      const anon = await failure(c.call('PullImage', { image: { image: ref } }));
      expect(anon.code).not.toBe(S.OK);
      const wrong = await failure(c.call('PullImage', { image: { image: ref }, auth: { username: user, password: 'wrong-password' } }));
      expect(wrong.details).not.toContain('wrong-password');
      expect((await c.call('PullImage', { image: { image: ref }, auth: { username: user, password } })).image_ref).toBe(im.config.digest);
      await c.call('RemoveImage', { image: { image: ref } });
      const auth = Buffer.from(`${user}:${password}`).toString('base64');
      expect((await c.call('PullImage', { image: { image: ref }, auth: { auth } })).image_ref).toBe(im.config.digest);
      expect(d.logs()).not.toContain(password);
      expect(d.logs()).not.toContain(auth);
    } finally {
      c.close();
      await d.cleanup();
      await reg.stop();
    }
  });

  it('token auth: the bearer challenge is answered through the token server', async () => {
    const service = 'fune-registry';
    const issuer = 'fune-token-issuer';
    const ts: TokenServer = await startTokenServer({ service, issuer, user, password });
    const reg = await startRegistry({ token: { realm: ts.realm, service, issuer, certPath: ts.certPath } });
    const d = await startDaemon({ toml: `[registry]\nconfig_path = "${certs}"\n` });
    const c = criClient(d.socket, 'v1', 'ImageService');
    try {
      const im = await busyboxImage();
      await pushImage(reg.base, 'fune/tok', 'v1', im, { username: user, password });
      await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
      const ref = `${reg.host}/fune/tok:v1`;
      expect((await failure(c.call('PullImage', { image: { image: ref } }))).code).not.toBe(S.OK);
      expect((await c.call('PullImage', { image: { image: ref }, auth: { username: user, password } })).image_ref).toBe(im.config.digest);
      expect(ts.issued).toContain('repository:fune/tok:pull');
      expect(d.logs()).not.toContain(password);
    } finally {
      c.close();
      await d.cleanup();
      await reg.stop();
      await ts.stop();
    }
  });
});

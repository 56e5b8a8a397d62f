// Test images for fune's tests and benchmarks, built from Debian's busybox-static package (fetched with
// `apt-get download`, never from an image registry), as OCI image layouts, `docker save` tarballs, or pushed to a
// registry through the OCI distribution API.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, constants } from 'node:zlib';
import * as tar from 'tar-stream';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
};

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** TarEntry is one entry of a layer built in memory. */
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  body?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** device numbers of a character device (default 0:0, an overlay whiteout). */
  devmajor?: number;
  devminor?: number;
}

const EPOCH = new Date('2023-01-01T00:00:00Z');

/** makeTar packs entries into an uncompressed tar (fixed mtimes, so the digests are stable). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((res, rej) =>
      p.entry(
        { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: EPOCH, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 },
        type === 'file' ? (e.body ?? '') : '',
        (err) => (err ? rej(err) : res()),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** cacheDir is where the busybox-static .deb and its contents are kept between runs. */
export function cacheDir(): string {
  const d = process.env.FUNE_TEST_CACHE ?? '/var/tmp/fune-test-images';
  mkdirSync(d, { recursive: true });
  return d;
}

/** busyboxBinary gives the path of Debian's static busybox, fetching the .deb with `apt-get download` once. */
export function busyboxBinary(): string {
  const dir = cacheDir();
  const bin = join(dir, 'x', 'bin', 'busybox');
  if (existsSync(bin)) return bin;
  let deb = readdirSync(dir).find((n) => n.startsWith('busybox-static_') && n.endsWith('.deb'));
  if (!deb) {
    execFileSync('apt-get', ['download', 'busybox-static'], { cwd: dir, stdio: 'ignore' });
    deb = readdirSync(dir).find((n) => n.startsWith('busybox-static_') && n.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static gave no .deb');
  }
  execFileSync('dpkg-deb', ['-x', join(dir, deb), join(dir, 'x')]);
  return bin;
}

/** busyboxEntries is a small root filesystem: busybox with its applets as hard links, /etc/passwd and /etc/group. */
export function busyboxEntries(): TarEntry[] {
  const bin = busyboxBinary();
  const applets = execFileSync(bin, ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox' && /^[a-z0-9_.[-]+$/.test(a));
  const entries: TarEntry[] = [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: readFileSync(bin), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: 'link', linkname: 'bin/busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' },
    { name: 'etc/group', body: 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'root/', type: 'directory', mode: 0o700 },
  ];
  return entries;
}

/** Blob is content with its digest. */
export interface Blob {
  digest: string;
  data: Buffer;
  mediaType: string;
}

/** Image is a built single-platform image: manifest, config and layer blobs. */
export interface Image {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
}

export type Compression = 'gzip' | 'zstd' | 'none';

function compress(raw: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(raw, { level: constants.Z_BEST_SPEED });
  if (c === 'zstd') return execFileSync('zstd', ['-q', '-c', '-3'], { input: raw, maxBuffer: 1 << 30 });
  return raw;
}

/** BuildOptions describe one image. */
export interface BuildOptions {
  layers: Buffer[];
  compression?: Compression;
  /** oci switches from Docker schema 2 to OCI media types. */
  oci?: boolean;
  user?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  architecture?: string;
  labels?: Record<string, string>;
}

/** buildImage assembles an image from uncompressed layer tars. */
export function buildImage(o: BuildOptions): Image {
  const c = o.compression ?? 'gzip';
  const oci = o.oci ?? c === 'zstd';
  const layerType = oci ? (c === 'zstd' ? MT.ociLayerZstd : c === 'gzip' ? MT.ociLayerGzip : MT.ociLayer) : MT.dockerLayer;
  const layers = o.layers.map((raw) => {
    const data = compress(raw, c);
    return { digest: sha256(data), data, mediaType: layerType };
  });
  const cfg = {
    architecture: o.architecture ?? 'amd64',
    os: 'linux',
    created: EPOCH.toISOString(),
    config: { User: o.user ?? '', Env: o.env ?? ['PATH=/bin'], Cmd: o.cmd ?? ['sh'], Entrypoint: o.entrypoint ?? null, Labels: o.labels ?? null },
    rootfs: { type: 'layers', diff_ids: o.layers.map((l) => sha256(l)) },
    history: [],
  };
  const cdata = Buffer.from(JSON.stringify(cfg));
  const config = { digest: sha256(cdata), data: cdata, mediaType: oci ? MT.ociConfig : MT.dockerConfig };
  const mtype = oci ? MT.ociManifest : MT.dockerManifest;
  const m = {
    schemaVersion: 2,
    mediaType: mtype,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.data.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.data.length })),
  };
  const mdata = Buffer.from(JSON.stringify(m));
  return { manifest: { digest: sha256(mdata), data: mdata, mediaType: mtype }, config, layers };
}

/** buildIndex makes a manifest list / OCI index over images of several platforms. */
export function buildIndex(entries: { image: Image; architecture: string; variant?: string }[], oci = false): Blob {
  const mt = oci ? MT.ociIndex : MT.dockerList;
  const doc = {
    schemaVersion: 2,
    mediaType: mt,
    manifests: entries.map((e) => ({
      mediaType: e.image.manifest.mediaType,
      digest: e.image.manifest.digest,
      size: e.image.manifest.data.length,
      platform: { os: 'linux', architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
    })),
  };
  const data = Buffer.from(JSON.stringify(doc));
  return { digest: sha256(data), data, mediaType: mt };
}

/** busyboxImage is the standard test image: one busybox layer. */
export async function busyboxImage(o: Partial<BuildOptions> = {}): Promise<Image> {
  return buildImage({ ...o, layers: [await makeTar(busyboxEntries()), ...(o.layers ?? [])] });
}

/**
 * setuidLayer is a layer with a setuid-root program, `bin/suid-id`: coreutils' `id` from the host's Debian
 * package. It is dynamically linked against the host's libc, so it runs when executed from the host, and prints
 * the effective uid it got (0 when the setuid bit took effect): what a local user could do with an image's
 * setuid binary if they could reach the image's files (the class of containerd's CVE-2021-41103).
 */
export async function setuidLayer(): Promise<Buffer> {
  return makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/suid-id', body: readFileSync('/usr/bin/id'), mode: 0o4755, uid: 0, gid: 0 },
  ]);
}

/** noiseLayer is a layer of `files` files of pseudo-random bytes (deterministic per seed; gzip cannot shrink it). */
export async function noiseLayer(seed: string, files: number, bytesPerFile: number): Promise<Buffer> {
  const entries: TarEntry[] = [{ name: `data-${seed}/`, type: 'directory' }];
  for (let i = 0; i < files; i++) {
    // an AES-CTR key stream keyed by the seed: as unpredictable to gzip as a hash chain, and about a thousand
    // times faster (a hash per 32 bytes took over a second per MB)
    const key = createHash('sha256').update(`${seed}/${i}`).digest();
    const body = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytesPerFile));
    entries.push({ name: `data-${seed}/f${i}`, body });
  }
  return makeTar(entries);
}

/** PushAuth are credentials for pushing (basic, or basic traded for a bearer token). */
export interface PushAuth {
  username: string;
  password: string;
}

async function authed(url: string, init: RequestInit, repo: string, auth?: PushAuth, cache: { token?: string } = {}): Promise<Response> {
  const withAuth = (h: string | undefined) => ({ ...init, headers: { ...(init.headers as Record<string, string>), ...(h ? { authorization: h } : {}) } });
  let res = await fetch(url, withAuth(cache.token));
  if (res.status !== 401 || !auth) return res;
  const ch = res.headers.get('www-authenticate') ?? '';
  await res.arrayBuffer();
  const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  if (/^basic/i.test(ch)) cache.token = basic;
  else {
    const realm = /realm="([^"]+)"/.exec(ch)?.[1];
    const service = /service="([^"]+)"/.exec(ch)?.[1];
    const u = new URL(realm!);
    if (service) u.searchParams.set('service', service);
    u.searchParams.set('scope', `repository:${repo}:pull,push`);
    const t = await fetch(u, { headers: { authorization: basic } });
    const doc = (await t.json()) as { token?: string; access_token?: string };
    cache.token = `Bearer ${doc.token ?? doc.access_token}`;
  }
  res = await fetch(url, withAuth(cache.token));
  return res;
}

async function pushBlob(base: string, repo: string, b: Blob, auth?: PushAuth, cache: { token?: string } = {}): Promise<void> {
  const head = await authed(`${base}/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' }, repo, auth, cache);
  if (head.status === 200) return;
  const start = await authed(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' }, repo, auth, cache);
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get('location')!, base);
  loc.searchParams.set('digest', b.digest);
  const put = await authed(loc.toString(), { method: 'PUT', body: b.data, headers: { 'content-type': 'application/octet-stream' } }, repo, auth, cache);
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload ${b.digest}: HTTP ${put.status}`);
}

/** putManifest uploads a manifest or index under a tag or its digest. */
export async function putManifest(base: string, repo: string, ref: string, m: Blob, auth?: PushAuth, cache: { token?: string } = {}): Promise<void> {
  const res = await authed(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: m.data, headers: { 'content-type': m.mediaType } }, repo, auth, cache);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest ${repo}:${ref}: HTTP ${res.status} ${text}`);
}

/** pushImage uploads an image's blobs and manifest, tagged `tag` (base is `http://host:port`). */
export async function pushImage(base: string, repo: string, tag: string, img: Image, auth?: PushAuth): Promise<void> {
  const cache = {};
  for (const b of [...img.layers, img.config]) await pushBlob(base, repo, b, auth, cache);
  await putManifest(base, repo, tag, img.manifest, auth, cache);
}

/** pushIndex uploads several platform images and an index over them, tagged `tag`. */
export async function pushIndex(base: string, repo: string, tag: string, images: Image[], index: Blob, auth?: PushAuth): Promise<void> {
  const cache = {};
  for (const img of images) {
    for (const b of [...img.layers, img.config]) await pushBlob(base, repo, b, auth, cache);
    await putManifest(base, repo, img.manifest.digest, img.manifest, auth, cache);
  }
  await putManifest(base, repo, tag, index, auth, cache);
}

/** ociArchive writes an OCI image layout as a tar: images with their `org.opencontainers.image.ref.name` tags. */
export async function ociArchive(images: { ref: string; image: Image }[]): Promise<Buffer> {
  const blobs = new Map<string, Buffer>();
  for (const { image } of images) for (const b of [image.manifest, image.config, ...image.layers]) blobs.set(b.digest, b.data);
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: images.map(({ ref, image }) => ({
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: image.manifest.data.length,
      annotations: { 'org.opencontainers.image.ref.name': ref, 'io.containerd.image.name': ref },
    })),
  };
  const entries: TarEntry[] = [
    { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', body: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    ...[...blobs].map(([d, data]): TarEntry => ({ name: `blobs/sha256/${d.slice(7)}`, body: data })),
  ];
  return makeTar(entries);
}

/** dockerSaveArchive writes a `docker save` tarball (manifest.json + config + layer tars, uncompressed layers). */
export async function dockerSaveArchive(images: { tags: string[]; image: Image; rawLayers: Buffer[] }[]): Promise<Buffer> {
  const entries: TarEntry[] = [];
  const manifest = images.map(({ tags, image, rawLayers }) => {
    const cfgName = `${image.config.digest.slice(7)}.json`;
    entries.push({ name: cfgName, body: image.config.data });
    const layers = rawLayers.map((raw) => {
      const dir = sha256(raw).slice(7);
      entries.push({ name: `${dir}/`, type: 'directory' }, { name: `${dir}/layer.tar`, body: raw });
      return `${dir}/layer.tar`;
    });
    return { Config: cfgName, RepoTags: tags, Layers: layers };
  });
  entries.push({ name: 'manifest.json', body: JSON.stringify(manifest) });
  return makeTar(entries);
}

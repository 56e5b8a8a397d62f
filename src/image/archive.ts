import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RuntimeError } from '../errors/index.js';
import { TMP_PREFIX } from '../store/atomic-file.js';
import { cleanName, tarStream } from './unpack.js';
import { asDiskFull } from './disk-full.js';
import { MT, parseManifest, parseConfig, selectPlatform, type Platform, type Manifest } from './manifest.js';
import { parseReference, formatReference } from './reference.js';
import type { ImageManager } from './images.js';
import type { ImageRecord, LayerRef } from './image-store.js';

/** ImportedImage is one image an archive brought in. */
export interface ImportedImage {
  id: string;
  repoTags: string[];
}

type FileInfo = { digest: string; size: number; path: string };

/** extract writes every regular file of the archive to `dir` (under numbered names), hashing each on the way. */
async function extract(src: Readable, dir: string): Promise<Map<string, FileInfo>> {
  const files = new Map<string, FileInfo>();
  const ex = tarStream().extract();
  const piping = pipeline(src, ex as unknown as NodeJS.WritableStream);
  piping.catch(() => {});
  let i = 0;
  for await (const entry of ex) {
    const h = entry.header;
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    const name = cleanName(h.name);
    const path = join(dir, `f${i++}`);
    const fh = await open(path, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const c of entry as unknown as AsyncIterable<Buffer>) {
        hash.update(c);
        size += c.length;
        await fh.write(c);
      }
    } finally {
      await fh.close();
    }
    files.set(name, { digest: `sha256:${hash.digest('hex')}`, size, path });
  }
  await piping;
  return files;
}


/**
 * importArchive loads a `docker save` tarball or an OCI image-layout archive (several images, tags kept) into the
 * store: every blob is hashed while read, layers are unpacked once and verified against the config's diff ids,
 * and each image is recorded only after all its layers are on disk.
 */
export async function importArchive(m: ImageManager, src: Readable, platform: Platform, onWarning?: (msg: string) => void): Promise<ImportedImage[]> {
  const work = join(m.content.dir, 'ingest', `${TMP_PREFIX}import-${randomBytes(6).toString('hex')}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    const files = await extract(src, work);
    const get = (name: string): FileInfo => {
      const f = files.get(cleanName(name));
      if (!f) throw new RuntimeError('InvalidArgument', `archive lacks ${name}`);
      return f;
    };
    const blobPath = (digest: string) => get(`blobs/sha256/${digest.slice(7)}`);
    const out: ImportedImage[] = [];
    if (files.has('index.json') && files.has('oci-layout')) {
      const index = parseManifest(await readFile(get('index.json').path), MT.ociIndex);
      if (index.kind !== 'index') throw new RuntimeError('InvalidArgument', 'index.json is not an index');
      for (const desc of index.manifests) {
        const name = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'] ?? '';
        let tags: string[] = [];
        try {
          tags = name ? [formatReference(parseReference(name))] : [];
        } catch {
          tags = [];
        }
        let md = desc;
        let body = await readFile(blobPath(md.digest).path);
        let parsed = parseManifest(body, md.mediaType);
        if (parsed.kind === 'index') {
          const pick = selectPlatform(parsed, platform);
          if (!pick) throw new RuntimeError('NotFound', `archive image ${name || desc.digest}: no manifest for this platform`);
          md = pick;
          body = await readFile(blobPath(md.digest).path);
          parsed = parseManifest(body, md.mediaType);
        }
        if (parsed.kind !== 'manifest') throw new RuntimeError('InvalidArgument', 'nested index in archive');
        if (blobPath(md.digest).digest !== md.digest) throw new RuntimeError('FailedPrecondition', `archive blob ${md.digest} is corrupt`);
        out.push(await commit(m, parsed, md.digest, body, tags, (d) => blobPath(d), onWarning));
      }
      return out;
    }
    if (!files.has('manifest.json')) throw new RuntimeError('InvalidArgument', 'not a docker save or OCI layout archive (no manifest.json or index.json)');
    const list = JSON.parse(await readFile(get('manifest.json').path, 'utf8')) as { Config: string; RepoTags?: string[] | null; Layers: string[] }[];
    for (const e of list) {
      const cfg = get(e.Config);
      const layerFiles = e.Layers.map((l) => get(l));
      const manifest: Manifest = {
        kind: 'manifest',
        mediaType: MT.dockerManifest,
        config: { mediaType: MT.dockerConfig, digest: cfg.digest, size: cfg.size },
        layers: layerFiles.map((f) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: f.digest, size: f.size })),
      };
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifest.mediaType, config: manifest.config, layers: manifest.layers }));
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const tags = (e.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
      const byDigest = new Map<string, FileInfo>([[cfg.digest, cfg], ...layerFiles.map((f): [string, FileInfo] => [f.digest, f])]);
      out.push(await commit(m, manifest, digest, body, tags, (d) => byDigest.get(d)!, onWarning));
    }
    return out;
  } catch (e) {
    throw asDiskFull(e, m.layers.dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function commit(m: ImageManager, man: Manifest, manifestDigest: string, body: Buffer, tags: string[], file: (d: string) => FileInfo, onWarning?: (msg: string) => void): Promise<ImportedImage> {
  const stream = async (d: string) => createReadStream(file(d).path);
  await m.content.putBuffer(manifestDigest, body);
  await m.content.ingest(man.config.digest, -1, () => stream(man.config.digest));
  const config = parseConfig(await m.content.read(man.config.digest));
  const diffIds = config.rootfs!.diff_ids!;
  if (diffIds.length !== man.layers.length) throw new RuntimeError('FailedPrecondition', `archive image: ${man.layers.length} layers but ${diffIds.length} diff ids`);
  const layers: LayerRef[] = man.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i]! }));
  const release = m.layers.pin(diffIds);
  try {
    for (const l of layers) {
      if (await m.layers.info(l.diffId)) continue;
      if (file(l.digest).digest !== l.digest) throw new RuntimeError('FailedPrecondition', `archive blob ${l.digest} is corrupt`);
      await m.content.ingest(l.digest, -1, () => stream(l.digest));
      await m.layers.unpack(l.diffId, m.content.path(l.digest), { onWarning });
    }
    const rec: Omit<ImageRecord, 'createdAt'> = {
      id: man.config.digest,
      repoTags: tags,
      repoDigests: [],
      manifestDigest,
      configDigest: man.config.digest,
      layers,
      config,
      size: await m.layers.unpackedSize(diffIds),
      blobs: [manifestDigest, man.config.digest, ...layers.map((l) => l.digest)],
    };
    const saved = await m.record(rec);
    return { id: saved.id, repoTags: saved.repoTags };
  } finally {
    release();
  }
}

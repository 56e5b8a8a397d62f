import { createReadStream } from 'node:fs';
import type { Logger } from '../log/index.js';
import { RuntimeError, isKind } from '../errors/index.js';
import type { Transport } from './transport.js';
import type { Credentials } from './auth.js';
import type { ContentStore, IngestStream } from './content-store.js';
import type { LayerStore } from './layer-store.js';
import type { ImageRecord, LayerRef } from './image-store.js';
import { resolveHosts } from './hosts.js';
import { RegistryClient } from './registry.js';
import { parseManifest, parseConfig, selectPlatform, type Manifest, type Platform } from './manifest.js';
import { type Reference, repoName, tagRef, digestRef, formatReference } from './reference.js';

/** PullProgress is reported while a pull runs (per layer bytes; the daemon logs it, the CLI draws it). */
export interface PullProgress {
  ref: string;
  layers: number;
  layersDone: number;
  bytes: number;
  totalBytes: number;
}

/** PullerDeps are the parts a pull uses. */
export interface PullerDeps {
  content: ContentStore;
  layers: LayerStore;
  transport: Transport;
  configPath: string;
  platform: Platform;
  stallMs: number;
  deadlineMs: number;
  concurrency: number;
}

/** PullRequest is one pull. */
export interface PullRequest {
  ref: Reference;
  creds?: Credentials;
  signal: AbortSignal;
  log: Logger;
  onProgress?: (p: PullProgress) => void;
}

/** PulledImage is an image fetched and unpacked but not yet recorded, with the pin that protects its layers. */
export interface PulledImage {
  record: Omit<ImageRecord, 'createdAt'>;
  release: () => void;
}

async function bounded<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        await fn(items[i]!);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed instanceof Error ? failed : new Error('layer fetch failed', { cause: failed });
}

/**
 * fetchImage resolves a reference on its registry (mirrors first), picks the host platform's manifest from an
 * index, stores manifest and config, downloads the layers in parallel (bounded) and unpacks each once.
 * Everything is verified by digest; the caller records the image and then calls `release`.
 */
export async function fetchImage(d: PullerDeps, req: PullRequest): Promise<PulledImage> {
  const { ref, log } = req;
  const signals = [req.signal];
  if (d.deadlineMs > 0) signals.push(AbortSignal.timeout(d.deadlineMs));
  const signal = AbortSignal.any(signals);
  const hosts = await resolveHosts(d.configPath, ref.domain);
  const client = new RegistryClient({ hosts, path: ref.path, creds: req.creds, transport: d.transport, stallMs: d.stallMs, signal, log });
  try {
    return await run(d, req, client, signal);
  } catch (e) {
    if (signal.aborted && !req.signal.aborted) throw new RuntimeError('DeadlineExceeded', `pull of ${formatReference(ref)} exceeded the pull deadline of ${d.deadlineMs} ms`);
    if (req.signal.aborted && !isKind(e, 'DeadlineExceeded')) throw new RuntimeError('Cancelled', `pull of ${formatReference(ref)} cancelled: ${String((req.signal.reason as Error)?.message ?? req.signal.reason)}`);
    throw e;
  }
}

async function run(d: PullerDeps, req: PullRequest, client: RegistryClient, signal: AbortSignal): Promise<PulledImage> {
  const { ref, log } = req;
  const top = await client.fetchManifest(ref.digest ?? ref.tag!);
  const blobs = [top.digest];
  await d.content.putBuffer(top.digest, top.body);
  let parsed = (() => {
    try {
      return parseManifest(top.body, top.contentType);
    } catch (e) {
      throw new RuntimeError('FailedPrecondition', `${formatReference(ref)}: ${(e as Error).message}`);
    }
  })();
  let manifestDigest = top.digest;
  if (parsed.kind === 'index') {
    const pick = selectPlatform(parsed, d.platform);
    if (!pick) throw new RuntimeError('NotFound', `${formatReference(ref)}: no manifest for ${d.platform.os}/${d.platform.architecture}${d.platform.variant ? `/${d.platform.variant}` : ''} in the index`);
    const child = await client.fetchManifest(pick.digest);
    await d.content.putBuffer(child.digest, child.body);
    blobs.push(child.digest);
    parsed = parseManifest(child.body, pick.mediaType || child.contentType);
    if (parsed.kind !== 'manifest') throw new RuntimeError('FailedPrecondition', `${formatReference(ref)}: nested index is not supported`);
    manifestDigest = child.digest;
  }
  const manifest: Manifest = parsed;
  await d.content.ingest(manifest.config.digest, manifest.config.size, () => client.openBlob(manifest.config.digest));
  blobs.push(manifest.config.digest);
  let config;
  try {
    config = parseConfig(await d.content.read(manifest.config.digest));
  } catch (e) {
    throw new RuntimeError('FailedPrecondition', `${formatReference(ref)}: ${(e as Error).message}`);
  }
  const diffIds = config.rootfs!.diff_ids!;
  if (diffIds.length !== manifest.layers.length) throw new RuntimeError('FailedPrecondition', `${formatReference(ref)}: ${manifest.layers.length} layers but ${diffIds.length} diff ids`);
  const layers: LayerRef[] = manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i]! }));
  const release = d.layers.pin(diffIds);
  try {
    const progress: PullProgress = { ref: formatReference(ref), layers: layers.length, layersDone: 0, bytes: 0, totalBytes: layers.reduce((a, l) => a + l.size, 0) };
    await bounded(layers, d.concurrency, async (l) => {
      signal.throwIfAborted();
      if (!(await d.layers.info(l.diffId))) {
        const onBytes = (n: number) => {
          progress.bytes += n;
          req.onProgress?.(progress);
        };
        // A blob not stored yet is unpacked while it downloads; the layer is recorded only once the blob
        // verified (the stream fails otherwise) and the unpacked content hashed to the diff id.
        let ingest: IngestStream | undefined;
        const source = async () => {
          if (await d.content.has(l.digest)) {
            onBytes(l.size);
            return createReadStream(d.content.path(l.digest));
          }
          ingest = d.content.ingestStream(l.digest, l.size, () => client.openBlob(l.digest), onBytes);
          return ingest;
        };
        try {
          await d.layers.unpack(l.diffId, source, (m) => log.warn({ layer: l.digest }, m));
        } catch (e) {
          // A corrupt blob usually breaks the tar first: its digest mismatch is the cause to report.
          await ingest?.verified;
          throw e;
        }
      } else {
        progress.bytes += l.size;
      }
      progress.layersDone++;
      req.onProgress?.(progress);
    });
    blobs.push(...layers.map((l) => l.digest));
    const tag = tagRef(ref);
    const record: Omit<ImageRecord, 'createdAt'> = {
      id: manifest.config.digest,
      repoTags: tag ? [tag] : [],
      repoDigests: [digestRef(ref, top.digest)],
      manifestDigest,
      configDigest: manifest.config.digest,
      layers,
      config,
      size: await d.layers.unpackedSize(diffIds),
      blobs,
    };
    log.debug({ image: repoName(ref), id: record.id, layers: layers.length }, 'image fetched and unpacked');
    return { record, release };
  } catch (e) {
    release();
    throw e;
  }
}

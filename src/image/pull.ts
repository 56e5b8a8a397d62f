import { createReadStream } from 'node:fs';
import type { Logger } from '../log/index.js';
import { RuntimeError, isKind } from '../errors/index.js';
import type { Transport } from './transport.js';
import type { Credentials } from './auth.js';
import type { ContentStore, IngestStream } from './content-store.js';
import type { LayerStore } from './layer-store.js';
import type { ImageRecord, LayerRef } from './image-store.js';
import { resolveHosts } from './hosts.js';
import { asDiskFull } from './disk-full.js';
import { UnpackBudget } from './unpack-budget.js';
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
  /** maxUnpackedSize bounds an image's unpacked size in bytes (0 = none), see UnpackBudget. */
  maxUnpackedSize: number;
  /**
   * discard removes what a pull that ran out of room (RESOURCE_EXHAUSTED) stored and nothing else uses: the
   * blobs it names (a blob of a layer another pull pins stays) and the layers no image, container or pull holds.
   */
  discard?: (blobs: StoredBlob[]) => Promise<void>;
}

/** StoredBlob is a blob a pull may have stored, with the layer it unpacks to when it is one. */
export interface StoredBlob {
  digest: string;
  diffId?: string;
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
  const stored: StoredBlob[] = [];
  try {
    return await run(d, req, client, signal, stored);
  } catch (e) {
    if (signal.aborted && !req.signal.aborted) throw new RuntimeError('DeadlineExceeded', `pull of ${formatReference(ref)} exceeded the pull deadline of ${d.deadlineMs} ms`);
    if (req.signal.aborted && !isKind(e, 'DeadlineExceeded')) throw new RuntimeError('Cancelled', `pull of ${formatReference(ref)} cancelled: ${String((req.signal.reason as Error)?.message ?? req.signal.reason)}`);
    const err = asDiskFull(e, d.layers.dir);
    if (!isKind(err, 'ResourceExhausted')) throw err;
    // Out of room: what the pull stored is given back at once (the space is what is short), so a retry after
    // freeing space starts clean.
    await d.discard?.(stored);
    throw new RuntimeError('ResourceExhausted', `pull of ${formatReference(ref)} failed, nothing of it kept: ${err.message}`, { cause: err });
  }
}

async function run(d: PullerDeps, req: PullRequest, client: RegistryClient, signal: AbortSignal, stored: StoredBlob[]): Promise<PulledImage> {
  const { ref, log } = req;
  const top = await client.fetchManifest(ref.digest ?? ref.tag!);
  stored.push({ digest: top.digest });
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
    stored.push({ digest: child.digest });
    await d.content.putBuffer(child.digest, child.body);
    blobs.push(child.digest);
    parsed = parseManifest(child.body, pick.mediaType || child.contentType);
    if (parsed.kind !== 'manifest') throw new RuntimeError('FailedPrecondition', `${formatReference(ref)}: nested index is not supported`);
    manifestDigest = child.digest;
  }
  const manifest: Manifest = parsed;
  stored.push({ digest: manifest.config.digest });
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
  stored.push(...layers.map((l) => ({ digest: l.digest, diffId: l.diffId })));
  const release = d.layers.pin(diffIds);
  const budget = d.maxUnpackedSize > 0 ? new UnpackBudget(d.maxUnpackedSize, formatReference(ref)) : undefined;
  try {
    if (budget) for (const id of new Set(diffIds)) budget.charge((await d.layers.info(id))?.size ?? 0, id);
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
          await d.layers.unpack(l.diffId, source, { onWarning: (m) => log.warn({ layer: l.digest }, m), meter: budget?.meter(l.diffId) });
        } catch (e) {
          // Out of room: the download stops too. Otherwise a corrupt blob usually breaks the tar first, and its
          // digest mismatch is the cause to report.
          if (isKind(e, 'ResourceExhausted')) ingest?.cancel(e);
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
    const size = await d.layers.unpackedSize(diffIds);
    budget?.final(size);
    const tag = tagRef(ref);
    const record: Omit<ImageRecord, 'createdAt'> = {
      id: manifest.config.digest,
      repoTags: tag ? [tag] : [],
      repoDigests: [digestRef(ref, top.digest)],
      manifestDigest,
      configDigest: manifest.config.digest,
      layers,
      config,
      size,
      blobs,
    };
    log.debug({ image: repoName(ref), id: record.id, layers: layers.length }, 'image fetched and unpacked');
    return { record, release };
  } catch (e) {
    release();
    throw e;
  }
}

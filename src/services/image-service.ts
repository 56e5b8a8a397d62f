import type { Logger } from '../log/index.js';
import type { AuthConfig, ImageSpec } from '../domain/cri-types.js';
import type { ImageConfig } from '../oci/input.js';
import { failedPrecondition, notFound, invalidArgument } from '../errors/index.js';
import type { ImageManager, FsUsage } from '../image/images.js';
import type { ImageRecord } from '../image/image-store.js';
import type { LayerIdmap, RootfsPlan } from '../image/rootfs.js';
import type { PullProgress } from '../image/pull.js';
import { credentialsFromAuthConfig } from '../image/auth.js';
import { importArchive, type ImportedImage } from '../image/archive.js';
import type { Platform } from '../image/manifest.js';
import type { Readable } from 'node:stream';
import { parseReference, formatReference } from '../image/reference.js';
import type { PullMetrics } from '../domain/metrics-port.js';

/** CriImage is a CRI `Image` message as a plain object (int64 as decimal strings). */
export interface CriImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
  uid: { value: string } | null;
  username: string;
  spec: { image: string; annotations: Record<string, string> } | null;
  pinned: boolean;
}

/** ResolvedImage is what the container lifecycle needs from an image. */
export interface ResolvedImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  config: ImageConfig;
  /** layerDirs are the unpacked layer directories, lowest first. */
  layerDirs: string[];
  /** user is the config's User ("" when unset). */
  user: string;
}

/** CallOptions carry a call's cancellation and logger. */
export interface CallOptions {
  signal: AbortSignal;
  log: Logger;
  onProgress?: (p: PullProgress) => void;
}

/** ImageServiceDeps are the parts the image use cases call. */
export interface ImageServiceDeps {
  images: ImageManager;
  /** pinnedImages are reported pinned (the configured sandbox image), as references. */
  pinnedImages: string[];
  /** platform is this host's, for picking a manifest out of an imported index. */
  platform: Platform;
  /** onChange hears of pulls and removals (ImageFsInfo caching, events). */
  onChange?: () => void;
  /** metrics hears of every pull's result, bytes and time (undefined when `[metrics]` is off). */
  metrics?: PullMetrics;
}

const PROGRESS_LOG_MS = 5_000;

/** userOf splits an image config User into the uid or user name that ImageStatus reports. */
export function userOf(user: string | undefined): { uid: { value: string } | null; username: string } {
  const name = (user ?? '').split(':')[0] ?? '';
  if (name === '') return { uid: null, username: '' };
  return /^\d+$/.test(name) ? { uid: { value: name }, username: '' } : { uid: null, username: name };
}

/** imageConfigOf maps an image config file to the ImageConfig that spec building reads. */
export function imageConfigOf(r: ImageRecord): ImageConfig {
  const c = r.config.config ?? {};
  return {
    user: c.User || undefined,
    env: c.Env ?? undefined,
    entrypoint: c.Entrypoint ?? undefined,
    cmd: c.Cmd ?? undefined,
    workingDir: c.WorkingDir || undefined,
    stopSignal: c.StopSignal || undefined,
    volumes: c.Volumes ? Object.keys(c.Volumes) : undefined,
    labels: c.Labels ?? undefined,
  };
}

/**
 * ImageService is the ImageService use cases (PullImage, ListImages, ImageStatus, RemoveImage, ImageFsInfo) and
 * the image-side interface of the container lifecycle: resolveImage, prepareRootfs, mountRootfs, unmountRootfs,
 * removeRootfs.
 */
export class ImageService {
  /** volumeUser names a container that uses an image (by id) as an image volume, if any (set by the lifecycle). */
  private volumeUser: (imageId: string) => string | undefined = () => undefined;

  constructor(private readonly d: ImageServiceDeps) {}

  /** setVolumeUsers connects the lookup RemoveImage asks before removing an image that a container mounts. */
  setVolumeUsers(f: (imageId: string) => string | undefined): void {
    this.volumeUser = f;
  }

  private pinned(r: ImageRecord): boolean {
    return this.d.pinnedImages.some((p) => this.d.images.find(p)?.id === r.id);
  }

  /** toCri gives the CRI Image message of a record. */
  toCri(r: ImageRecord): CriImage {
    return {
      id: r.id,
      repo_tags: r.repoTags,
      repo_digests: r.repoDigests,
      size: String(r.size),
      ...userOf(r.config.config?.User),
      spec: { image: r.id, annotations: {} },
      pinned: this.pinned(r),
    };
  }

  /** pull fetches an image and gives its id (the config digest). */
  async pull(spec: ImageSpec | null, auth: AuthConfig | null, o: CallOptions): Promise<string> {
    const ref = spec?.image ?? '';
    if (!ref) throw invalidArgument('image reference is empty');
    const canonical = formatReference(parseReference(ref));
    let last = 0;
    let bytes = 0;
    const start = performance.now();
    const rec = await this.d.images.pull(ref, {
      creds: credentialsFromAuthConfig(auth),
      signal: o.signal,
      log: o.log,
      onProgress: (p) => {
        bytes = p.bytes;
        o.onProgress?.(p);
        const now = Date.now();
        if (now - last < PROGRESS_LOG_MS) return;
        last = now;
        o.log.info({ image: canonical, layersDone: p.layersDone, layers: p.layers, bytes: p.bytes, totalBytes: p.totalBytes }, 'pull progress');
      },
    }).catch((e: unknown) => {
      this.d.metrics?.imagePull('failure', bytes, (performance.now() - start) / 1000);
      throw e;
    });
    this.d.metrics?.imagePull('success', bytes, (performance.now() - start) / 1000);
    o.log.info({ image: canonical, id: rec.id, size: rec.size }, 'image pulled');
    this.d.onChange?.();
    return rec.id;
  }

  /** list gives the images, only those a filter reference names when one is given. */
  list(filter?: string): CriImage[] {
    if (filter) {
      const r = this.d.images.find(filter);
      return r ? [this.toCri(r)] : [];
    }
    return this.d.images.list().map((r) => this.toCri(r));
  }

  /** status gives one image (null when absent) and, verbose, its config as JSON. */
  status(ref: string, verbose: boolean): { image: CriImage | null; info: Record<string, string> } {
    if (!ref) throw invalidArgument('image reference is empty');
    const r = this.d.images.find(ref);
    if (!r) return { image: null, info: {} };
    const info: Record<string, string> = verbose
      ? { info: JSON.stringify({ id: r.id, manifestDigest: r.manifestDigest, layers: r.layers, imageSpec: r.config }) }
      : {};
    return { image: this.toCri(r), info };
  }

  /** remove deletes an image with all its tags; an absent image is not an error. */
  async remove(ref: string, log: Logger): Promise<void> {
    if (!ref) throw invalidArgument('image reference is empty');
    // An image mounted as a volume stays while a container (of any state) has it, as CRI-O refuses its removal.
    const found = this.d.images.find(ref);
    const user = found ? this.volumeUser(found.id) : undefined;
    if (found && user) throw failedPrecondition(`image ${JSON.stringify(ref)} is in use as an image volume by container ${user}`);
    const r = await this.d.images.remove(ref);
    if (r) {
      log.info({ image: ref, id: r.id }, 'image removed');
      this.d.onChange?.();
    }
  }

  /** importArchive loads a docker-save or OCI-layout tarball (the daemon is the only writer of the store). */
  async importArchive(src: Readable, log: Logger): Promise<ImportedImage[]> {
    const out = await importArchive(this.d.images, src, this.d.platform, (msg) => log.warn(msg));
    for (const i of out) log.info({ id: i.id, tags: i.repoTags }, 'image imported');
    if (out.length) this.d.onChange?.();
    return out;
  }

  /** fsInfo measures the image store on disk. */
  fsInfo(): Promise<FsUsage> {
    return this.d.images.fsUsage();
  }

  /** resolveImage finds a stored image by id, tag or digest, for CreateContainer; NotFound when absent. */
  resolveImage(ref: string): ResolvedImage {
    const r = this.d.images.find(ref);
    if (!r) throw notFound(`image ${JSON.stringify(ref)} not found; pull it first`);
    return {
      id: r.id,
      repoTags: r.repoTags,
      repoDigests: r.repoDigests,
      config: imageConfigOf(r),
      layerDirs: r.layers.map((l) => this.d.images.layers.diffDir(l.diffId)),
      user: r.config.config?.User ?? '',
    };
  }

  /** prepareRootfs creates a container's writable layer over the image's layers (idempotent per container id). */
  async prepareRootfs(containerId: string, imageId: string): Promise<RootfsPlan> {
    const r = this.d.images.find(imageId);
    if (!r) throw notFound(`image ${JSON.stringify(imageId)} not found`);
    return this.d.images.rootfs.prepare(containerId, r.id, r.layers.map((l) => l.diffId), this.d.images.lock);
  }

  /** mountImageVolume mounts an image's layers read-only at `target`, an existing directory (CRI Mount.image). */
  mountImageVolume(imageId: string, target: string, noexec: boolean, idmap?: LayerIdmap): Promise<void> {
    const r = this.d.images.find(imageId);
    if (!r) throw notFound(`image ${JSON.stringify(imageId)} not found`);
    return this.d.images.rootfs.mountLayersReadOnly(r.layers.map((l) => l.diffId), target, noexec, idmap);
  }

  /** mountRootfs mounts a prepared rootfs (overlayfs) at `target`, an existing directory; idmapped layers for a pod's user namespace. */
  mountRootfs(containerId: string, target: string, idmap?: LayerIdmap): Promise<void> {
    return this.d.images.rootfs.mount(containerId, target, idmap);
  }

  /** unmountRootfs unmounts `target` when it is mounted. */
  unmountRootfs(target: string): Promise<void> {
    return this.d.images.rootfs.unmount(target);
  }

  /** rootfsOwners gives the ids (container or pod) that own a prepared rootfs. */
  rootfsOwners(): string[] {
    return this.d.images.rootfs.all().map((r) => r.containerId);
  }

  /**
   * removeRootfs deletes a container's writable layer (unmount it first); absent is fine. Not under the image
   * index lock (see RootfsStore.remove): with the kubelet removing pods from several workers at once, each removal
   * waited there for the others' directory removals and fsyncs, and for any pull or CreateContainer holding it.
   */
  async removeRootfs(containerId: string): Promise<void> {
    await this.d.images.rootfs.remove(containerId);
  }
}

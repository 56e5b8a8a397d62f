import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { ProcessRunner } from '../sys/process-runner.js';
import type { SpecialFiles } from '../sys/special-files.js';
import type { LayerFormat } from '../domain/node.js';
import type { Mounter } from '../sys/mount.js';
import { mountPoints } from '../sys/mount.js';
import { ContentStore } from './content-store.js';
import { LayerStore } from './layer-store.js';
import { ImageStore, type ImageRecord } from './image-store.js';
import { RootfsStore } from './rootfs.js';
import { fetchImage, type PullProgress, type PullerDeps, type StoredBlob } from './pull.js';
import { asDiskFull } from './disk-full.js';
import { RuntimeError, errorMessage, isKind } from '../errors/index.js';
import type { Credentials } from './auth.js';
import { parseReference, formatReference } from './reference.js';
import { SingleFlight, Mutex } from './single-flight.js';
import { diskUsage, type Usage } from './disk-usage.js';

/** ImageManagerDeps configure the image subsystem. */
export interface ImageManagerDeps extends Pick<PullerDeps, 'transport' | 'configPath' | 'platform' | 'stallMs' | 'deadlineMs' | 'concurrency'>, Partial<Pick<PullerDeps, 'maxUnpackedSize'>> {
  /** dir is fune's image directory (`<root>/image`). */
  dir: string;
  runner: ProcessRunner;
  special: SpecialFiles;
  mounter: Mounter;
  /** chown applies owners from layers (root only). */
  chown: boolean;
  /** format is how this node writes and mounts layers (default: as real root). */
  format?: LayerFormat;
  now: () => number;
}

/** FsUsage is the disk use of fune's image directory, with the mount point it lives on. */
export interface FsUsage extends Usage {
  mountpoint: string;
  timestamp: number;
}

/**
 * ImageManager is the image subsystem's facade: pulls (shared when concurrent), the image index, removal with
 * garbage collection of layers and blobs no image or container uses, disk usage, and container root filesystems.
 */
export class ImageManager {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly images: ImageStore;
  readonly rootfs: RootfsStore;
  private readonly pulls = new SingleFlight<ImageRecord>();
  /** lock serialises changes of the image index and garbage collection. */
  readonly lock = new Mutex();

  constructor(private readonly d: ImageManagerDeps) {
    this.content = new ContentStore(join(d.dir, 'content'));
    this.layers = new LayerStore(d.dir, d.special, d.runner, d.chown, d.format);
    this.images = new ImageStore(join(d.dir, 'images'));
    this.rootfs = new RootfsStore(d.dir, this.layers, d.mounter, d.format?.overlayOptions);
  }

  /** init loads the index and removes what a crash left: temporary files, unrecorded layers and blobs. */
  async init(log: Logger): Promise<void> {
    const swept = (await this.content.init()) + (await this.layers.init());
    const broken = await this.images.load();
    for (const b of broken) log.warn({ record: b.id, reason: b.reason }, 'unreadable image record ignored');
    await this.rootfs.load();
    const rootfsSwept = await this.rootfs.sweep();
    const collected = await this.collect(true);
    log.info({ images: this.images.all().length, swept, rootfsSwept, collected }, 'image store loaded');
  }

  private pullerDeps(): PullerDeps {
    const d = this.d;
    return {
      content: this.content, layers: this.layers, transport: d.transport, configPath: d.configPath, platform: d.platform, stallMs: d.stallMs, deadlineMs: d.deadlineMs, concurrency: d.concurrency,
      maxUnpackedSize: d.maxUnpackedSize ?? 0, discard: (blobs) => this.discard(blobs),
    };
  }

  /** pull fetches and records an image; concurrent pulls of one reference share one download. */
  async pull(ref: string, o: { creds?: Credentials; signal: AbortSignal; log: Logger; onProgress?: (p: PullProgress) => void }): Promise<ImageRecord> {
    const r = parseReference(ref);
    const key = formatReference(r);
    return this.pulls.do(key, async () => {
      const fetched = await fetchImage(this.pullerDeps(), { ref: r, creds: o.creds, signal: o.signal, log: o.log, onProgress: o.onProgress });
      try {
        return await this.lock.run(() => this.images.put({ ...fetched.record, createdAt: this.d.now() }));
      } catch (e) {
        const err = asDiskFull(e, this.d.dir);
        if (!isKind(err, 'ResourceExhausted')) throw err;
        fetched.release(); // (idempotent) before the discard, which leaves pinned layers alone
        await this.discard(fetched.record.blobs.map((digest) => ({ digest, diffId: fetched.record.layers.find((l) => l.digest === digest)?.diffId })));
        throw new RuntimeError('ResourceExhausted', `pull of ${key} failed, nothing of it kept: ${errorMessage(err)}`, { cause: err });
      } finally {
        fetched.release();
      }
    });
  }

  /** record adds an image whose blobs and layers are already stored (import), under the index lock. */
  async record(rec: Omit<ImageRecord, 'createdAt'>): Promise<ImageRecord> {
    return this.lock.run(() => this.images.put({ ...rec, createdAt: this.d.now() }));
  }

  /** discard removes a failed pull's blobs that no image lists (unless their layer is pinned) and every unused layer. */
  private discard(blobs: StoredBlob[]): Promise<void> {
    return this.lock.run(async () => {
      const live = new Set(this.images.all().flatMap((i) => i.blobs));
      for (const b of blobs) if (!live.has(b.digest) && !(b.diffId && this.layers.pinned(b.diffId))) await this.content.delete(b.digest);
      await this.collect(false);
    });
  }

  /** find resolves an id, tag or digest reference. */
  find(ref: string): ImageRecord | undefined {
    return this.images.find(ref);
  }

  /** list gives every image. */
  list(): ImageRecord[] {
    return this.images.all();
  }

  /** remove deletes an image (all its tags) and collects what nothing else uses; an absent image is fine. */
  async remove(ref: string): Promise<ImageRecord | undefined> {
    return this.lock.run(async () => {
      const img = this.images.find(ref);
      if (!img) return undefined;
      await this.images.delete(img.id);
      await this.collect(false, img.blobs);
      return img;
    });
  }

  /**
   * collect removes layers no image, container rootfs or pull in flight uses, and blobs no image lists. With
   * `all`, unknown blobs are removed too (only at start-up, when no pull can be in flight).
   */
  private async collect(all: boolean, candidates: string[] = []): Promise<number> {
    const liveLayers = new Set<string>();
    const liveBlobs = new Set<string>();
    for (const i of this.images.all()) {
      for (const l of i.layers) liveLayers.add(l.diffId);
      for (const b of i.blobs) liveBlobs.add(b);
    }
    for (const r of this.rootfs.all()) for (const d of r.diffIds) liveLayers.add(d);
    let n = 0;
    for (const l of await this.layers.list()) {
      if (liveLayers.has(l) || this.layers.pinned(l)) continue;
      await this.layers.remove(l);
      n++;
    }
    if (all) {
      for (const b of await this.content.list()) {
        if (liveBlobs.has(b)) continue;
        await this.content.delete(b);
        n++;
      }
    } else {
      // Only the removed image's blobs: a pull in flight owns blobs that no image lists yet.
      for (const b of candidates) {
        if (liveBlobs.has(b)) continue;
        await this.content.delete(b);
        n++;
      }
    }
    return n;
  }

  /** fsUsage measures the bytes and inodes fune's image directory takes, and the mount point it is on. */
  async fsUsage(): Promise<FsUsage> {
    const u = await diskUsage(this.d.dir);
    const mps = await mountPoints();
    const mountpoint = mps.filter((m) => this.d.dir === m || this.d.dir.startsWith(m.endsWith('/') ? m : `${m}/`)).sort((a, b) => b.length - a.length)[0] ?? '/';
    return { ...u, mountpoint, timestamp: this.d.now() };
  }
}

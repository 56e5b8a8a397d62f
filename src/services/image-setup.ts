import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log/index.js';
import { nodeProcessRunner } from '../sys/process-runner.js';
import { nodeMounter, type Mounter } from '../sys/mount.js';
import { fuseOverlayMounter } from '../sys/overlay-mounter.js';
import { toolSpecialFiles } from '../sys/special-files.js';
import { ImageManager } from '../image/images.js';
import { NodeTransport } from '../image/transport.js';
import { hostPlatform } from '../image/manifest.js';
import { ImageService } from './image-service.js';
import type { PullMetrics } from '../domain/metrics-port.js';
import type { LayerFormat } from '../domain/node.js';

/** ImageParts are the image subsystem as the daemon holds it. */
export interface ImageParts {
  manager: ImageManager;
  service: ImageService;
  mounter: Mounter;
  /** init recovers the image store (sweeps what a crash left); run it before the readiness gate opens. */
  init(log: Logger): Promise<void>;
  /** close drops idle registry connections. */
  close(): void;
}

/** createImageParts builds the image subsystem from the configuration, with the real host seams. */
export function createImageParts(config: Config, metrics?: PullMetrics, format?: LayerFormat): ImageParts {
  const transport = new NodeTransport();
  const base = nodeMounter(nodeProcessRunner);
  const mounter = format?.overlayMounter === 'fuse-overlayfs' ? fuseOverlayMounter(base, nodeProcessRunner) : base;
  const manager = new ImageManager({
    dir: join(config.root, 'image'),
    runner: nodeProcessRunner,
    special: toolSpecialFiles(nodeProcessRunner),
    mounter,
    transport,
    configPath: config.registry.config_path,
    platform: hostPlatform(process.arch),
    stallMs: config.registry.pull_progress_timeout,
    deadlineMs: config.registry.pull_deadline,
    concurrency: Math.max(1, config.registry.max_concurrent_downloads),
    maxUnpackedSize: config.registry.max_unpacked_size,
    chown: process.getuid?.() === 0,
    format,
    now: () => Date.now(),
  });
  const service = new ImageService({ images: manager, platform: hostPlatform(process.arch), pinnedImages: config.runtime.sandbox_image ? [config.runtime.sandbox_image] : [], metrics });
  return { manager, service, mounter, init: (log) => manager.init(log), close: () => transport.close() };
}

import type { Logger } from '../log/index.js';
import { failedPrecondition, isKind } from '../errors/index.js';
import type { ImagePort } from './lifecycle-deps.js';
import type { LayerIdmap } from '../image/rootfs.js';
import type { Rollback } from './rollback.js';

/** InfraImage is what a pod's infra process runs from when `runtime.sandbox_image` is set. */
export interface InfraImage {
  imageId: string;
  /** args are the image's entrypoint followed by its cmd. */
  args: string[];
}

/**
 * SandboxImage gives pods their infra process from the configured `runtime.sandbox_image` (a pause image) instead
 * of catatonit: the image is pulled the first time a pod needs it and it is absent, as containerd does for its
 * pause image (one pull at a time, shared by the pods that wait for it); each pod gets its own read-only overlay
 * of it, keyed by the pod id. The image service reports the image `pinned`, so image GC keeps it.
 */
export class SandboxImage {
  private pulling?: Promise<unknown>;

  constructor(
    private readonly ref: string,
    private readonly images: ImagePort,
  ) {}

  /** resolve finds the image, pulling it when absent. */
  private async resolve(signal: AbortSignal, log: Logger): Promise<ReturnType<ImagePort['resolveImage']>> {
    try {
      return this.images.resolveImage(this.ref);
    } catch (e) {
      if (!isKind(e, 'NotFound')) throw e;
    }
    if (!this.pulling) {
      log.info({ image: this.ref }, 'pulling the sandbox image');
      const spec = { image: this.ref, annotations: {}, user_specified_image: this.ref, runtime_handler: '', image_ref: '' };
      this.pulling = this.images.pull(spec, null, { signal, log }).finally(() => (this.pulling = undefined));
    }
    await this.pulling;
    return this.images.resolveImage(this.ref);
  }

  /**
   * mount prepares and mounts pod `podId`'s infra rootfs at `rootfs` (an existing directory), registering the undos
   * with `rb`, and gives the image id and the infra argv.
   */
  async mount(podId: string, rootfs: string, rb: Rollback, signal: AbortSignal, log: Logger, idmap?: LayerIdmap): Promise<InfraImage> {
    const img = await this.resolve(signal, log);
    const args = [...(img.config.entrypoint ?? []), ...(img.config.cmd ?? [])];
    if (args.length === 0) throw failedPrecondition(`sandbox image ${this.ref} has neither an entrypoint nor a cmd to run as the infra process`);
    await this.images.prepareRootfs(podId, img.id);
    rb.add('remove infra rootfs', () => this.images.removeRootfs(podId));
    await this.images.mountRootfs(podId, rootfs, idmap);
    rb.add('unmount infra rootfs', () => this.images.unmountRootfs(rootfs));
    return { imageId: img.id, args };
  }
}

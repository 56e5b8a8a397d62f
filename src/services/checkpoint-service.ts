import { stat } from 'node:fs/promises';
import type { Logger } from '../log/index.js';
import { invalidArgument } from '../errors/index.js';
import { checkpointUnavailable, criuStatus, writeCheckpoint } from '../runtime/checkpoint.js';
import type { ContainerService } from './container-service.js';
import type { LifecycleDeps } from './lifecycle-deps.js';

const DEFAULT_TIMEOUT_S = 120;

/**
 * CheckpointService is CheckpointContainer (KEP-2008, the kubelet's /checkpoint API): `runc checkpoint` with
 * CRIU into the archive at the requested `location`, in the format CRI-O writes. Whether CRIU works on this
 * kernel is asked once (`criu check`); where it does not, the call is FAILED_PRECONDITION with CRIU's reason.
 */
export class CheckpointService {
  private criu?: ReturnType<typeof criuStatus>;

  constructor(
    private readonly d: LifecycleDeps,
    private readonly containers: ContainerService,
  ) {}

  /** checkpoint is CheckpointContainer: the container keeps running; nothing is left at `location` on failure. */
  async checkpoint(idOrPrefix: string, location: string, timeoutSec: number, signal: AbortSignal, log: Logger): Promise<void> {
    const id = this.d.registry.containerId(idOrPrefix);
    if (!location) throw invalidArgument('checkpoint location is required');
    if (!location.startsWith('/') || location.split('/').includes('..')) throw invalidArgument(`checkpoint location ${JSON.stringify(location)} must be an absolute path without ".."`);
    if ((await stat(location).catch(() => undefined))?.isDirectory()) throw invalidArgument(`checkpoint location ${JSON.stringify(location)} is a directory; it names the archive to write`);
    const running = await this.containers.runningContainer(id);
    this.criu ??= criuStatus(this.d.runner);
    const criu = await this.criu;
    if (!criu.ok) throw checkpointUnavailable(criu.why);
    const rec = this.d.registry.containers.get(id)!;
    const spec = await this.containers.spec(rec);
    const config = { id, name: rec.name, sandboxId: rec.sandboxId, image: rec.image, imageId: rec.imageId, imageRef: rec.imageRef, createdAt: rec.createdAt, config: rec.config, bundle: running.bundleDir };
    await writeCheckpoint(this.d.runc, this.d.runner, { id, config, spec, upperDir: rec.upperDir }, location, (timeoutSec > 0 ? timeoutSec : DEFAULT_TIMEOUT_S) * 1000, signal);
    log.info({ containerId: id, location }, 'container checkpointed');
  }
}

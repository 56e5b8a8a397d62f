import type { Logger } from '../log/index.js';
import type { OomWatch } from './cgroups.js';
import type { CgroupPlacement } from './placement/index.js';

/**
 * OomWatches holds one OOM watch per running container (as containerd's shim watches its container's
 * memory.events): when the kernel OOM-kills a process of the container's cgroup, the `oom` marker that conmon
 * leaves is written into the bundle at once, so that the exit is recorded OOMKilled even when the cgroup is gone
 * by the time the exit is read (systemd removes a scope's cgroup as soon as it is empty, and conmon does not
 * always leave its marker). Armed before `runc start`, again at start-up for containers that run (recovery);
 * disarmed at exit, failed start and removal. Where the placement cannot watch (cgroup v1) nothing is held and
 * the exit reads the cgroup's counts as before.
 */
export class OomWatches {
  private readonly watches = new Map<string, OomWatch>();

  constructor(
    private readonly placement: Pick<CgroupPlacement, 'watchOom' | 'cgroupOf'>,
    private readonly mark: (bundle: string) => void,
    private readonly log: Logger,
  ) {}

  /** arm watches container `id` (OCI `cgroupsPath`, bundle `bundle`), replacing a watch it had. */
  arm(id: string, cgroupsPath: string, bundle: string): void {
    this.disarm(id);
    const w = this.placement.watchOom(this.placement.cgroupOf(cgroupsPath), () => {
      try {
        this.mark(bundle);
        this.log.info({ containerId: id }, 'container OOM-killed (memory.events oom_kill)');
      } catch (err) {
        this.log.warn({ err, containerId: id }, 'writing the oom marker failed');
      }
    });
    if (w) this.watches.set(id, w);
  }

  /** disarm closes container `id`'s watch; none is fine. */
  disarm(id: string): void {
    this.watches.get(id)?.close();
    this.watches.delete(id);
  }

  /** size is how many watches are open. */
  get size(): number {
    return this.watches.size;
  }

  /** close closes every watch (daemon shutdown). */
  close(): void {
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }
}

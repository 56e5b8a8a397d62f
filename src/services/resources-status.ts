import type { ContainerRecord } from '../domain/container.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import { resourcesInForce } from '../domain/resources-in-force.js';
import { readCgroupLimits } from '../runtime/cgroup-limits.js';
import type { CgroupPlacement } from '../runtime/placement/index.js';

/**
 * resourcesStatus gives ContainerStatus.resources of a running container as its cgroup holds them (in-place
 * resize: the kubelet reads them to tell whether a resize took), or undefined to report the applied values (a
 * container not running, or without CRI resources).
 */
export async function resourcesStatus(rec: ContainerRecord, pod: SandboxRecord | undefined, placement: CgroupPlacement, mode: 'v1' | 'v2'): Promise<{ linux: unknown; windows: null } | undefined> {
  const applied = rec.config.linux?.resources;
  if (!applied || !pod || rec.state !== 'CONTAINER_RUNNING') return undefined;
  const path = placement.cgroupOf(placement.cgroupsPath(pod.cgroupParent, rec.id));
  return { linux: resourcesInForce(applied, await readCgroupLimits(path, mode), mode), windows: null };
}

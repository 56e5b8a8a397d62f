import type { ContainerRecord } from '../domain/container.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import { resourcesInForce } from '../domain/resources-in-force.js';
import { cgroupsPath } from '../oci/index.js';
import { readCgroupLimits } from '../runtime/cgroup-limits.js';
import { expandCgroupsPath } from '../runtime/cgroups.js';
import type { BaseHostFacts } from './host-facts.js';

/**
 * resourcesStatus gives ContainerStatus.resources of a running container as its cgroup holds them (in-place
 * resize: the kubelet reads them to tell whether a resize took), or undefined to report the applied values (a
 * container not running, or without CRI resources).
 */
export async function resourcesStatus(rec: ContainerRecord, pod: SandboxRecord | undefined, host: Pick<BaseHostFacts, 'cgroupDriver' | 'cgroupMode'>): Promise<{ linux: unknown; windows: null } | undefined> {
  const applied = rec.config.linux?.resources;
  if (!applied || !pod || rec.state !== 'CONTAINER_RUNNING') return undefined;
  const path = expandCgroupsPath(cgroupsPath(pod.cgroupParent, rec.id, host.cgroupDriver));
  return { linux: resourcesInForce(applied, await readCgroupLimits(path, host.cgroupMode), host.cgroupMode), windows: null };
}

import { join } from 'node:path';
import type { SandboxRecord } from '../domain/sandbox.js';
import { failedPrecondition } from '../errors/index.js';
import type { LayerIdmap } from '../image/rootfs.js';
import { podIdMappings, rootOnHost, type PodIdMappings } from '../oci/index.js';
import type { LifecycleDeps } from './lifecycle-deps.js';

/** PodUserns is a POD-mode pod's user namespace as the lifecycle uses it. */
export interface PodUserns {
  /** pin is the pinned user namespace the infra process and the containers join. */
  pin: string;
  /** dir is the pod's directory its root owns (rootfs mount points, pod files, shm, idmapped volumes). */
  dir: string;
  mappings: PodIdMappings;
  /** root is the host uid and gid of the pod's root. */
  root: { uid: number; gid: number };
}

/** podUsernsOf gives a pod's user namespace when it has its own (mode POD), else undefined. */
export function podUsernsOf(d: LifecycleDeps, pod: Pick<SandboxRecord, 'id' | 'config'>): PodUserns | undefined {
  const mappings = podIdMappings(pod.config.linux?.security_context?.namespace_options);
  if (!mappings) return undefined;
  if (!d.userns) throw failedPrecondition('user namespace mode POD is not supported on this node (idmapped mounts are missing)');
  return { pin: d.userns.pinOf(pod.id), dir: d.userns.podDir(pod.id), mappings, root: rootOnHost(mappings) };
}

/** layerIdmapOf gives the image side what it needs to stack idmapped layers for the pod. */
export function layerIdmapOf(d: LifecycleDeps, podId: string, u: PodUserns): LayerIdmap {
  const userns = d.userns!;
  return { view: (source, target) => userns.idmapMount(podId, source, target, false), detach: (t) => userns.detach(t), root: u.root };
}

/** infraRootfsOf is where a pod's infra rootfs is mounted (its own directory for a POD-mode user namespace). */
export function infraRootfsOf(rec: Pick<SandboxRecord, 'dir'>, u: PodUserns | undefined): string {
  return join(u ? u.dir : rec.dir, 'rootfs');
}

/**
 * Pod sandbox model.
 *
 * ```
 *              RunPodSandbox
 *   (none) ──────────────────▶ creating ──(infra started, record final)──▶ READY
 *                                 │                                         │ StopPodSandbox / infra died
 *                                 │ failure: undo in reverse                ▼
 *                                 └──────────────▶ (none)               NOTREADY ──RemovePodSandbox──▶ (none)
 * ```
 * `creating` is a record written before the first side effect; recovery removes what such a record left behind.
 */
import type { LinuxContainerResources, PodSandboxConfig, PodSandboxFilter, PodSandboxState } from './cri-types.js';
import { matchesLabels, matchesPrefix } from './ids.js';

/** SandboxRecord is what fune keeps of a pod, on disk and in memory. Timestamps are nanoseconds as decimal strings. */
export interface SandboxRecord {
  id: string;
  /** name is the reserved `k8s_POD_…` name. */
  name: string;
  config: PodSandboxConfig;
  runtimeHandler: string;
  createdAt: string;
  /** phase is 'creating' until RunPodSandbox finished; recovery cleans up records still in it. */
  phase: 'creating' | 'created';
  state: PodSandboxState;
  hostNetwork: boolean;
  netnsPath?: string;
  ips: string[];
  cgroupParent: string;
  /** dir is the pod's directory under the state dir (infra bundle, hosts, resolv.conf, shm). */
  dir: string;
  infraPid: number;
  /** infraStartTime is the infra process's start time from /proc/<pid>/stat, to tell pid reuse apart. */
  infraStartTime: string;
  resolvPath?: string;
  hostsPath?: string;
  hostnamePath?: string;
  shmPath?: string;
  /** shmMounted tells whether shmPath is a tmpfs fune mounted (and must unmount). */
  shmMounted: boolean;
  /** infraImage is the id of the configured sandbox image whose rootfs (an overlay keyed by the pod id) the infra process runs from; absent for catatonit. */
  infraImage?: string;
  /** usernsPath is the pinned user namespace of a pod of user namespace mode POD (absent: the host's). */
  usernsPath?: string;
  /** resources are the last UpdatePodSandboxResources request (pod resources without overhead, and overhead). */
  resources?: { overhead: LinuxContainerResources | null; resources: LinuxContainerResources | null };
}

/** canTransitionSandbox tells whether a pod may go from one state to another. */
export function canTransitionSandbox(from: PodSandboxState, to: PodSandboxState): boolean {
  return from === to || (from === 'SANDBOX_READY' && to === 'SANDBOX_NOTREADY');
}

/** filterSandboxes applies a ListPodSandbox filter: id (or prefix), state, labels. */
export function filterSandboxes<T extends Pick<SandboxRecord, 'id' | 'state' | 'config'>>(all: T[], f: PodSandboxFilter | null | undefined): T[] {
  if (!f) return all;
  return all.filter(
    (s) =>
      matchesPrefix(s.id, f.id) &&
      (!f.state || s.state === f.state.state) &&
      matchesLabels(s.config.labels, f.label_selector),
  );
}

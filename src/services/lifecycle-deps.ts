import type { Config } from '../config/types.js';
import type { Logger } from '../log/index.js';
import type { ImageSpec, PodSandboxConfig } from '../domain/cri-types.js';
import type { Conmon } from '../runtime/conmon.js';
import type { Runc } from '../runtime/runc.js';
import type { CgroupPlacement } from '../runtime/placement/index.js';
import type { Clock } from '../sys/clock.js';
import type { IdGenerator } from '../sys/id.js';
import type { ProcessRunner } from '../sys/process-runner.js';
import type { EventsService } from './events-service.js';
import type { BaseHostFacts } from './host-facts.js';
import type { Registry } from './registry.js';
import type { ImageConfig } from '../oci/input.js';
import type { NodeFacts } from '../domain/node.js';
import type { LifecycleMetrics } from '../domain/metrics-port.js';
import type { LayerIdmap } from '../image/rootfs.js';
import type { UserNamespaces } from '../runtime/user-namespaces.js';

/** PreparedNetwork is a pod whose namespace exists; attach runs CNI ADD in it, once. */
export interface PreparedNetwork {
  netnsPath?: string;
  attach(signal?: AbortSignal): Promise<{ netnsPath?: string; ips: string[] }>;
}

/** PodNetworkPort is what the pod lifecycle needs from the network service. */
export interface PodNetworkPort {
  /** preparePod makes the namespace only, so that CNI ADD can run while the infra process starts (optional). */
  preparePod?(p: { id: string; config?: PodSandboxConfig | null; hostNetwork: boolean; usernsPath?: string }, signal?: AbortSignal): Promise<PreparedNetwork>;
  setUpPod(p: { id: string; config?: PodSandboxConfig | null; hostNetwork: boolean; usernsPath?: string }, signal?: AbortSignal): Promise<{ netnsPath?: string; ips: string[] }>;
  tearDownPod(p: { id: string; config?: PodSandboxConfig | null; hostNetwork: boolean }, signal?: AbortSignal): Promise<void>;
  removePod(id: string, signal?: AbortSignal): Promise<void>;
  /** recover removes the networks of pods fune does not know (start-up). */
  recover?(knownPodIds: Iterable<string>): Promise<unknown>;
}

/** ImagePort is what the container lifecycle needs from the image service. */
export interface ImagePort {
  resolveImage(ref: string): { id: string; repoTags: string[]; repoDigests: string[]; config: ImageConfig };
  prepareRootfs(containerId: string, imageId: string): Promise<unknown>;
  /** mountRootfs mounts a prepared rootfs at `target`; `idmap` for a pod with its own user namespace. */
  mountRootfs(containerId: string, target: string, idmap?: LayerIdmap): Promise<void>;
  /** setVolumeUsers connects the lookup RemoveImage asks: which container mounts an image as a volume. */
  setVolumeUsers?(f: (imageId: string) => string | undefined): void;
  /** mountImageVolume mounts an image's layers read-only at `target` (CRI Mount.image). */
  mountImageVolume(imageId: string, target: string, noexec: boolean, idmap?: LayerIdmap): Promise<void>;
  unmountRootfs(target: string): Promise<void>;
  removeRootfs(containerId: string): Promise<void>;
  /** rootfsOwners gives the ids (container or pod) that own a prepared rootfs, for the orphan sweep at start-up. */
  rootfsOwners(): string[];
  /** pull fetches an image (the configured sandbox image when it is absent) and gives its id. */
  pull(spec: ImageSpec | null, auth: null, o: { signal: AbortSignal; log: Logger }): Promise<string>;
}

/** LifecycleDeps are the parts the pod and container services share. */
export interface LifecycleDeps {
  config: Config;
  log: Logger;
  registry: Registry;
  runc: Runc;
  conmon: Conmon;
  runner: ProcessRunner;
  clock: Clock;
  ids: IdGenerator;
  events: EventsService;
  /** node is what kind of node this is (cgroup layout and driver, user namespace, OCI runtime features, ...). */
  node: NodeFacts;
  /** placement is where this node puts pods, containers and conmon in the cgroup tree (cgroupfs or systemd, v1 or v2). */
  placement: CgroupPlacement;
  host: BaseHostFacts;
  network?: PodNetworkPort;
  images?: ImagePort;
  /** podsDir holds one directory per pod (infra bundle, shared files, shm); bundlesDir one per container. */
  podsDir: string;
  bundlesDir: string;
  /** shmSize is the size of a pod's /dev/shm tmpfs in bytes (64 MiB by default). */
  shmSize?: number;
  /** metrics counts OOM kills and ExecSync timeouts (undefined when `[metrics]` is off). */
  metrics?: LifecycleMetrics;
  /** userns makes the user namespaces and idmapped mounts of POD-mode pods (undefined: POD mode is not offered). */
  userns?: UserNamespaces;
}

/** nowNs gives the clock's time as a decimal nanosecond string. */
export function nowNs(clock: Clock): string {
  return String(clock.nowNanos());
}

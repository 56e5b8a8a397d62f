// The shape shared by the per-version request builders (v1_22.ts, v1_34.ts): what differs between the two kubelets
// the suite speaks as, behind one interface, so that each sequence is written once and run as both.
import type { KubeletNode } from './node.js';
import type { Container, Pod } from './pod.js';

/** ImageUser is what kuberuntime helpers.go getImageUser read from ImageStatus: a uid, or a user name. */
export interface ImageUser {
  uid?: number;
  username: string;
}

/** ContainerInputs are what startContainer has worked out before generateContainerConfig. */
export interface ContainerInputs {
  restartCount: number;
  /** imageRef is what EnsureImageExists returned: ImageStatus.id, or PullImageResponse.image_ref after a pull. */
  imageRef: string;
  podIPs: string[];
  user: ImageUser;
}

/** Built is a request body with the host-side things the kubelet prepared for it. */
export interface BuiltContainer {
  config: Record<string, any>;
  /** terminationLog is the host file mounted at the container's terminationMessagePath. */
  terminationLog?: string;
}

/** KubeletVersion is one kubelet release as the runtime sees it. */
export interface KubeletVersion {
  version: '1.22' | '1.34';
  /** api is the CRI package the kubelet speaks: v1alpha2 (1.22) or v1 (1.26+ only). */
  api: 'v1alpha2' | 'v1';
  /**
   * authority is the HTTP/2 :authority its gRPC client sends: the socket path before 1.26, "localhost" since
   * (kubernetes/kubernetes#112597), which decides which of fune's two CRI servers answers.
   */
  authority(socket: string): string;
  /** sandboxConfig is kuberuntime_sandbox.go generatePodSandboxConfig. */
  sandboxConfig(node: KubeletNode, pod: Pod, attempt: number): Record<string, any>;
  /** containerConfig is kuberuntime_container.go generateContainerConfig (host side effects included). */
  containerConfig(node: KubeletNode, pod: Pod, c: Container, inputs: ContainerInputs): BuiltContainer;
  /** linuxResources is kuberuntime_container_linux.go's container resources (also UpdateContainerResources). */
  linuxResources(node: KubeletNode, pod: Pod, c: Container): Record<string, any>;
  /** imageSpec is the ImageSpec of EnsureImageExists (ImageStatus, PullImage): the image with a default tag and the pod's annotations. */
  imageSpec(pod: Pod, c: Container): Record<string, any>;
  /** imageIdOfContainer is toKubeContainer's ImageID of a ListContainers entry (what image GC counts as in use). */
  imageIdOfContainer(c: Record<string, any>): string;
  /** probeGracePeriod is setTerminationGracePeriod for a liveness kill (ProbeTerminationGracePeriod: beta off in 1.22, GA in 1.34). */
  probeGracePeriod(pod: Pod, c: Container): number;
  /** asksRuntimeConfig: the kubelet takes its cgroup driver from the RuntimeConfig RPC (KubeletCgroupDriverFromCRI, on in 1.34). */
  asksRuntimeConfig: boolean;
}

/** applyDefaultImageTag mirrors images/image_manager.go applyDefaultImageTag: ":latest" when neither tag nor digest. */
export function applyDefaultImageTag(image: string): string {
  if (image.includes('@')) return image;
  const last = image.slice(image.lastIndexOf('/') + 1);
  return last.includes(':') ? image : `${image}:latest`;
}

/** oomScoreAdj mirrors qos/policy.go GetContainerOOMScoreAdjust (no node-critical pods in the suite). */
export function oomScoreAdj(qos: 'Guaranteed' | 'Burstable' | 'BestEffort', memoryRequest: number, memoryCapacity: number): number {
  if (qos === 'Guaranteed') return -997;
  if (qos === 'BestEffort') return 1000;
  const adj = 1000 - Math.trunc((1000 * memoryRequest) / memoryCapacity);
  if (adj < 3) return 3;
  return adj === 1000 ? 999 : adj;
}

/** hugepageLimits mirrors GetHugepageLimitsFromResources: every host page size, 0 unless the container asks for it. */
export function hugepageLimits(node: KubeletNode, c: Container): { page_size: string; limit: number }[] {
  const asked = c.resources?.limits?.['hugepages-2Mi'];
  return node.hugePageSizes.map((size) => ({ page_size: size, limit: size === '2MB' && asked ? asked : 0 }));
}

/** MASKED_PATHS_1_22 is securitycontext defaultMaskedPaths in 1.22; 1.34 adds /sys/devices/virtual/powercap. */
export const MASKED_PATHS_1_22 = ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];

/** READONLY_PATHS is securitycontext defaultReadonlyPaths (both versions). */
export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

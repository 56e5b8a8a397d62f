// The kubelet's container manager (pkg/kubelet/cm) as far as CRI requests see it: the QoS and pod cgroup names in
// both drivers' forms, and the resources the kubelet puts on a pod's cgroup. The code is the same in 1.22 and 1.34
// for pods without pod-level resources (a 1.32+ alpha the suite does not use).
import { qosClass, requests, type Pod, type QoSClass } from './pod.js';
import type { KubeletNode } from './node.js';

/** CgroupName is cm.CgroupName: the parts of a cgroup's name, driver-neutral. */
export type CgroupName = string[];

/**
 * toCgroupfs mirrors cgroup_manager_linux.go CgroupName.ToCgroupfs: "/" + the parts joined by "/"
 * (`/kubepods/burstable/pod<uid>`).
 */
export function toCgroupfs(name: CgroupName): string {
  return `/${name.join('/')}`;
}

/**
 * toSystemd mirrors cgroup_manager_linux.go CgroupName.ToSystemd: each part has its "-" escaped to "_"
 * (escapeSystemdCgroupName), the parts are joined by "-" with ".slice" appended, and the slice expanded to its path
 * (runc's systemd.ExpandSlice): `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice`.
 */
export function toSystemd(name: CgroupName): string {
  if (name.length === 0 || (name.length === 1 && name[0] === '')) return '/';
  const parts = name.map((p) => p.replaceAll('-', '_'));
  let path = '';
  for (let i = 1; i <= parts.length; i++) path += `/${parts.slice(0, i).join('-')}.slice`;
  return path;
}

/** cgroupManagerName mirrors cgroupManagerImpl.Name: the driver's literal form of a cgroup name. */
export function cgroupManagerName(node: KubeletNode, name: CgroupName): string {
  return node.cgroupDriver === 'systemd' ? toSystemd(name) : toCgroupfs(name);
}

/** qosCgroupName mirrors qos_container_manager_linux.go: Guaranteed pods sit in kubepods itself, others in its children. */
export function qosCgroupName(node: KubeletNode, qos: QoSClass): CgroupName {
  const kubepods = [...node.cgroupRoot, 'kubepods'];
  if (qos === 'Guaranteed') return kubepods;
  return [...kubepods, qos.toLowerCase()];
}

/**
 * podCgroupName mirrors pod_container_manager_linux.go GetPodContainerName: the QoS parent plus `pod<uid>`
 * (GetPodCgroupNameSuffix), and the literal name the kubelet sends as LinuxPodSandboxConfig.cgroup_parent
 * (kubelet_pods.go GetPodCgroupParent).
 */
export function podCgroupName(node: KubeletNode, pod: Pod): { name: CgroupName; literal: string } {
  const name = [...qosCgroupName(node, qosClass(pod)), `pod${pod.uid}`];
  return { name, literal: cgroupManagerName(node, name) };
}

/** milliCPUToShares mirrors cm/helpers_linux.go MilliCPUToShares (min 2, max 262144). */
export function milliCPUToShares(milli: number): number {
  if (milli === 0) return 2;
  const shares = Math.floor((milli * 1024) / 1000);
  return Math.min(262144, Math.max(2, shares));
}

/** milliCPUToQuota mirrors cm/helpers_linux.go MilliCPUToQuota (0 for no limit, at least 1 ms). */
export function milliCPUToQuota(milli: number, period: number): number {
  if (milli === 0) return 0;
  return Math.max(1000, Math.floor((milli * period) / 1000));
}

/** PodResourceConfig is cm.ResourceConfig as ResourceConfigForPod fills it. */
export interface PodResourceConfig {
  cpuShares: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memory?: number;
  /** memoryMin is Unified["memory.min"], the pod's memory requests, set with enforceMemoryQoS only. */
  memoryMin?: number;
}

/**
 * resourceConfigForPod mirrors cm/helpers_linux.go ResourceConfigForPod with CFS quota enforced and a 100 ms period:
 * requests and limits summed over the containers (init containers by maximum) plus the overhead; Guaranteed pods
 * get shares, quota and memory; Burstable ones shares, and quota or memory only when every container declares that
 * limit; BestEffort ones 2 shares. With enforceMemoryQoS (the MemoryQoS gate on cgroup v2) a pod whose memory
 * requests are not 0 gets them as memory.min.
 */
export function resourceConfigForPod(pod: Pod, enforceMemoryQoS = false): PodResourceConfig {
  const sum = (key: 'cpu' | 'memory', of: 'requests' | 'limits') => {
    const get = (c: Pod['containers'][number]) => (of === 'requests' ? requests(c) : c.resources?.limits ?? {})[key] ?? 0;
    const main = pod.containers.reduce((a, c) => a + get(c), 0);
    const init = Math.max(0, ...pod.initContainers.map(get));
    return Math.max(main, init) + (pod.overhead?.[key] ?? 0);
  };
  const period = 100000;
  const shares = milliCPUToShares(sum('cpu', 'requests'));
  const quota = milliCPUToQuota(sum('cpu', 'limits'), period);
  const all = [...pod.containers, ...pod.initContainers];
  const cpuLimits = all.every((c) => (c.resources?.limits?.cpu ?? 0) > 0);
  const memLimits = all.every((c) => (c.resources?.limits?.memory ?? 0) > 0);
  const memoryMin = sum('memory', 'requests');
  const qos = enforceMemoryQoS && memoryMin > 0 ? { memoryMin } : {};
  switch (qosClass(pod)) {
    case 'Guaranteed':
      return { cpuShares: shares, cpuQuota: quota, cpuPeriod: period, memory: sum('memory', 'limits'), ...qos };
    case 'Burstable':
      return {
        cpuShares: shares,
        ...(cpuLimits ? { cpuQuota: quota, cpuPeriod: period } : {}),
        ...(memLimits ? { memory: sum('memory', 'limits') } : {}),
        ...qos,
      };
    default:
      return { cpuShares: 2 };
  }
}

/** sharesToWeight is runc 1.1's ConvertCPUSharesToCgroupV2Value, which the kubelet's libcontainer applies on v2. */
export function sharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

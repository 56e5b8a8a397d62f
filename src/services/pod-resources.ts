import type { Logger } from '../log/index.js';
import type { LinuxContainerResources } from '../domain/cri-types.js';
import { validateContainerResources } from '../oci/index.js';
import { writePodCgroupLimits, type PodLimits } from '../runtime/cgroup-limits.js';
import type { LifecycleDeps } from './lifecycle-deps.js';

const big = (s: string | undefined) => BigInt(s || '0');

/**
 * podLimits adds a pod's resources (its containers' total, as the kubelet computes it) and its overhead into the
 * limits of the pod cgroup: shares and memory add up; quotas add up over one period (the resources' period, else
 * the overhead's, else 100 ms); no limit in the resources (quota or memory 0) means none for the pod.
 */
export function podLimits(res: LinuxContainerResources | null, overhead: LinuxContainerResources | null): PodLimits {
  const r = res ?? ({} as Partial<LinuxContainerResources>);
  const o = overhead ?? ({} as Partial<LinuxContainerResources>);
  const period = big(r.cpu_period) || big(o.cpu_period) || 100_000n;
  const scaled = (q: bigint, p: bigint) => (q > 0n ? (q * period) / (p || period) : 0n);
  const quota = big(r.cpu_quota) > 0n ? scaled(big(r.cpu_quota), big(r.cpu_period)) + scaled(big(o.cpu_quota), big(o.cpu_period)) : 0n;
  const memory = big(r.memory_limit_in_bytes) > 0n ? big(r.memory_limit_in_bytes) + big(o.memory_limit_in_bytes) : 0n;
  return { shares: big(r.cpu_shares) + big(o.cpu_shares), quota, period: quota > 0n ? period : 0n, memory };
}

/**
 * updatePodResources is UpdatePodSandboxResources. The request is checked like container resources and kept on
 * the pod's record (verbose PodSandboxStatus shows it). Where fune made the pod cgroup (cgroupfs driver, no
 * cgroup_parent from the kubelet) it applies the totals to it (with systemd, fune's pod slice would need the
 * limits as unit properties, which it does not set yet: recorded only); where the kubelet owns the pod cgroup it has set it
 * already, and fune only records the request, as containerd 2.3 and CRI-O 1.33 do (they hand it to NRI plugins).
 */
export async function updatePodResources(d: LifecycleDeps, podIdOrPrefix: string, overhead: LinuxContainerResources | null, resources: LinuxContainerResources | null, log: Logger): Promise<{ applied: boolean }> {
  const reg = d.registry;
  const id = reg.sandboxId(podIdOrPrefix);
  validateContainerResources(resources, d.host);
  validateContainerResources(overhead, d.host);
  return reg.locks.run(id, async () => {
    const rec = reg.sandboxes.get(id)!;
    const owned = !rec.config.linux?.cgroup_parent && d.placement.driver === 'cgroupfs';
    if (owned) await writePodCgroupLimits(d.placement.podCgroup(rec.cgroupParent), podLimits(resources, overhead), d.host.cgroupMode);
    await reg.saveSandbox({ ...rec, resources: { overhead, resources } });
    log.info({ podSandboxId: id, applied: owned }, owned ? 'pod cgroup resources updated' : 'pod resources recorded (the kubelet owns the pod cgroup)');
    return { applied: owned };
  });
}

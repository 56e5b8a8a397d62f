import type { LinuxContainerResources } from './cri-types.js';
import { formatCpuset, parseCpuset } from './cpuset.js';

/** CgroupReadings are the limit files of a container's cgroup as read (undefined: not there). */
export interface CgroupReadings {
  /** cgroup v1: cpu.shares; v2: cpu.weight (converted). */
  shares?: bigint;
  quota?: bigint;
  period?: bigint;
  /** memory limit in bytes; 0 for none (v1's 9223372036854771712 or v2's "max"). */
  memory?: bigint;
  /** memory+swap limit in bytes (v1 memory.memsw.limit_in_bytes); 0 for none. */
  memorySwap?: bigint;
  cpus?: string;
  mems?: string;
}

const PAGE = 4096n;
const clampShares = (s: bigint) => (s < 2n ? 2n : s > 262144n ? 262144n : s);

/** weightToShares and sharesToWeight convert between cgroup v1 shares and v2 weight as runc does. */
export const sharesToWeight = (s: bigint) => (s === 0n ? 0n : 1n + ((clampShares(s) - 2n) * 9999n) / 262142n);
export const weightToShares = (w: bigint) => 2n + ((w - 1n) * 262142n) / 9999n;

const cpusetSame = (a: string, b: string): boolean => {
  try {
    return formatCpuset(parseCpuset(a)) === formatCpuset(parseCpuset(b));
  } catch {
    return false;
  }
};

/**
 * resourcesInForce gives the container resources ContainerStatus reports: what the cgroup holds, in the CRI's
 * terms. A kubelet (1.27 to 1.32) compares them with what it asked for to tell whether a resize is done, so a
 * value the kernel keeps in its own form (memory rounded down to a page, shares clamped, v2 weight from shares, an
 * equivalent cpuset) is reported as the value that was applied; a value that differs from it (changed behind
 * fune's back, or an update that did not take) is reported as read. Fields the CRI left unset stay unset.
 */
export function resourcesInForce(applied: LinuxContainerResources, r: CgroupReadings, mode: 'v1' | 'v2'): LinuxContainerResources {
  const out: LinuxContainerResources = { ...applied };
  const a = (s: string) => BigInt(s || '0');
  const shares = a(applied.cpu_shares);
  if (shares > 0n && r.shares !== undefined) {
    const expected = mode === 'v2' ? weightToShares(sharesToWeight(shares)) : clampShares(shares);
    if (r.shares !== expected) out.cpu_shares = String(r.shares);
  }
  if (a(applied.cpu_period) > 0n && r.period !== undefined && r.period !== a(applied.cpu_period)) out.cpu_period = String(r.period);
  if (a(applied.cpu_quota) > 0n && r.quota !== undefined && r.quota !== a(applied.cpu_quota)) out.cpu_quota = String(r.quota);
  for (const [key, got] of [['memory_limit_in_bytes', r.memory], ['memory_swap_limit_in_bytes', r.memorySwap]] as const) {
    const want = a(applied[key]);
    if (want > 0n && got !== undefined && got !== (want / PAGE) * PAGE) out[key] = String(got);
  }
  if (applied.cpuset_cpus && r.cpus !== undefined && !cpusetSame(applied.cpuset_cpus, r.cpus)) out.cpuset_cpus = r.cpus;
  if (applied.cpuset_mems && r.mems !== undefined && !cpusetSame(applied.cpuset_mems, r.mems)) out.cpuset_mems = r.mems;
  return out;
}

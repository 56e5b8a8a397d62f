import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { weightToShares, sharesToWeight, type CgroupReadings } from '../domain/resources-in-force.js';
import { failedPrecondition } from '../errors/index.js';
import { CGROUP_ROOT } from './cgroups.js';

const V1_UNLIMITED = 9223372036854771712n;

async function read(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then((t) => t.trim(), () => undefined);
}

const num = (t: string | undefined): bigint | undefined => (t !== undefined && /^-?\d+$/.test(t) ? BigInt(t) : undefined);
const bytes = (t: string | undefined): bigint | undefined => (t === 'max' ? 0n : ((n) => (n === undefined ? undefined : n >= V1_UNLIMITED ? 0n : n))(num(t)));

/** readCgroupLimits reads the cpu, memory and cpuset limits of the cgroup `path` (cgroupfs form) as they are in force. */
export async function readCgroupLimits(path: string, mode: 'v1' | 'v2', root = CGROUP_ROOT): Promise<CgroupReadings> {
  if (mode === 'v2') {
    const d = join(root, path);
    const [weight, max, memory, cpus, mems] = await Promise.all(['cpu.weight', 'cpu.max', 'memory.max', 'cpuset.cpus', 'cpuset.mems'].map((f) => read(join(d, f))));
    const [q, p] = (max ?? '').split(' ');
    const w = num(weight);
    return { shares: w === undefined ? undefined : weightToShares(w), quota: q === 'max' ? -1n : num(q), period: num(p), memory: bytes(memory), cpus, mems };
  }
  const [shares, quota, period, memory, memorySwap, cpus, mems] = await Promise.all([
    read(join(root, 'cpu', path, 'cpu.shares')),
    read(join(root, 'cpu', path, 'cpu.cfs_quota_us')),
    read(join(root, 'cpu', path, 'cpu.cfs_period_us')),
    read(join(root, 'memory', path, 'memory.limit_in_bytes')),
    read(join(root, 'memory', path, 'memory.memsw.limit_in_bytes')),
    read(join(root, 'cpuset', path, 'cpuset.cpus')),
    read(join(root, 'cpuset', path, 'cpuset.mems')),
  ]);
  return { shares: num(shares), quota: num(quota), period: num(period), memory: bytes(memory), memorySwap: bytes(memorySwap), cpus, mems };
}

/** PodLimits are the totals a pod cgroup gets (0 = leave as it is / no limit). */
export interface PodLimits {
  shares: bigint;
  quota: bigint;
  period: bigint;
  memory: bigint;
}

/**
 * writePodCgroupLimits writes a pod cgroup's cpu and memory limits (a cgroup fune made for a pod the kubelet gave
 * no cgroup parent): period before quota, and memory only when set. A limit the kernel refuses (memory below what
 * the pod uses: EBUSY) is FailedPrecondition.
 */
export async function writePodCgroupLimits(path: string, l: PodLimits, mode: 'v1' | 'v2', root = CGROUP_ROOT): Promise<void> {
  const writes: [string, string][] =
    mode === 'v2'
      ? [
          ...(l.shares > 0n ? [[join(root, path, 'cpu.weight'), String(sharesToWeight(l.shares))] as [string, string]] : []),
          ...(l.period > 0n ? [[join(root, path, 'cpu.max'), `${l.quota > 0n ? l.quota : 'max'} ${l.period}`] as [string, string]] : []),
          [join(root, path, 'memory.max'), l.memory > 0n ? String(l.memory) : 'max'],
        ]
      : [
          ...(l.shares > 0n ? [[join(root, 'cpu', path, 'cpu.shares'), String(l.shares)] as [string, string]] : []),
          ...(l.period > 0n ? [[join(root, 'cpu', path, 'cpu.cfs_period_us'), String(l.period)] as [string, string]] : []),
          [join(root, 'cpu', path, 'cpu.cfs_quota_us'), l.quota > 0n ? String(l.quota) : '-1'],
          [join(root, 'memory', path, 'memory.limit_in_bytes'), l.memory > 0n ? String(l.memory) : '-1'],
        ];
  for (const [file, value] of writes) {
    try {
      await writeFile(file, value);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EBUSY' || code === 'EINVAL') throw failedPrecondition(`the pod cgroup refused ${value} in ${file} (${code})`);
      throw e;
    }
  }
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupSample, DeviceIo, Psi } from '../domain/cadvisor-metrics.js';
import { CGROUP_ROOT, parseKeyed } from './cgroups.js';

// One read of a container's cgroup for the CRI metrics, one implementation per cgroup layout. The files are the
// kernel's in-memory pseudo-files: they are read synchronously (no thread-pool round trip per file, a few
// microseconds each), which keeps a scrape of many containers cheap.

/** CgroupSampler reads the sample of the cgroup at an expanded cgroupsPath. */
export interface CgroupSampler {
  sample(path: string): CgroupSample;
}

function text(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function num(path: string): bigint | undefined {
  const t = text(path)?.trim();
  return t && /^\d+$/.test(t) ? BigInt(t) : undefined;
}

/** lineCount counts the non-empty lines of a file (tasks, cgroup.threads): undefined when it cannot be read. */
function lineCount(path: string): bigint | undefined {
  const t = text(path);
  if (t === undefined) return undefined;
  let n = 0n;
  for (const l of t.split('\n')) if (l !== '') n++;
  return n;
}

/** pidList reads cgroup.procs: undefined when it cannot be read. */
function pidList(path: string): number[] | undefined {
  return text(path)?.split('\n').filter((l) => l !== '').map(Number);
}

/** NO_LIMIT is where a v1 limit means none (the kernel rounds its "unlimited" down from 2^63). */
const NO_LIMIT = 1n << 62n;
const limit = (v: bigint | undefined) => (v !== undefined && v < NO_LIMIT ? v : undefined);
const workingSet = (usage: bigint | undefined, inactive: bigint | undefined) =>
  usage === undefined ? undefined : usage > (inactive ?? 0n) ? usage - (inactive ?? 0n) : 0n;

/** parsePsi reads a PSI file: `some avg10=… total=N` and `full … total=N` (microseconds). */
export function parsePsi(t: string | undefined): Psi {
  const out: Psi = {};
  for (const line of (t ?? '').split('\n')) {
    const m = /^(some|full)\s.*\btotal=(\d+)/.exec(line);
    if (m) out[m[1] === 'some' ? 'someUs' : 'fullUs'] = BigInt(m[2]!);
  }
  return out;
}

/** parseIoStat reads v2 io.stat: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …` per device. */
export function parseIoStat(t: string | undefined): DeviceIo[] {
  const out: DeviceIo[] = [];
  for (const line of (t ?? '').split('\n')) {
    const [device, ...kv] = line.trim().split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) continue;
    const f = new Map(kv.map((x) => x.split('=') as [string, string]));
    const n = (k: string) => (/^\d+$/.test(f.get(k) ?? '') ? BigInt(f.get(k)!) : 0n);
    out.push({ device, readBytes: n('rbytes'), writeBytes: n('wbytes'), reads: n('rios'), writes: n('wios') });
  }
  return out;
}

/** parseBlkio merges v1's blkio.throttle.io_service_bytes_recursive and io_serviced_recursive per device. */
export function parseBlkio(bytes: string | undefined, ops: string | undefined): DeviceIo[] {
  const by = new Map<string, DeviceIo>();
  const take = (t: string | undefined, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
    for (const line of (t ?? '').split('\n')) {
      const [device, op, v] = line.trim().split(/\s+/);
      if (!device || !/^\d+:\d+$/.test(device) || !v || !/^\d+$/.test(v)) continue;
      const io = by.get(device) ?? { device, readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n };
      by.set(device, io);
      if (op === 'Read') io[read] = BigInt(v);
      else if (op === 'Write') io[write] = BigInt(v);
    }
  };
  take(bytes, 'readBytes', 'writeBytes');
  take(ops, 'reads', 'writes');
  return [...by.values()];
}

/** parseCpuMax reads v2 cpu.max: `max 100000` or `50000 100000` (quota and period in microseconds). */
export function parseCpuMax(t: string | undefined): { quota?: bigint; period?: bigint } {
  const [q, p] = (t ?? '').trim().split(/\s+/);
  return { quota: q && /^\d+$/.test(q) ? BigInt(q) : undefined, period: p && /^\d+$/.test(p) ? BigInt(p) : undefined };
}

/** weightToShares turns a v2 cpu.weight back into v1 cpu.shares, as cAdvisor does (runc's mapping, inverted). */
export function weightToShares(weight: bigint | undefined): bigint | undefined {
  return weight === undefined ? undefined : 2n + ((weight - 1n) * 262142n) / 9999n;
}

/** v1Sampler reads the v1 hierarchies under `root` (one directory per controller). */
export function v1Sampler(root = CGROUP_ROOT): CgroupSampler {
  return {
    sample(path) {
      const f = (ctrl: string, file: string) => join(root, ctrl, path, file);
      const cpuStat = parseKeyed(text(f('cpu', 'cpu.stat')));
      // cpuacct.usage_user/_sys are nanoseconds; older kernels have only cpuacct.stat, in USER_HZ (100/s) ticks.
      let ticks: Map<string, bigint> | undefined;
      const tick = (k: string) => ((ticks ??= parseKeyed(text(f('cpuacct', 'cpuacct.stat')))).has(k) ? ticks.get(k)! * 10_000_000n : undefined);
      const user = num(f('cpuacct', 'cpuacct.usage_user')) ?? tick('user');
      const system = num(f('cpuacct', 'cpuacct.usage_sys')) ?? tick('system');
      const m = parseKeyed(text(f('memory', 'memory.stat')));
      const usage = num(f('memory', 'memory.usage_in_bytes'));
      const memsw = num(f('memory', 'memory.memsw.usage_in_bytes'));
      const quota = text(f('cpu', 'cpu.cfs_quota_us'))?.trim();
      const pids = pidList(f('pids', 'cgroup.procs'));
      return {
        cpu: {
          usageNs: num(f('cpuacct', 'cpuacct.usage')), userNs: user, systemNs: system,
          periods: cpuStat.get('nr_periods'), throttledPeriods: cpuStat.get('nr_throttled'), throttledNs: cpuStat.get('throttled_time'),
        },
        memory: {
          usage, workingSet: workingSet(usage, m.get('total_inactive_file')), rss: m.get('total_rss'), cache: m.get('total_cache'),
          mappedFile: m.get('total_mapped_file'), kernel: num(f('memory', 'memory.kmem.usage_in_bytes')),
          swap: memsw !== undefined && usage !== undefined && memsw > usage ? memsw - usage : memsw === undefined ? undefined : 0n,
          maxUsage: num(f('memory', 'memory.max_usage_in_bytes')), failcnt: num(f('memory', 'memory.failcnt')),
          pageFaults: m.get('total_pgfault'), majorPageFaults: m.get('total_pgmajfault'),
          oomKills: parseKeyed(text(f('memory', 'memory.oom_control'))).get('oom_kill'),
        },
        pids,
        processes: pids && BigInt(pids.length),
        threads: lineCount(f('pids', 'tasks')),
        threadsMax: num(f('pids', 'pids.max')),
        io: parseBlkio(text(f('blkio', 'blkio.throttle.io_service_bytes_recursive')), text(f('blkio', 'blkio.throttle.io_serviced_recursive'))),
        spec: {
          cpuShares: num(f('cpu', 'cpu.shares')), cpuPeriod: num(f('cpu', 'cpu.cfs_period_us')),
          cpuQuota: quota && /^\d+$/.test(quota) ? BigInt(quota) : undefined,
          memoryLimit: limit(num(f('memory', 'memory.limit_in_bytes'))), memoryReservation: limit(num(f('memory', 'memory.soft_limit_in_bytes'))),
          swapLimit: limit(num(f('memory', 'memory.memsw.limit_in_bytes'))),
        },
      };
    },
  };
}

/** v2Sampler reads the unified tree under `root`. */
export function v2Sampler(root = CGROUP_ROOT): CgroupSampler {
  return {
    sample(path) {
      const f = (file: string) => join(root, path, file);
      const cpu = parseKeyed(text(f('cpu.stat')));
      const m = parseKeyed(text(f('memory.stat')));
      const events = parseKeyed(text(f('memory.events')));
      const usage = num(f('memory.current'));
      const us = (k: string) => (cpu.has(k) ? cpu.get(k)! * 1000n : undefined);
      const max = parseCpuMax(text(f('cpu.max')));
      const pids = pidList(f('cgroup.procs'));
      const kernel = m.get('kernel') ?? (m.has('slab') ? (m.get('slab') ?? 0n) + (m.get('kernel_stack') ?? 0n) + (m.get('pagetables') ?? 0n) + (m.get('sock') ?? 0n) : undefined);
      return {
        cpu: { usageNs: us('usage_usec'), userNs: us('user_usec'), systemNs: us('system_usec'), periods: cpu.get('nr_periods'), throttledPeriods: cpu.get('nr_throttled'), throttledNs: us('throttled_usec') },
        memory: {
          usage, workingSet: workingSet(usage, m.get('inactive_file')), rss: m.get('anon'), cache: m.get('file'), mappedFile: m.get('file_mapped'), kernel,
          swap: num(f('memory.swap.current')), maxUsage: num(f('memory.peak')), failcnt: events.get('max'),
          pageFaults: m.get('pgfault'), majorPageFaults: m.get('pgmajfault'), oomKills: events.get('oom_kill'),
        },
        pids,
        processes: pids && BigInt(pids.length),
        threads: lineCount(f('cgroup.threads')),
        threadsMax: num(f('pids.max')),
        io: parseIoStat(text(f('io.stat'))),
        spec: {
          cpuShares: weightToShares(num(f('cpu.weight'))), cpuPeriod: max.period, cpuQuota: max.quota,
          memoryLimit: num(f('memory.max')), memoryReservation: num(f('memory.min')), swapLimit: num(f('memory.swap.max')),
        },
        psi: { cpu: parsePsi(text(f('cpu.pressure'))), memory: parsePsi(text(f('memory.pressure'))), io: parsePsi(text(f('io.pressure'))) },
      };
    },
  };
}

/** cgroupSampler gives the sampler of a node's cgroup layout. */
export function cgroupSampler(mode: 'v1' | 'v2', root = CGROUP_ROOT): CgroupSampler {
  return mode === 'v2' ? v2Sampler(root) : v1Sampler(root);
}

/** countFds counts the open file descriptors of the processes listed in a cgroup's procs (gone ones count 0). */
export function countFds(pids: number[]): bigint {
  let n = 0n;
  for (const pid of pids) {
    try {
      n += BigInt(readdirSync(`/proc/${pid}/fd`).length);
    } catch {
      // the process ended meanwhile
    }
  }
  return n;
}

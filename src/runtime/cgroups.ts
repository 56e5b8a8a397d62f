import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** CGROUP_ROOT is where cgroup hierarchies are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * expandCgroupsPath turns an OCI cgroupsPath into the path inside a hierarchy: cgroupfs paths are used as they are;
 * systemd's `slice:prefix:name` becomes `/a.slice/a-b.slice/prefix-name.scope`, as runc's systemd driver names it.
 */
export function expandCgroupsPath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) return cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
  const [slice, prefix, name] = parts as [string, string, string];
  return `${expandSlice(slice)}/${prefix}-${name}.scope`;
}

/** expandSlice gives the path of a systemd slice: `a-b.slice` → `/a.slice/a-b.slice` (-.slice is the root). */
export function expandSlice(slice: string): string {
  if (slice === '' || slice === '-.slice') return '';
  const base = slice.replace(/\.slice$/, '');
  const segs = base.split('-');
  let path = '';
  let acc = '';
  for (const s of segs) {
    acc = acc ? `${acc}-${s}` : s;
    path += `/${acc}.slice`;
  }
  return path;
}

/** CgroupStats are the numbers fune reports from a cgroup (undefined = not available). */
export interface CgroupStats {
  cpuUsageNs?: bigint;
  memoryUsage?: bigint;
  workingSet?: bigint;
  rss?: bigint;
  pageFaults?: bigint;
  majorPageFaults?: bigint;
  memoryLimit?: bigint;
  pids?: bigint;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNumber(path: string): Promise<bigint | undefined> {
  const t = (await readText(path))?.trim();
  if (!t || !/^\d+$/.test(t)) return undefined;
  return BigInt(t);
}

/** parseKeyed parses a flat-keyed cgroup file (`key value` lines). */
export function parseKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

const NO_LIMIT = 1n << 62n;

/**
 * readCgroupStats reads cpu, memory and pids numbers of the cgroup at `path` (an expanded cgroupsPath), under the
 * cgroup mount `root` (another directory only in tests).
 */
export async function readCgroupStats(path: string, mode: 'v1' | 'v2', root = CGROUP_ROOT): Promise<CgroupStats> {
  if (mode === 'v2') {
    const dir = join(root, path);
    const [cpu, mem, usage, max, pids] = await Promise.all([
      readText(join(dir, 'cpu.stat')),
      readText(join(dir, 'memory.stat')),
      readNumber(join(dir, 'memory.current')),
      readNumber(join(dir, 'memory.max')),
      readNumber(join(dir, 'pids.current')),
    ]);
    const c = parseKeyed(cpu);
    const m = parseKeyed(mem);
    const inactive = m.get('inactive_file') ?? 0n;
    return {
      cpuUsageNs: c.has('usage_usec') ? c.get('usage_usec')! * 1000n : undefined,
      memoryUsage: usage,
      workingSet: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
      rss: m.get('anon'),
      pageFaults: m.get('pgfault'),
      majorPageFaults: m.get('pgmajfault'),
      memoryLimit: max,
      pids,
    };
  }
  const v1 = (ctrl: string, file: string) => join(root, ctrl, path, file);
  const [cpu, mem, usage, limit, pids] = await Promise.all([
    readNumber(v1('cpuacct', 'cpuacct.usage')),
    readText(v1('memory', 'memory.stat')),
    readNumber(v1('memory', 'memory.usage_in_bytes')),
    readNumber(v1('memory', 'memory.limit_in_bytes')),
    readNumber(v1('pids', 'pids.current')),
  ]);
  const m = parseKeyed(mem);
  const inactive = m.get('total_inactive_file') ?? 0n;
  return {
    cpuUsageNs: cpu,
    memoryUsage: usage,
    workingSet: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
    rss: m.get('total_rss'),
    pageFaults: m.get('total_pgfault'),
    majorPageFaults: m.get('total_pgmajfault'),
    memoryLimit: limit !== undefined && limit < NO_LIMIT ? limit : undefined,
    pids,
  };
}

/** cgroupOomKilled tells whether the kernel OOM-killed a process of the cgroup (v1 memory.oom_control, v2 memory.events). */
export async function cgroupOomKilled(path: string, mode: 'v1' | 'v2'): Promise<boolean> {
  const text = mode === 'v2' ? await readText(join(CGROUP_ROOT, path, 'memory.events')) : await readText(join(CGROUP_ROOT, 'memory', path, 'memory.oom_control'));
  return (parseKeyed(text).get('oom_kill') ?? 0n) > 0n;
}

/** MONITOR_CONTROLLERS are the cgroup v1 hierarchies a container monitor is placed in (the accounting ones; cpuset
 * is left out because a new cpuset cgroup has no cpus until someone copies them from its parent). */
export const MONITOR_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio'] as const;

/**
 * placeProcess moves process `pid` into the cgroup `path` (made if absent): on v1 in each of MONITOR_CONTROLLERS
 * that is mounted, on v2 in the one tree. Used to move a container's conmon out of the daemon's cgroup.
 */
export async function placeProcess(path: string, pid: number, mode: 'v1' | 'v2'): Promise<void> {
  const dirs = mode === 'v2' ? [join(CGROUP_ROOT, path)] : MONITOR_CONTROLLERS.map((c) => join(CGROUP_ROOT, c, path));
  await Promise.all(
    dirs.map(async (d) => {
      try {
        await mkdir(d, { recursive: true });
      } catch (e) {
        // A controller that is not mounted on this host is not an error.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EROFS') return;
        throw e;
      }
      await writeFile(join(d, 'cgroup.procs'), String(pid));
    }),
  );
}

async function rmdirRetry(dir: string): Promise<void> {
  // A process killed a moment ago may still be leaving the cgroup: EBUSY for a short while.
  for (let i = 0; ; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 50) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * removeCgroup removes the (empty) cgroup directory `path` from every hierarchy, deepest first for the path
 * itself only; absent directories are fine, a busy one is retried for about half a second, then left. Used for
 * the pod-level cgroup fune makes when the kubelet gives none, and for conmon's cgroups.
 */
export async function removeCgroup(path: string, mode: 'v1' | 'v2'): Promise<void> {
  const dirs = mode === 'v2' ? [join(CGROUP_ROOT, path)] : (await readdir(CGROUP_ROOT).catch(() => [] as string[])).map((c) => join(CGROUP_ROOT, c, path));
  await Promise.all(dirs.map((d) => rmdirRetry(d)));
}

import { randomBytes } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CgroupMode } from '../domain/node.js';
import { failedPrecondition, invalidArgument, isErrno } from '../errors/index.js';

/** CGROUP_ROOT is where cgroup hierarchies are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** CgroupStats are the numbers fune reports from a cgroup (undefined = not available). */
export interface CgroupStats {
  cpuUsageNs?: bigint;
  memoryUsage?: bigint;
  workingSet?: bigint;
  rss?: bigint;
  pageFaults?: bigint;
  majorPageFaults?: bigint;
  memoryLimit?: bigint;
  /** swap in use and its limit (v2 memory.swap.current/max; v1 memsw minus memory); no limit = undefined. */
  swapUsage?: bigint;
  swapLimit?: bigint;
  pids?: bigint;
}

/**
 * CgroupTree is where a cgroup's files are on one cgroup layout: the v1 hierarchies (one directory per controller)
 * or the v2 unified tree. Paths are cgroup paths (`/kubepods/pod1/abc`), relative to the tree's root.
 */
export interface CgroupTree {
  readonly mode: CgroupMode;
  /** stats reads cpu, memory and pids numbers of the cgroup at `path`. */
  stats(path: string): Promise<CgroupStats>;
  /** oomKilled tells whether the kernel OOM-killed a process of the cgroup (v1 memory.oom_control, v2 memory.events). */
  oomKilled(path: string): Promise<boolean>;
  /**
   * watchOom calls `onOom` once, as soon as the kernel has OOM-killed a process of the cgroup `path` (at once when
   * it already has), for as long as the watch is open and the cgroup exists. On v2 it watches memory.events (the
   * kernel notifies a file's watchers when its counts change) and reads oom_kill at each change, so that the kill
   * is known while the cgroup is still there: systemd removes a scope's cgroup as soon as its last process is
   * gone, before an exit is seen. undefined where nothing can be watched: v1 (memory.oom_control tells only
   * through an eventfd; the cgroup there lasts until `runc delete`, after the exit is read) or a cgroup already gone.
   */
  watchOom(path: string, onOom: () => void): OomWatch | undefined;
  /** attach moves process `pid` into the cgroup `path` (made if absent), in every hierarchy a monitor belongs to. */
  attach(path: string, pid: number): Promise<void>;
  /** remove removes the (empty) cgroup `path`; absent is fine, a busy one is retried for about half a second, then left. */
  remove(path: string): Promise<void>;
  /** exists tells whether the cgroup `path` is there (on v1: in the memory hierarchy). */
  exists(path: string): Promise<boolean>;
  /** write writes `value` to the file `file` of the cgroup `path` (v2 only: unified keys are file names there). */
  write(path: string, file: string, value: string): Promise<void>;
  /**
   * tryUnified asks the kernel whether it takes the unified `entries` in a child of `parent`: it writes them into
   * a new empty cgroup there (a sibling of the containers to come, with the same controllers), then removes it. A
   * file the kernel lacks or a value it refuses is InvalidArgument naming the key; nothing is left either way.
   * Without `parent` (not made yet) nothing is tried.
   */
  tryUnified(parent: string, entries: Record<string, string>): Promise<void>;
  /**
   * setHugepageLimits writes the hugetlb limit of each page size of the cgroup `path` (`runc update` leaves them
   * out). A limit below what the cgroup holds (EBUSY) is FailedPrecondition.
   */
  setHugepageLimits(path: string, limits: { pageSize: string; limit: number }[]): Promise<void>;
}

/** OomWatch is an open watch of watchOom. */
export interface OomWatch {
  close(): void;
}

async function writeHugetlb(file: string, limit: number, pageSize: string): Promise<void> {
  try {
    await writeFile(file, String(limit));
  } catch (e) {
    if (isErrno(e, 'EBUSY')) throw failedPrecondition(`hugepage_limits: ${pageSize} limit ${limit} is below what the container holds`);
    throw e;
  }
}

const present = (dir: string): Promise<boolean> => access(dir).then(() => true, () => false);

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

/** MONITOR_CONTROLLERS are the cgroup v1 hierarchies a container monitor is placed in (the accounting ones; cpuset
 * is left out because a new cpuset cgroup has no cpus until someone copies them from its parent). */
export const MONITOR_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio'] as const;

async function attachIn(dirs: string[], pid: number): Promise<void> {
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

/** V2Tree is the unified cgroup v2 tree. */
class V2Tree implements CgroupTree {
  readonly mode = 'v2' as const;
  constructor(private readonly root: string) {}

  async stats(path: string): Promise<CgroupStats> {
    const dir = join(this.root, path);
    const [cpu, mem, usage, max, pids, swap, swapMax] = await Promise.all([
      readText(join(dir, 'cpu.stat')),
      readText(join(dir, 'memory.stat')),
      readNumber(join(dir, 'memory.current')),
      readNumber(join(dir, 'memory.max')),
      readNumber(join(dir, 'pids.current')),
      readNumber(join(dir, 'memory.swap.current')),
      readNumber(join(dir, 'memory.swap.max')),
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
      swapUsage: swap,
      swapLimit: swapMax,
      pids,
    };
  }

  async oomKilled(path: string): Promise<boolean> {
    return (parseKeyed(await readText(join(this.root, path, 'memory.events'))).get('oom_kill') ?? 0n) > 0n;
  }

  watchOom(path: string, onOom: () => void): OomWatch | undefined {
    const file = join(this.root, path, 'memory.events');
    const podFile = join(this.root, dirname(path), 'memory.events');
    const kills = (f: string): bigint | undefined => {
      try {
        return parseKeyed(readFileSync(f, 'utf8')).get('oom_kill') ?? 0n;
      } catch {
        return undefined; // the cgroup is gone
      }
    };
    let w: FSWatcher | undefined;
    let fired = false;
    const fire = () => {
      fired = true;
      w?.close();
      onOom();
    };
    // The parent's oom_kill counts its children's kills too (memory.events is hierarchical); read before the
    // container's, so that it never holds a kill of this container that the container's read did not see.
    let podSeen = kills(podFile);
    // Read at once, in the watch's callback: the point is to beat the cgroup's removal.
    const check = (event: string) => {
      if (fired) return;
      const pod = kills(podFile);
      const own = kills(file);
      if (own === undefined) {
        // Gone between the kernel's notice of a change and this read (systemd removes an empty scope's cgroup at
        // once, and this event loop may have been busy): a change of its counts as it went, while the parent's
        // count of kills rose, was this container's kill. A removal alone is a 'rename'.
        if (event === 'change' && podSeen !== undefined && pod !== undefined && pod > podSeen) fire();
        return;
      }
      if (own > 0n) return fire();
      if (pod !== undefined) podSeen = pod;
    };
    try {
      w = watch(file, { persistent: false }, (event) => check(event));
    } catch {
      return undefined;
    }
    w.on('error', () => w?.close());
    check('change');
    return { close: () => w?.close() };
  }

  attach(path: string, pid: number): Promise<void> {
    return attachIn([join(this.root, path)], pid);
  }

  remove(path: string): Promise<void> {
    return rmdirRetry(join(this.root, path));
  }

  exists(path: string): Promise<boolean> {
    return present(join(this.root, path));
  }

  write(path: string, file: string, value: string): Promise<void> {
    return writeFile(join(this.root, path, file), value);
  }

  async setHugepageLimits(path: string, limits: { pageSize: string; limit: number }[]): Promise<void> {
    for (const l of limits) await writeHugetlb(join(this.root, path, `hugetlb.${l.pageSize}.max`), l.limit, l.pageSize);
  }

  async tryUnified(parent: string, entries: Record<string, string>): Promise<void> {
    const dir = join(this.root, parent);
    if (!(await present(dir))) return;
    const trial = join(dir, `fune-check-${randomBytes(6).toString('hex')}`);
    await mkdir(trial);
    try {
      for (const [key, value] of Object.entries(entries)) {
        let err = await writeFile(join(trial, key), value).then(() => undefined, (e: NodeJS.ErrnoException) => e);
        if (err?.code === 'ENOENT' && (await this.enable(dir, key.slice(0, key.indexOf('.'))))) {
          err = await writeFile(join(trial, key), value).then(() => undefined, (e: NodeJS.ErrnoException) => e);
        }
        if (err) throw invalidArgument(`unified: the kernel refuses ${JSON.stringify(key)} = ${JSON.stringify(value)}: ${refusal(err)}`);
      }
    } finally {
      await rmdirRetry(trial);
    }
  }

  /**
   * enable turns `controller` on for the children of `dir` when `dir` offers it and has not turned it on yet, as
   * runc does for every controller along a container's path when it makes the cgroup; false when it cannot be.
   */
  private async enable(dir: string, controller: string): Promise<boolean> {
    const offered = (await readText(join(dir, 'cgroup.controllers')))?.split(/\s+/) ?? [];
    const on = (await readText(join(dir, 'cgroup.subtree_control')))?.split(/\s+/) ?? [];
    if (!offered.includes(controller) || on.includes(controller)) return false;
    return writeFile(join(dir, 'cgroup.subtree_control'), `+${controller}`).then(() => true, () => false);
  }
}

/** refusal says in words why the kernel refused a write into a cgroup file. */
function refusal(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such cgroup v2 file (unknown, or its controller is not available here)';
    case 'EACCES':
    case 'EPERM':
      return 'the file is read-only';
    case 'EINVAL':
    case 'ERANGE':
    case 'EOVERFLOW':
      return `not a value the file takes (${e.code})`;
    default:
      return e.code ?? e.message;
  }
}

/** V1Tree is the cgroup v1 layout: one hierarchy per controller under the root. */
class V1Tree implements CgroupTree {
  readonly mode = 'v1' as const;
  constructor(private readonly root: string) {}

  async stats(path: string): Promise<CgroupStats> {
    const v1 = (ctrl: string, file: string) => join(this.root, ctrl, path, file);
    const [cpu, mem, usage, limit, pids, memsw, memswLimit] = await Promise.all([
      readNumber(v1('cpuacct', 'cpuacct.usage')),
      readText(v1('memory', 'memory.stat')),
      readNumber(v1('memory', 'memory.usage_in_bytes')),
      readNumber(v1('memory', 'memory.limit_in_bytes')),
      readNumber(v1('pids', 'pids.current')),
      readNumber(v1('memory', 'memory.memsw.usage_in_bytes')),
      readNumber(v1('memory', 'memory.memsw.limit_in_bytes')),
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
      // v1 counts memory plus swap: swap is the difference, its limit memsw's less memory's.
      swapUsage: memsw !== undefined && usage !== undefined ? (memsw > usage ? memsw - usage : 0n) : undefined,
      swapLimit: memswLimit !== undefined && memswLimit < NO_LIMIT && limit !== undefined && memswLimit >= limit ? memswLimit - limit : undefined,
      pids,
    };
  }

  async oomKilled(path: string): Promise<boolean> {
    return (parseKeyed(await readText(join(this.root, 'memory', path, 'memory.oom_control'))).get('oom_kill') ?? 0n) > 0n;
  }

  watchOom(): OomWatch | undefined {
    return undefined;
  }

  attach(path: string, pid: number): Promise<void> {
    return attachIn(MONITOR_CONTROLLERS.map((c) => join(this.root, c, path)), pid);
  }

  async remove(path: string): Promise<void> {
    const ctrls = await readdir(this.root).catch(() => [] as string[]);
    await Promise.all(ctrls.map((c) => rmdirRetry(join(this.root, c, path))));
  }

  exists(path: string): Promise<boolean> {
    return present(join(this.root, 'memory', path));
  }

  write(path: string, file: string): Promise<void> {
    return Promise.reject(new Error(`cgroup v1 has no unified file ${file} (in ${path})`));
  }

  async setHugepageLimits(path: string, limits: { pageSize: string; limit: number }[]): Promise<void> {
    for (const l of limits) await writeHugetlb(join(this.root, 'hugetlb', path, `hugetlb.${l.pageSize}.limit_in_bytes`), l.limit, l.pageSize);
  }

  tryUnified(parent: string, entries: Record<string, string>): Promise<void> {
    return Promise.reject(new Error(`cgroup v1 has no unified files (${Object.keys(entries).join(', ')}, in ${parent})`));
  }
}

/** cgroupTree gives the tree of cgroup layout `mode`, mounted at `root`. */
export function cgroupTree(mode: CgroupMode, root = CGROUP_ROOT): CgroupTree {
  return mode === 'v2' ? new V2Tree(root) : new V1Tree(root);
}

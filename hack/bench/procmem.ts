// Memory accounting of a CRI runtime from /proc: the daemon, its helpers (containerd-shim-runc-v2, conmon, ...)
// and, separately, the container processes the helpers hold.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** Proc is what the classification needs to know about one process. */
export interface Proc {
  pid: number;
  ppid: number;
  mntns: string;
  cmdline: string;
  name: string;
}

/** MemGroup sums the memory of a set of processes (kB). */
export interface MemGroup {
  count: number;
  rssKb: number;
  pssKb: number;
  /** ussKb is the unique set size: pages no other process maps (Private_Clean + Private_Dirty). */
  ussKb: number;
  /** names counts processes by executable name, e.g. {conmon: 20}. */
  names: Record<string, number>;
}

/** MemSample is one measurement of a runtime's memory. */
export interface MemSample {
  daemon: MemGroup;
  helpers: MemGroup;
  containers: MemGroup;
  /**
   * runtimeSetKb is the physical memory of daemon + helpers counted once per page (distinct page frames from
   * /proc/PID/pagemap): shared libraries count once, and pages shared with unrelated processes count fully.
   * Unlike PSS it does not depend on what else runs on the host. 0 when pagemap gives no frame numbers.
   */
  runtimeSetKb: number;
}

function scan(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const pid = Number(ent);
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      if (pid === 2 || ppid === 2) continue; // kernel threads
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      let name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
      try {
        name = basename(readlinkSync(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
      } catch {
        /* zombie or gone: keep the comm */
      }
      procs.set(pid, { pid, ppid, mntns: readlinkSync(`/proc/${pid}/ns/mnt`), cmdline, name });
    } catch {
      /* exited while scanning */
    }
  }
  return procs;
}

function memOf(pid: number): { rss: number; pss: number; uss: number } {
  try {
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0);
    return { rss, pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
  } catch {
    return { rss: 0, pss: 0, uss: 0 };
  }
}

function group(pids: Iterable<number>, procs: Map<number, Proc>): MemGroup {
  const g: MemGroup = { count: 0, rssKb: 0, pssKb: 0, ussKb: 0, names: {} };
  for (const pid of pids) {
    const m = memOf(pid);
    g.count++;
    g.rssKb += m.rss;
    g.pssKb += m.pss;
    g.ussKb += m.uss;
    const n = procs.get(pid)?.name ?? '?';
    g.names[n] = (g.names[n] ?? 0) + 1;
  }
  return g;
}

const PAGE_KB = 4;

/** distinctPagesKb counts the distinct resident page frames mapped by `pids` (needs root for frame numbers). */
export function distinctPagesKb(pids: Iterable<number>): number {
  const frames = new Set<number>();
  for (const pid of pids) {
    let fd: number | undefined;
    try {
      const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
      // each mapping: a header line "start-end perms ...", then "Rss: N kB" among its fields
      for (const m of smaps.matchAll(/^([0-9a-f]+)-([0-9a-f]+) [^\n]*\n(?:(?![0-9a-f]+-)[^\n]*\n)*?Rss:\s+(\d+)/gm)) {
        if (m[3] === '0') continue;
        const first = parseInt(m[1]!, 16) / 4096;
        const count = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 4096;
        const buf = Buffer.alloc(count * 8);
        readSync(fd, buf, 0, buf.length, first * 8);
        for (let i = 0; i < count; i++) {
          const e = buf.readBigUInt64LE(i * 8);
          if (!(e >> 63n)) continue; // not present in RAM
          const pfn = Number(e & ((1n << 55n) - 1n));
          if (pfn) frames.add(pfn);
        }
      }
    } catch {
      /* process gone or pagemap unreadable */
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return frames.size * PAGE_KB;
}

/**
 * measureRuntime classifies every process on the host relative to one runtime and sums RSS and PSS.
 * Helpers are processes in the daemon's mount namespace that either descend from the daemon or whose command
 * line contains one of `markers` (the runtime's state dir or socket address: conmon and shims are re-parented
 * to init, so parentage alone does not find them), plus the host-namespace descendants of those. Containers are
 * descendants of the daemon or a helper in another mount namespace. The benchmark's own process and its
 * ancestors are never counted. `containerPids` (from the verbose pod and container status) adds container
 * processes that have no monitor, such as an infra process that runc started detached, and their descendants.
 */
export function measureRuntime(daemonPid: number, markers: string[], containerPids: number[] = []): MemSample {
  const { procs, helpers, containers } = classify(daemonPid, markers, containerPids);
  return {
    daemon: group([daemonPid], procs), helpers: group(helpers, procs), containers: group(containers, procs),
    runtimeSetKb: distinctPagesKb([daemonPid, ...helpers]),
  };
}

/** Classified is the daemon's helper and container processes (see measureRuntime), with the scan they came from. */
export interface Classified {
  procs: Map<number, Proc>;
  helpers: Set<number>;
  containers: Set<number>;
}

/** classify finds a runtime's helpers and container processes the way measureRuntime does, without measuring. */
export function classify(daemonPid: number, markers: string[], containerPids: number[] = []): Classified {
  const procs = scan();
  const daemon = procs.get(daemonPid);
  if (!daemon) throw new Error(`daemon pid ${daemonPid} is gone`);
  const hostNs = daemon.mntns;
  const excluded = new Set<number>();
  for (let p: number | undefined = process.pid; p && !excluded.has(p); p = procs.get(p)?.ppid) excluded.add(p);

  const children = new Map<number, number[]>();
  for (const p of procs.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);

  const helpers = new Set<number>();
  const containers = new Set<number>();
  const visit = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      const p = procs.get(c)!;
      if (excluded.has(c) || helpers.has(c) || containers.has(c)) continue;
      if (p.mntns === hostNs) helpers.add(c);
      else containers.add(c);
      visit(c);
    }
  };
  const seeds = [...procs.values()].filter(
    (p) => p.pid !== daemonPid && !excluded.has(p.pid) && p.mntns === hostNs && markers.some((m) => m && p.cmdline.includes(m)),
  );
  for (const s of seeds) helpers.add(s.pid);
  visit(daemonPid);
  for (const s of seeds) visit(s.pid);
  for (const pid of containerPids) {
    if (!procs.has(pid) || helpers.has(pid) || containers.has(pid) || pid === daemonPid) continue;
    containers.add(pid);
    visit(pid);
  }
  return { procs, helpers, containers };
}

// The kubelet's own cgroups on the node, made and removed as its container manager does before and after the
// runtime's part: the QoS tree (qos_container_manager_linux.go) and each pod's cgroup with ResourceConfigForPod's
// values (pod_container_manager_linux.go EnsureExists / Destroy, through libcontainer's cgroupfs or systemd
// manager). The runtime then puts the pod's containers under that parent; this file reads back what is there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podCgroupName, qosCgroupName, resourceConfigForPod, sharesToWeight, toCgroupfs, toSystemd, type CgroupName } from './cm.js';
import type { KubeletNode } from './node.js';
import type { Pod } from './pod.js';

const ROOT = '/sys/fs/cgroup';

/**
 * v1Hierarchies are the hierarchies mounted under /sys/fs/cgroup on a v1 node, the hybrid `unified` one included
 * (libcontainer's fs manager, and runc with it, makes each cgroup in all of them).
 */
function v1Hierarchies(): string[] {
  return readdirSync(ROOT).filter((d) => statSync(join(ROOT, d)).isDirectory() && existsSync(join(ROOT, d, 'cgroup.procs')));
}

/** cgroupDirs gives the directories of a cgroup name on this node: one per v1 hierarchy, or one on v2. */
export function cgroupDirs(node: KubeletNode, name: CgroupName): string[] {
  const rel = node.cgroupDriver === 'systemd' ? toSystemd(name) : toCgroupfs(name);
  return node.cgroupV2 ? [join(ROOT, rel)] : v1Hierarchies().map((h) => join(ROOT, h, rel));
}

/** podCgroupDir gives the pod cgroup's directory in one v1 hierarchy (`memory`), or the v2 one. */
export function podCgroupDir(node: KubeletNode, pod: Pod, hierarchy = 'memory'): string {
  const name = podCgroupName(node, pod).name;
  const rel = node.cgroupDriver === 'systemd' ? toSystemd(name) : toCgroupfs(name);
  return node.cgroupV2 ? join(ROOT, rel) : join(ROOT, hierarchy, rel);
}

function write(dir: string, file: string, value: string): void {
  if (existsSync(join(dir, file))) writeFileSync(join(dir, file), value);
}

/** mkdirCgroupfs makes each level of a cgroupfs name: cpusets copied from the parent (v1), controllers enabled (v2). */
function mkdirCgroupfs(node: KubeletNode, name: CgroupName): void {
  for (let i = 1; i <= name.length; i++) {
    for (const dir of cgroupDirs(node, name.slice(0, i))) {
      if (existsSync(dir)) continue;
      const parent = join(dir, '..');
      if (node.cgroupV2) {
        const available = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
        if (available.length) writeFileSync(join(parent, 'cgroup.subtree_control'), available.map((c) => `+${c}`).join(' '));
      }
      mkdirSync(dir);
      if (!node.cgroupV2 && dir.includes('/cpuset/')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, f), readFileSync(join(parent, f), 'utf8'));
      }
    }
  }
}

/**
 * busctl calls systemd's manager (as the kubelet's libcontainer systemd manager does over D-Bus). The `--` ends
 * busctl's options: arguments such as the root slice `-.slice` start with a dash.
 */
function busctl(method: string, signature: string, ...args: (string | number)[]): string {
  return execFileSync('busctl', ['--', 'call', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', method, signature, ...args.map(String)]).toString();
}

/** waitFor polls until `ok` (a unit's cgroup appearing or going) or throws after 60 s (TCG guests are slow). */
function waitFor(ok: () => boolean, what: string): void {
  const until = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    execFileSync('sleep', ['0.1']);
  }
}

/** SliceResources are the resources of a kubelet-made cgroup (cm.ResourceConfig as far as the suite sets it). */
type SliceResources = { cpuShares?: number; cpuQuota?: number; memory?: number; memoryMin?: number };

/**
 * sliceProps gives the transient slice's properties the kubelet's libcontainer systemd manager sets (on v2 the
 * unified memory.min of Memory QoS becomes MemoryMin, as libcontainer's unifiedResToSystemdProps converts it).
 */
function sliceProps(node: KubeletNode, parent: string, r: SliceResources): (string | number)[] {
  const props: (string | number)[][] = [
    ['Description', 's', 'libcontainer container'],
    ['Wants', 'as', 1, parent],
    ['DefaultDependencies', 'b', 'false'],
    ['MemoryAccounting', 'b', 'true'],
    ['CPUAccounting', 'b', 'true'],
    ['TasksAccounting', 'b', 'true'],
  ];
  if (r.cpuShares !== undefined) props.push(node.cgroupV2 ? ['CPUWeight', 't', sharesToWeight(r.cpuShares)] : ['CPUShares', 't', r.cpuShares]);
  if (r.cpuQuota) props.push(['CPUQuotaPerSecUSec', 't', r.cpuQuota * 10]);
  if (r.memory) props.push([node.cgroupV2 ? 'MemoryMax' : 'MemoryLimit', 't', r.memory]);
  if (r.memoryMin && node.cgroupV2) props.push(['MemoryMin', 't', r.memoryMin]);
  return [props.length, ...props.flat()];
}

/** startSlice makes one transient slice (idempotent: an active slice is left as it is). */
function startSlice(node: KubeletNode, name: CgroupName, r: SliceResources = {}): void {
  const path = toSystemd(name);
  const unit = path.slice(path.lastIndexOf('/') + 1);
  const parent = name.length > 1 ? toSystemd(name.slice(0, -1)).split('/').pop()! : '-.slice';
  const dir = join(ROOT, node.cgroupV2 ? '' : 'memory', path);
  if (existsSync(dir)) return;
  busctl('StartTransientUnit', 'ssa(sv)a(sa(sv))', unit, 'replace', ...sliceProps(node, parent, r), 0);
  waitFor(() => existsSync(dir), `slice ${unit}`);
}

/** ensureQoS makes the kubelet's QoS tree: kubepods, kubepods/burstable, kubepods/besteffort (2 shares). */
export function ensureQoS(node: KubeletNode): void {
  const burstable = qosCgroupName(node, 'Burstable');
  const besteffort = qosCgroupName(node, 'BestEffort');
  if (node.cgroupDriver === 'systemd') {
    for (let i = 1; i <= burstable.length - 1; i++) startSlice(node, burstable.slice(0, i));
    startSlice(node, burstable);
    startSlice(node, besteffort, { cpuShares: 2 });
    return;
  }
  mkdirCgroupfs(node, burstable);
  mkdirCgroupfs(node, besteffort);
  for (const dir of cgroupDirs(node, besteffort)) write(dir, node.cgroupV2 ? 'cpu.weight' : 'cpu.shares', node.cgroupV2 ? '1' : '2');
}

/**
 * ensurePodCgroup is PodContainerManager.EnsureExists: the pod's cgroup with ResourceConfigForPod's limits, and
 * with Memory QoS on cgroup v2 (enforceMemoryQoS) the pod's memory requests as memory.min.
 */
export function ensurePodCgroup(node: KubeletNode, pod: Pod): void {
  const { name } = podCgroupName(node, pod);
  const r = resourceConfigForPod(pod, node.memoryQoS && node.cgroupV2);
  if (node.cgroupDriver === 'systemd') return startSlice(node, name, r);
  mkdirCgroupfs(node, name);
  for (const dir of cgroupDirs(node, name)) {
    if (node.cgroupV2) {
      write(dir, 'cpu.weight', String(sharesToWeight(r.cpuShares)));
      if (r.cpuQuota) write(dir, 'cpu.max', `${r.cpuQuota} ${r.cpuPeriod}`);
      if (r.memory) write(dir, 'memory.max', String(r.memory));
      if (r.memoryMin) write(dir, 'memory.min', String(r.memoryMin));
    } else {
      write(dir, 'cpu.shares', String(r.cpuShares));
      if (r.cpuQuota) {
        write(dir, 'cpu.cfs_period_us', String(r.cpuPeriod));
        write(dir, 'cpu.cfs_quota_us', String(r.cpuQuota));
      }
      if (r.memory) write(dir, 'memory.limit_in_bytes', String(r.memory));
    }
  }
}

/** procsUnder lists the processes in a cgroup directory and all below it (the kubelet's tryKillingCgroupProcesses scan). */
export function procsUnder(dir: string): { cgroup: string; pid: number }[] {
  if (!existsSync(dir)) return [];
  const out = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map((p) => ({ cgroup: dir, pid: Number(p) }));
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...procsUnder(join(dir, e.name)));
  return out;
}

/** childrenUnder lists the cgroup directories below `dir`, deepest first. */
export function childrenUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...childrenUnder(join(dir, e.name)), join(dir, e.name));
  return out;
}

/**
 * destroyPodCgroup is PodContainerManager.Destroy: any process still in the pod's cgroup is killed (and returned:
 * once the runtime has removed the pod there should be none), then the cgroup goes (cgroupfs: rmdir of each level,
 * deepest first, as libcontainer's RemovePaths; systemd: StopUnit of the pod's slice).
 */
export function destroyPodCgroup(node: KubeletNode, pod: Pod): { leftover: { cgroup: string; pid: number }[] } {
  const { name } = podCgroupName(node, pod);
  const dirs = cgroupDirs(node, name);
  const leftover = dirs.flatMap(procsUnder);
  for (const p of leftover) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (node.cgroupDriver === 'systemd') {
    const path = toSystemd(name);
    if (existsSync(dirs[0]!)) {
      busctl('StopUnit', 'ss', path.slice(path.lastIndexOf('/') + 1), 'replace');
      waitFor(() => !existsSync(dirs[0]!), `the stop of ${path}`);
    }
  } else {
    for (const dir of dirs) {
      for (const d of [...childrenUnder(dir), dir]) removeCgroupDir(d);
    }
  }
  return { leftover };
}

/** removeCgroupDir rmdirs a cgroup, retrying while its last processes are being reaped (EBUSY). */
function removeCgroupDir(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      if (existsSync(dir)) rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i > 50) throw e;
      execFileSync('sleep', ['0.1']);
    }
  }
}

/**
 * destroyQoS removes the QoS tree the suite made (after every pod's cgroup went): with systemd the QoS slices,
 * kubepods.slice and the cgroup root's slices, innermost first, each waited for until its cgroup is gone.
 */
export function destroyQoS(node: KubeletNode): void {
  const top = [...node.cgroupRoot, 'kubepods'];
  if (node.cgroupDriver === 'systemd') {
    const names = [qosCgroupName(node, 'BestEffort'), qosCgroupName(node, 'Burstable'), ...top.map((_, i) => top.slice(0, top.length - i))];
    for (const name of names) {
      const path = toSystemd(name);
      const dir = join(ROOT, node.cgroupV2 ? '' : 'memory', path);
      if (!existsSync(dir)) continue;
      busctl('StopUnit', 'ss', path.slice(path.lastIndexOf('/') + 1), 'replace');
      waitFor(() => !existsSync(dir), `the stop of ${path}`);
    }
    return;
  }
  for (const dir of cgroupDirs(node, node.cgroupRoot.length ? node.cgroupRoot : top)) for (const d of [...childrenUnder(dir), dir]) removeCgroupDir(d);
}

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { arch as osArch, release } from 'node:os';
import { join } from 'node:path';
import {
  hostUidOf, isInitialUserNamespace, minOomScoreAdjOf, userManagerCgroup, ownCgroupOf, parseIdMap, parseKernelRelease, parseOciRuntime,
  type CgroupDriverName, type CgroupMode, type NodeFacts, type OciRuntimeFacts,
} from '../domain/node.js';
import { capabilitiesFromMask } from '../domain/capabilities.js';
import type { ProcessRunner } from './process-runner.js';

/** ProbeOptions are what the probe needs from the configuration. */
export interface ProbeOptions {
  /** the configured cgroup driver; "auto" picks systemd when PID 1 is systemd and fune's cgroup is under it. */
  cgroupDriver: CgroupDriverName | 'auto';
  /** the OCI runtime to ask (`runc --version`, `runc features`). */
  ociRuntimePath: string;
  runner: ProcessRunner;
  /** where cgroups are mounted and /proc and /sys are (tests point these at fixture trees). */
  cgroupRoot?: string;
  procRoot?: string;
  sysRoot?: string;
  /** where /run is (the user manager's socket is <run>/user/<uid>/systemd/private). */
  runRoot?: string;
}

async function text(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}


const ARCH_NAMES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** probeOciRuntime asks the OCI runtime for its version and features (both bounded to a few seconds). */
export async function probeOciRuntime(runner: ProcessRunner, path: string): Promise<OciRuntimeFacts> {
  const [v, f] = await Promise.all([
    runner.run(path, ['--version'], { timeoutMs: 10_000, maxOutput: 64 * 1024 }).catch(() => undefined),
    runner.run(path, ['features'], { timeoutMs: 10_000, maxOutput: 1024 * 1024 }).catch(() => undefined),
  ]);
  return parseOciRuntime(v?.code === 0 ? v.stdout.toString() : '', f?.code === 0 ? f.stdout.toString() : '');
}

/**
 * probeNode reads what kind of node this is, once, at start-up: the cgroup layout and driver, the controllers
 * fune can use, whether it runs in a user namespace, the kernel, the LSMs, the OCI runtime's features, its own
 * capabilities and oom_score_adj floor, hugepage sizes, swap accounting, online CPUs and memory nodes.
 */
export async function probeNode(o: ProbeOptions): Promise<NodeFacts> {
  const cg = o.cgroupRoot ?? '/sys/fs/cgroup';
  const proc = o.procRoot ?? '/proc';
  const sys = o.sysRoot ?? '/sys';
  const mode: CgroupMode = existsSync(join(cg, 'cgroup.controllers')) ? 'v2' : 'v1';
  const run = o.runRoot ?? '/run';
  const systemd = existsSync(join(run, 'systemd/system'));
  const [selfCgroup, status, oom, uidMap, gidMap, apparmor, lsmList, cpus, mems, oci] = await Promise.all([
    text(join(proc, 'self/cgroup')),
    text(join(proc, 'self/status')),
    text(join(proc, 'self/oom_score_adj')),
    text(join(proc, 'self/uid_map')),
    text(join(proc, 'self/gid_map')),
    text(join(sys, 'module/apparmor/parameters/enabled')),
    text(join(sys, 'kernel/security/lsm')),
    text(join(sys, 'devices/system/cpu/online')),
    text(join(sys, 'devices/system/node/online')),
    probeOciRuntime(o.runner, o.ociRuntimePath),
  ]);
  const own = ownCgroupOf(selfCgroup, mode);
  const uids = parseIdMap(uidMap);
  const inUserNamespace = uids.length > 0 && !isInitialUserNamespace(uids);
  // Inside a user namespace, the systemd driver is the user's own manager (over the user bus), when it runs.
  const hostUid = inUserNamespace ? hostUidOf(uids) : undefined;
  const userManager = mode === 'v2' && systemd && hostUid !== undefined && existsSync(join(run, 'user', String(hostUid), 'systemd/private')) ? userManagerCgroup(hostUid) : undefined;
  const driver: CgroupDriverName = o.cgroupDriver !== 'auto' ? o.cgroupDriver : systemd && (!inUserNamespace || userManager) ? 'systemd' : 'cgroupfs';
  // v2: as real root, runc enables in every cgroup on a container's path whatever the root cgroup offers (the root's
  // cgroup.controllers), whichever of them fune's own cgroup happens to have (systemd enables only those its units ask
  // for: no hugetlb). Inside a user namespace only the delegated ones can be enabled: those of the user manager's
  // cgroup with the systemd driver, those of fune's own subtree with cgroupfs.
  const v2Base = !inUserNamespace ? '' : driver === 'systemd' && userManager ? userManager : own;
  const controllers = mode === 'v2'
    ? (await text(join(cg, v2Base, 'cgroup.controllers'))).trim().split(/\s+/).filter(Boolean)
    : (await readdir(cg).catch(() => [] as string[])).filter((n) => !n.includes(',') && !n.startsWith('name='));
  const capBnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const capabilities = capabilitiesFromMask(capBnd);
  const ownScore = Number.parseInt(oom.trim() || '0', 10);
  const hugepageSizes = await hugepageSizesOf(mode, cg, own, controllers, sys);
  const swapAccounting = mode === 'v2' ? await v2SwapAccounting(cg, own) : existsSync(join(cg, 'memory/memory.memsw.limit_in_bytes'));
  const rel = release();
  return {
    cgroup: { mode, driver, controllers, own, ...(userManager ? { userManager } : {}) },
    systemd,
    user: { uid: process.geteuid?.() ?? 0, inUserNamespace, uidMap: uids, gidMap: parseIdMap(gidMap) },
    kernel: { release: rel, version: parseKernelRelease(rel) },
    lsm: { apparmor: apparmor.trim().startsWith('Y'), selinux: lsmList.split(',').includes('selinux') && existsSync(join(sys, 'fs/selinux/enforce')) },
    oci,
    capabilities,
    minOomScoreAdj: minOomScoreAdjOf(capabilities, inUserNamespace, ownScore),
    hugepageSizes,
    swapAccounting,
    arch: ARCH_NAMES[osArch()] ?? osArch(),
    cpus: cpus.trim(),
    mems: mems.trim() || '0',
  };
}

/**
 * hugepageSizesOf gives the page sizes the hugetlb controller limits ("2MB", "1GB"), none when the controller is
 * not there for fune. v1: the file names of the hugetlb hierarchy. v2: the root cgroup has no hugetlb files, so the
 * sizes come from fune's own cgroup when it has them, else from the kernel's list (/sys/kernel/mm/hugepages) once
 * the controller is available.
 */
async function hugepageSizesOf(mode: CgroupMode, cg: string, own: string, controllers: string[], sys: string): Promise<string[]> {
  const fromNames = (names: string[]) => [...new Set(names.map((n) => /^hugetlb\.(\d+[KMG]B)\./.exec(n)?.[1]).filter((x): x is string => !!x))];
  if (mode === 'v1') return fromNames(await readdir(join(cg, 'hugetlb')).catch(() => [] as string[]));
  if (!controllers.includes('hugetlb')) return [];
  const own_ = fromNames(await readdir(join(cg, own)).catch(() => [] as string[]));
  if (own_.length > 0) return own_;
  const kernel = await readdir(join(sys, 'kernel/mm/hugepages')).catch(() => [] as string[]);
  return kernel.map((n) => /^hugepages-(\d+)kB$/.exec(n)?.[1]).filter((x): x is string => !!x).map((kb) => pageSizeName(Number(kb))).sort();
}

/** pageSizeName writes a page size in kB the way the hugetlb controller names it: 2048 → "2MB", 1048576 → "1GB". */
export function pageSizeName(kb: number): string {
  if (kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
  if (kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}KB`;
}

async function v2SwapAccounting(cg: string, own: string): Promise<boolean> {
  // The root cgroup has no memory.swap.max; any child with the memory controller has it when the kernel accounts swap.
  if (existsSync(join(cg, own, 'memory.swap.max'))) return true;
  for (const e of await readdir(cg, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory() && existsSync(join(cg, e.name, 'memory.current'))) return existsSync(join(cg, e.name, 'memory.swap.max'));
  }
  return false;
}

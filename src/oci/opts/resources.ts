import { failedPrecondition, invalidArgument } from '../../errors/index.js';
import { CpusetError, formatCpuset, parseCpuset } from '../../domain/cpuset.js';
import type { LinuxContainerResources } from '../../domain/cri-types.js';
import type { HostFacts } from '../input.js';
import type { Resources } from '../spec.js';
import { int64, nonNegative } from '../values.js';

/** ResourceHostFacts are the host facts resource translation reads. */
export type ResourceHostFacts = Pick<HostFacts, 'cgroupMode' | 'hugepageSizes' | 'swapAccounting' | 'onlineCpus' | 'onlineMems' | 'delegatedControllers'>;

const MAX_CPU_SHARES = 262_144;

/**
 * MIN_MEMORY_LIMIT is the lowest memory limit fune accepts: 6 MiB. runc 1.1.5 writes the limit once `runc init`
 * is in the cgroup, and the kernel refuses a limit below what is charged then (EBUSY, "unable to set memory
 * limit to N (current usage: ...)"): about 2.1–2.4 MiB on the development host (cgroup v1, kernel 6.18; through
 * fune 1.5 MiB always failed and 2 MiB started), more with kernel-memory accounting on cgroup v2: a margin is kept. 6 MiB is Docker's minimum (moby/moby#41168) and the lowest limit
 * runc's own integration tests use (opencontainers/runc#3987).
 */
export const MIN_MEMORY_LIMIT = 6 * 1024 * 1024;

function cpuset(list: string, field: string, online: string | undefined, what: string): string | undefined {
  let ids: number[];
  try {
    ids = parseCpuset(list);
  } catch (err) {
    if (err instanceof CpusetError) throw invalidArgument(`${field}: ${err.message}`);
    throw err;
  }
  if (ids.length === 0) return undefined;
  if (online) {
    // The host's own list comes from the kernel; should it not parse, nothing is refused on its account.
    let have: Set<number> | undefined;
    try {
      have = new Set(parseCpuset(online));
    } catch {
      have = undefined;
    }
    const missing = have ? ids.filter((id) => !have.has(id)) : [];
    if (missing.length > 0) {
      throw invalidArgument(`${field}: ${what} ${formatCpuset(missing)} of ${JSON.stringify(list)} are not online on this host (online: ${online})`);
    }
  }
  return formatCpuset(ids);
}

function cpu(res: LinuxContainerResources, host: ResourceHostFacts): Resources['cpu'] {
  const out: NonNullable<Resources['cpu']> = {};
  const shares = nonNegative(res.cpu_shares, 'cpu_shares');
  if (shares > MAX_CPU_SHARES) throw invalidArgument(`cpu_shares: ${shares} is above the maximum ${MAX_CPU_SHARES}`);
  if (shares > 0) out.shares = shares;
  const quota = int64(res.cpu_quota, 'cpu_quota');
  if (quota < -1) throw invalidArgument(`cpu_quota: ${quota} is negative (only -1, unlimited, is allowed)`);
  if (quota > 0 && quota < 1000) throw invalidArgument(`cpu_quota: ${quota}µs is below the kernel's minimum of 1000µs`);
  if (quota !== 0) out.quota = quota;
  const period = nonNegative(res.cpu_period, 'cpu_period');
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw invalidArgument(`cpu_period: ${period}µs is outside the kernel's range 1000..1000000µs`);
  }
  if (period > 0) out.period = period;
  const cpus = cpuset(res.cpuset_cpus ?? '', 'cpuset_cpus', host.onlineCpus, 'CPUs');
  if (cpus !== undefined) out.cpus = cpus;
  const mems = cpuset(res.cpuset_mems ?? '', 'cpuset_mems', host.onlineMems, 'memory nodes');
  if (mems !== undefined) out.mems = mems;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * memory maps the limit and swap. OCI `memory.swap` is memory+swap (the cgroup v1 meaning; on v2 runc derives
 * `memory.swap.max = swap - limit` itself), so: swap unset with a limit = no swap (swap = limit, what the
 * kubelet's LimitedSwap/NoSwap wants and what containerd does); `-1` = unlimited swap; a value >= limit is
 * passed through. Without swap accounting on the host (no memory.memsw.* / memory.swap.max) swap is left out,
 * since runc would fail writing it.
 */
function memory(res: LinuxContainerResources, host: ResourceHostFacts): Resources['memory'] {
  const limit = nonNegative(res.memory_limit_in_bytes, 'memory_limit_in_bytes');
  if (limit > 0 && limit < MIN_MEMORY_LIMIT) {
    throw invalidArgument(`memory_limit_in_bytes: ${limit} is below the minimum of ${MIN_MEMORY_LIMIT} bytes (6 MiB) that a container needs to start under runc`);
  }
  const swap = int64(res.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes');
  if (swap < -1) throw invalidArgument(`memory_swap_limit_in_bytes: ${swap} is negative (only -1, unlimited, is allowed)`);
  if (swap > 0 && limit === 0) {
    throw invalidArgument(`memory_swap_limit_in_bytes (${swap}) needs a memory limit: memory_limit_in_bytes is unset`);
  }
  if (swap > 0 && swap < limit) {
    throw invalidArgument(`memory_swap_limit_in_bytes (${swap}) cannot be lower than memory_limit_in_bytes (${limit}): it counts memory plus swap`);
  }
  const out: NonNullable<Resources['memory']> = {};
  if (limit > 0) out.limit = limit;
  if (host.swapAccounting !== false) {
    if (swap !== 0) out.swap = swap;
    else if (limit > 0) out.swap = limit;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * hugepages passes on a limit for each page size. The kubelet sends one entry per host page size (limit 0 unless
 * requested). When the host has no hugetlb controller (hugepageSizes empty) all are dropped, as containerd's
 * tolerate_missing_hugetlb_controller does; a size the controller does not know is InvalidArgument if it
 * asks for pages, dropped if its limit is 0.
 */
function hugepages(res: LinuxContainerResources, host: ResourceHostFacts): Resources['hugepageLimits'] {
  const out: NonNullable<Resources['hugepageLimits']> = [];
  for (const entry of res.hugepage_limits ?? []) {
    const pageSize = entry.page_size;
    if (!/^[0-9]+[KMGTP]B$/.test(pageSize)) throw invalidArgument(`hugepage_limits: invalid page size ${JSON.stringify(pageSize)} (expected like 2MB or 1GB)`);
    const limit = nonNegative(entry.limit, `hugepage_limits[${pageSize}]`);
    if (host.hugepageSizes.length === 0) continue;
    if (!host.hugepageSizes.includes(pageSize)) {
      if (limit === 0) continue;
      throw invalidArgument(`hugepage_limits: page size ${pageSize} is not supported by this host (it has ${host.hugepageSizes.join(', ')})`);
    }
    out.push({ pageSize, limit });
  }
  return out.length > 0 ? out : undefined;
}

/**
 * unified copies the cgroup v2 key/value map (Memory QoS `memory.min`/`memory.high`, `memory.swap.max`, …).
 * On a cgroup v1 host a non-empty map is FailedPrecondition: runc refuses any `unified` there.
 */
function unified(res: LinuxContainerResources, host: ResourceHostFacts): Resources['unified'] {
  const entries = Object.entries(res.unified ?? {});
  if (entries.length === 0) return undefined;
  const keys = entries.map(([k]) => k).sort();
  if (host.cgroupMode !== 'v2') {
    throw failedPrecondition(`unified cgroup settings (${keys.join(', ')}) need a cgroup v2 host; this host uses cgroup v1`);
  }
  const out: Record<string, string> = {};
  for (const key of keys) {
    if (!/^[a-z_]+\.[a-zA-Z0-9_.]+$/.test(key)) {
      throw invalidArgument(`unified: ${JSON.stringify(key)} is not of the form <controller>.<parameter>`);
    }
    // The core interface files move processes, change the tree or kill (cgroup.procs, cgroup.subtree_control,
    // cgroup.kill, …): they are not resources.
    if (key.startsWith('cgroup.')) throw invalidArgument(`unified: ${JSON.stringify(key)} is a cgroup core interface file, not a resource`);
    out[key] = res.unified[key]!;
  }
  return out;
}

/**
 * resourcesToOci translates CRI container resources into OCI `linux.resources` (without device rules), after
 * checking every value; bad input throws InvalidArgument (FailedPrecondition for what the host cannot do).
 * UpdateContainerResources can hand the result to `runc update --resources`.
 */
export function resourcesToOci(res: LinuxContainerResources | null | undefined, host: ResourceHostFacts): Resources {
  if (!res) return {};
  const out: Resources = {};
  const c = cpu(res, host);
  if (c) out.cpu = c;
  const m = memory(res, host);
  if (m) out.memory = m;
  const h = hugepages(res, host);
  if (h) out.hugepageLimits = h;
  const u = unified(res, host);
  if (u) out.unified = u;
  if (host.delegatedControllers) checkDelegated(out, host.delegatedControllers);
  return out;
}

/**
 * checkDelegated refuses limits that need a cgroup controller fune was not delegated (inside a user namespace):
 * runc, or systemd for the user's scopes, would drop them without a word. cpu shares are relative weights the
 * kubelet sends for every container and stay (without the cpu controller they weigh nothing). FailedPrecondition
 * names the field, the controller and the fix.
 */
function checkDelegated(r: Resources, delegated: string[]): void {
  const need: [string, string][] = [];
  if ((r.memory?.limit ?? 0) > 0 || (r.memory?.reservation ?? 0) > 0) need.push(['memory limit', 'memory']);
  if ((r.cpu?.quota ?? 0) > 0) need.push(['cpu quota', 'cpu']);
  if (r.cpu?.cpus || r.cpu?.mems) need.push(['cpuset', 'cpuset']);
  for (const k of Object.keys(r.unified ?? {})) need.push([`unified ${JSON.stringify(k)}`, k.slice(0, k.indexOf('.'))]);
  const missing = need.filter(([, c]) => !delegated.includes(c));
  if (missing.length === 0) return;
  const ctrls = [...new Set(missing.map(([, c]) => c))];
  throw failedPrecondition(`${missing.map(([f]) => f).join(', ')}: the ${ctrls.join(', ')} cgroup controller${ctrls.length > 1 ? 's are' : ' is'} not delegated to this rootless node (it has ${delegated.join(' ') || 'none'}); ${DELEGATION_FIX}`);
}

/** DELEGATION_FIX is how a user's systemd manager gets the controllers (the systemd docs' cgroup delegation). */
export const DELEGATION_FIX = 'delegate them with "[Service] Delegate=cpu cpuset io memory pids" in /etc/systemd/system/user@.service.d/delegate.conf, then systemctl daemon-reload and restart the user\'s manager (log out and in, or systemctl restart user@<uid>.service)';

/** validateContainerResources checks CRI container resources the way resourcesToOci does, without the result. */
export function validateContainerResources(res: LinuxContainerResources | null | undefined, host: ResourceHostFacts): void {
  resourcesToOci(res, host);
  oomScoreAdj(res, -1000);
}

/**
 * oomScoreAdj reads the CRI oom_score_adj (-1000..1000) and raises it to `min`, the lowest score fune may set:
 * without CAP_SYS_RESOURCE (or rootless) a process cannot lower scores below its own (containerd's
 * restrict_oom_score_adj, applied automatically).
 */
export function oomScoreAdj(res: LinuxContainerResources | null | undefined, min: number): number {
  const value = int64(res?.oom_score_adj, 'oom_score_adj');
  if (value < -1000 || value > 1000) throw invalidArgument(`oom_score_adj: ${value} is outside -1000..1000`);
  return Math.min(1000, Math.max(value, min));
}

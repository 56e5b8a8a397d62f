import { invalidArgument } from '../../errors/index.js';
import type { Resources } from '../../oci/spec.js';
import type { SystemdBus, UnitProperty } from '../../sys/systemd-bus.js';
import type { CgroupStats, CgroupTree, OomWatch } from '../cgroups.js';
import { expandSlice, sliceOfParent } from './slices.js';
import type { CgroupPlacement } from './types.js';

/** SCOPE_PREFIX names fune's scopes: cgroupsPath `<slice>:fune:<id>` → runc makes `fune-<id>.scope`. */
export const SCOPE_PREFIX = 'fune';

/** FUNE_POD_SLICE_PREFIX names the slice fune makes for a pod the kubelet gave no parent: `fune-pod<id>.slice`. */
export const FUNE_POD_SLICE_PREFIX = 'fune-pod';

/**
 * SystemdPlacement is the systemd driver (on cgroup v2, and on v1 the same way; the tree says where the files
 * are): every cgroup is a unit of systemd's, so that systemd, which owns the tree, neither fights nor resets
 * fune's cgroups.
 *
 * - A pod's parent is a slice: the last element of the kubelet's path of slices
 *   (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice`). The kubelet owns that slice.
 *   With no parent, fune uses `fune-pod<pod id>.slice` (under `fune.slice`), which systemd makes when the first
 *   scope names it and fune stops with the pod, so that the pod still has a cgroup of its own for its stats and
 *   monitors (containerd puts such pods straight into system.slice).
 * - The infra process and containers are `fune-<id>.scope` in that slice, made by runc (`--systemd-cgroup`,
 *   cgroupsPath `<slice>:fune:<id>`) and stopped by `runc delete`.
 * - conmon moves into a transient scope of its own, `fune-conmon-<id>.scope` in the pod's slice (CRI-O's
 *   conmon_cgroup = "pod"), through StartTransientUnit with PIDs=[conmon]. It is out of fune's unit, so that
 *   restarting or stopping fune never touches it; the scope ends when conmon exits, and CollectMode
 *   inactive-or-failed lets systemd forget it then.
 *
 * `sliceRoot` is the cgroup path of the manager's root slice: '' for the system manager; for a user manager
 * (rootless, inside a user namespace) `/user.slice/user-<uid>.slice/user@<uid>.service`, with a bus to that
 * manager: its slices and scopes are in the user's delegated subtree.
 */
export class SystemdPlacement implements CgroupPlacement {
  readonly driver = 'systemd' as const;
  readonly kind: string;

  constructor(private readonly tree: CgroupTree, private readonly bus: SystemdBus, private readonly sliceRoot = '') {
    this.kind = sliceRoot ? `systemd-${tree.mode}-user` : `systemd-${tree.mode}`;
  }

  podParent(given: string, podId: string): string {
    return given === '' ? `${FUNE_POD_SLICE_PREFIX}${podId}.slice` : sliceOfParent(given);
  }

  cgroupsPath(parent: string, id: string): string {
    return `${parent}:${SCOPE_PREFIX}:${id}`;
  }

  cgroupOf(cgroupsPath: string): string {
    const [slice, prefix, name] = cgroupsPath.split(':');
    return `${this.sliceRoot}${expandSlice(slice ?? '')}/${prefix}-${name}.scope`;
  }

  podCgroup(parent: string): string {
    return `${this.sliceRoot}${expandSlice(parent)}`;
  }

  monitorOf(parent: string, id: string): string {
    return `${this.podCgroup(parent)}/${SCOPE_PREFIX}-conmon-${id}.scope`;
  }

  async placeMonitor(monitor: string, pid: number): Promise<void> {
    const { unit, slice } = unitOf(monitor.slice(this.sliceRoot.length));
    const props: UnitProperty[] = [
      ['Description', 's', `fune container monitor ${unit}`],
      ['Slice', 's', slice],
      ['PIDs', 'au', [pid]],
      // Not stopped by shutdown ordering against fune's own unit; forgotten by systemd once conmon has exited.
      ['DefaultDependencies', 'b', false],
      ['CollectMode', 's', 'inactive-or-failed'],
      ['MemoryAccounting', 'b', true],
      ['CPUAccounting', 'b', true],
      ['TasksAccounting', 'b', true],
    ];
    await this.bus.startTransientUnit(unit, props);
  }

  async removeMonitor(monitor: string): Promise<void> {
    // A record of the other driver's form (the driver was changed between restarts) is not a unit of ours.
    if (!monitor.endsWith('.scope')) return;
    // The scope ends by itself when conmon exits (and systemd forgets it): a call is needed only while it is there.
    if (await this.tree.exists(monitor)) await this.bus.stopUnit(unitOf(monitor).unit);
  }

  /**
   * keepLimits sets as properties of the container's scope what runc 1.1.5's systemd driver applies only as
   * files (limitProperties). `memory.oom.group` = 1 becomes OOMPolicy=kill where systemd accepts that property
   * on a scope (253 and later); systemd 252 refuses it, which is learnt once and then not asked again, and there
   * a daemon-reload resets memory.oom.group to 0 (README, "Limits and systemd").
   */
  async keepLimits(cgroupsPath: string, resources: Resources): Promise<void> {
    const [, prefix, name] = cgroupsPath.split(':');
    const unit = `${prefix}-${name}.scope`;
    let applied = false;
    if (resources.unified?.['memory.oom.group']?.trim() === '1' && this.scopeOomPolicy !== false) {
      try {
        await this.bus.setUnitProperties(unit, [['OOMPolicy', 's', 'kill']]);
        this.scopeOomPolicy = true;
        applied = true;
      } catch (e) {
        if (this.scopeOomPolicy === undefined && /OOMPolicy/.test(String(e))) this.scopeOomPolicy = false;
        else throw e;
      }
    }
    const props = limitProperties(resources);
    if (props.length > 0) {
      await this.bus.setUnitProperties(unit, props);
      applied = true;
    }
    // Setting properties makes systemd apply the unit's whole cgroup context again, which resets the files it
    // manages without a property (memory.oom.group on systemd 252): runc's values for those are written back.
    if (applied) await Promise.all(fileOnlyKeys(resources).map(([k, v]) => this.tree.write(this.cgroupOf(cgroupsPath), k, v)));
  }

  /** scopeOomPolicy: systemd takes OOMPolicy on scopes (undefined until asked). */
  private scopeOomPolicy?: boolean;

  /**
   * checkUnified: runc's systemd driver turns some keys into unit properties and parses their values more strictly
   * than the kernel (no "1G", no "max" for cpu.weight), so those are held to runc's grammar first; then every key is
   * tried by the kernel in an empty cgroup of the pod's slice (removed at once; systemd manages none of it).
   */
  async checkUnified(parent: string, unified: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(unified)) {
      const grammar = RUNC_UNIT_GRAMMAR[key];
      if (grammar && !grammar.re.test(value.trim())) {
        throw invalidArgument(`unified: ${JSON.stringify(key)} = ${JSON.stringify(value)} is not ${grammar.what}, as runc's systemd driver needs for the unit property it makes of it`);
      }
    }
    await this.tree.tryUnified(this.podCgroup(parent), unified);
  }

  async removePod(podId: string, parent: string): Promise<void> {
    // Only the slice fune named for this pod: a kubelet's slice (or system.slice, which older fune used) is not ours.
    if (parent === `${FUNE_POD_SLICE_PREFIX}${podId}.slice`) await this.bus.stopUnit(parent);
  }

  setHugepageLimits(cgroupsPath: string, limits: { pageSize: string; limit: number }[]): Promise<void> {
    return this.tree.setHugepageLimits(this.cgroupOf(cgroupsPath), limits);
  }

  stats(cgroup: string): Promise<CgroupStats> {
    return this.tree.stats(cgroup);
  }

  oomKilled(cgroup: string): Promise<boolean> {
    return this.tree.oomKilled(cgroup);
  }

  watchOom(cgroup: string, onOom: () => void): OomWatch | undefined {
    return this.tree.watchOom(cgroup, onOom);
  }

  close(): void {}
}

/**
 * limitProperties gives the unit properties for the limits in `r` that runc 1.1.5 leaves as files only, which
 * systemd would reset on its next reload: a memory limit without swap (OCI swap = limit, so cgroup v2
 * memory.swap.max = 0, which runc does not send because it skips a zero MemorySwapMax), and the unified
 * `io.weight` (IOWeight). Everything else a CRI update carries (memory.max, cpu weight from shares, cpu.max,
 * cpusets, unified memory.min/low/high/max/swap.max, pids.max, cpu.weight, cpu.max) runc already sets as
 * properties; hugetlb limits are files that systemd does not manage, so they stay.
 */
export function limitProperties(r: Resources): UnitProperty[] {
  const props: UnitProperty[] = [];
  const limit = r.memory?.limit ?? 0;
  if (limit > 0 && r.memory?.swap === limit && r.unified?.['memory.swap.max'] === undefined) props.push(['MemorySwapMax', 't', 0]);
  const w = /^(?:default\s+)?(\d+)$/.exec(r.unified?.['io.weight']?.trim() ?? '');
  if (w) props.push(['IOWeight', 't', Number(w[1])]);
  return props;
}

/** RUNC_UNIT_KEYS are the unified keys runc 1.1.5 turns into unit properties itself (unifiedResToSystemdProps). */
const RUNC_UNIT_KEYS = new Set(['cpu.max', 'cpu.weight', 'cpuset.cpus', 'cpuset.mems', 'memory.high', 'memory.low', 'memory.min', 'memory.max', 'memory.swap.max', 'pids.max']);

const BYTES_OR_MAX = { re: /^(?:max|\d+)$/, what: 'a number of bytes or "max"' };
const CPUS = { re: /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/, what: 'a list of numbers and ranges' };

/** RUNC_UNIT_GRAMMAR is how runc 1.1.5 parses the values of RUNC_UNIT_KEYS (unifiedResToSystemdProps). */
const RUNC_UNIT_GRAMMAR: Record<string, { re: RegExp; what: string }> = {
  'cpu.max': { re: /^(?:max|\d+)(?:\s+\d+)?$/, what: '"<quota|max> [<period>]" in microseconds' },
  'cpu.weight': { re: /^\d+$/, what: 'a number' },
  'cpuset.cpus': CPUS,
  'cpuset.mems': CPUS,
  'memory.high': BYTES_OR_MAX,
  'memory.low': BYTES_OR_MAX,
  'memory.min': BYTES_OR_MAX,
  'memory.max': BYTES_OR_MAX,
  'memory.swap.max': BYTES_OR_MAX,
  'pids.max': { re: /^(?:max|\d+)$/, what: 'a number or "max"' },
};

/** fileOnlyKeys gives the unified keys of `r` that are files only (neither runc nor limitProperties makes them properties). */
export function fileOnlyKeys(r: Resources): [string, string][] {
  return Object.entries(r.unified ?? {}).filter(([k]) => !RUNC_UNIT_KEYS.has(k) && k !== 'io.weight');
}

/** unitOf splits the cgroup path of a scope into its unit name and the slice it is in (`-.slice` at the top). */
function unitOf(path: string): { unit: string; slice: string } {
  const parts = path.split('/').filter(Boolean);
  return { unit: parts.at(-1) ?? '', slice: parts.at(-2) ?? '-.slice' };
}

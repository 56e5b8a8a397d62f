import { invalidArgument } from '../../errors/index.js';
import type { Resources } from '../../oci/spec.js';
import type { CgroupStats, CgroupTree, OomWatch } from '../cgroups.js';
import type { CgroupPlacement } from './types.js';

/** FUNE_CGROUP is the cgroupfs directory under which fune makes pod cgroups when the kubelet gives no parent. */
export const FUNE_CGROUP = '/fune';

/**
 * CgroupfsPlacement is the cgroupfs driver, on cgroup v1 or v2 (the tree it is given): cgroups are paths that
 * runc makes and removes itself. A pod's parent is the kubelet's path (`/kubepods/burstable/pod<uid>`), or
 * `/fune/pod-<pod id>` that fune owns; the infra process and containers get `<parent>/<id>`; conmon is moved into
 * `<parent>/conmon-<container id>` by writing its pid to cgroup.procs. `base` is where fune's part of the tree
 * starts (the root; a delegated subtree on a rootless node).
 */
export class CgroupfsPlacement implements CgroupPlacement {
  readonly driver = 'cgroupfs' as const;
  readonly kind: string;

  constructor(private readonly tree: CgroupTree, private readonly base = '') {
    this.kind = `cgroupfs-${tree.mode}`;
  }

  podParent(given: string, podId: string): string {
    if (given === '') return `${FUNE_CGROUP}/pod-${podId}`;
    if (given.split('/').includes('..') || given.includes(':') || /[\0\n]/.test(given)) throw invalidArgument(`cgroup parent ${JSON.stringify(given)} is not a cgroupfs path`);
    const p = `/${given}`.replace(/\/+/g, '/').replace(/\/$/, '');
    if (p === '') throw invalidArgument(`cgroup parent ${JSON.stringify(given)} is the root cgroup; a pod needs a cgroup of its own`);
    return p;
  }

  cgroupsPath(parent: string, id: string): string {
    return `${this.base}${parent}/${id}`;
  }

  cgroupOf(cgroupsPath: string): string {
    return cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
  }

  podCgroup(parent: string): string {
    return `${this.base}${parent}`;
  }

  monitorOf(parent: string, id: string): string {
    return `${this.base}${parent}/conmon-${id}`;
  }

  placeMonitor(monitor: string, pid: number): Promise<void> {
    return this.tree.attach(monitor, pid);
  }

  removeMonitor(monitor: string): Promise<void> {
    return this.tree.remove(monitor);
  }

  /** keepLimits: runc's files are the limits; nothing else manages the tree. */
  async keepLimits(_cgroupsPath: string, _resources: Resources): Promise<void> {}

  /** checkUnified: the kernel's word, from a trial cgroup beside the pod's containers. */
  checkUnified(parent: string, unified: Record<string, string>): Promise<void> {
    return this.tree.tryUnified(this.podCgroup(parent), unified);
  }

  async removePod(podId: string, parent: string): Promise<void> {
    // Only the cgroup fune named for this pod; the shared /fune above it stays (empty and harmless, and removing
    // it could race a pod being created).
    if (parent === `${FUNE_CGROUP}/pod-${podId}`) await this.tree.remove(this.podCgroup(parent));
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

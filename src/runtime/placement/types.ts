import type { CgroupDriverName } from '../../domain/node.js';
import type { Resources } from '../../oci/spec.js';
import type { CgroupStats, OomWatch } from '../cgroups.js';

/**
 * CgroupPlacement is where a node puts pods, containers and their monitors in the cgroup tree, and how: the one
 * seam for what differs between cgroupfs and systemd nodes, cgroup v1 and v2 (ARCHITECTURE "The node model").
 * There is one implementation per kind of node (placementFor picks it from the node facts); services ask it and
 * never look at the driver or the cgroup mode themselves. A new kind of node (rootless: systemd over the user bus,
 * or cgroupfs inside a delegated subtree) is one new implementation of this interface.
 *
 * Three kinds of name appear: a pod's *parent* in this driver's form (a cgroupfs path, or a slice unit name),
 * which is kept in the pod's record; an OCI *cgroupsPath* given to runc (a path, or runc's `slice:prefix:name`);
 * and a *cgroup path* under the cgroup root, where the kernel's files are.
 */
export interface CgroupPlacement {
  /** kind names the node kind: "cgroupfs-v1", "cgroupfs-v2", "systemd-v2", "systemd-v1". */
  readonly kind: string;
  /** driver is what RuntimeConfig reports; with "systemd" runc and conmon run with `--systemd-cgroup`. */
  readonly driver: CgroupDriverName;
  /**
   * podParent turns the kubelet's cgroup_parent ('' when it sent none) into the pod's parent. Pure: bad input
   * throws InvalidArgument before anything is made. With no parent, each driver gives a per-pod one that fune
   * owns (and removes in removePod).
   */
  podParent(given: string, podId: string): string;
  /** cgroupsPath is the OCI linux.cgroupsPath of the infra process or a container `id` of a pod with `parent`. */
  cgroupsPath(parent: string, id: string): string;
  /** cgroupOf gives the cgroup path of an OCI cgroupsPath this placement made (for stats and OOM). */
  cgroupOf(cgroupsPath: string): string;
  /** podCgroup gives the cgroup path of a pod's parent (pod stats). */
  podCgroup(parent: string): string;
  /**
   * monitorOf gives the cgroup path where container `id`'s conmon goes: a sibling of the pod's containers
   * (CRI-O's conmon_cgroup = "pod"), so that the pod pays for its monitors and they leave fune's own cgroup.
   */
  monitorOf(parent: string, id: string): string;
  /** placeMonitor moves conmon (`pid`) into `monitor` (a cgroup path from monitorOf). */
  placeMonitor(monitor: string, pid: number): Promise<void>;
  /** removeMonitor removes a monitor's cgroup (or unit) once conmon is gone; absent is fine. */
  removeMonitor(monitor: string): Promise<void>;
  /**
   * keepLimits makes the resources runc just applied to a container (`runc create` or `runc update`) outlast the
   * cgroup's manager: with systemd, the limits runc 1.1 writes only as files become unit properties, so that a
   * `systemctl daemon-reload` does not reset them. Nothing to do with cgroupfs.
   */
  keepLimits(cgroupsPath: string, resources: Resources): Promise<void>;
  /**
   * checkUnified refuses, before anything is made or changed, the unified (cgroup v2) keys that `runc create` or
   * `runc update` would fail on for a container of the pod with `parent`: a file the kernel does not have there, a
   * value the kernel refuses (tried in an empty cgroup of the pod's), and with systemd a value runc cannot turn into
   * its unit property. InvalidArgument names the key.
   */
  checkUnified(parent: string, unified: Record<string, string>): Promise<void>;
  /**
   * setHugepageLimits writes a running container's hugetlb limits (`cgroupsPath` as cgroupsPath gave it), which
   * `runc update` does not apply; systemd manages no hugetlb setting, so a file write is all either driver needs.
   */
  setHugepageLimits(cgroupsPath: string, limits: { pageSize: string; limit: number }[]): Promise<void>;
  /** removePod removes what podParent made for pod `podId` (nothing when the parent was the kubelet's). */
  removePod(podId: string, parent: string): Promise<void>;
  /** stats and oomKilled read the kernel's files of a cgroup path. */
  stats(cgroup: string): Promise<CgroupStats>;
  oomKilled(cgroup: string): Promise<boolean>;
  /**
   * watchOom watches a running container's cgroup path for an OOM kill (CgroupTree.watchOom): `onOom` runs once,
   * while the cgroup is still there. undefined where the node cannot watch (cgroup v1), which reads at exit instead.
   */
  watchOom(cgroup: string, onOom: () => void): OomWatch | undefined;
  /** close releases what the placement holds open (a bus connection). */
  close(): void;
}

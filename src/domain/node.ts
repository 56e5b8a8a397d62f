/**
 * The node model: what kind of node fune runs on, probed once at start-up (src/sys/node-probe.ts) and asked by
 * every part whose behaviour differs between nodes (cgroup placement and naming, where conmon goes, which stats
 * files are read, which features Status advertises). This file is the pure half: the shape of the facts and the
 * parsers of what the host prints, so that they can be tested without a host.
 */

/** CgroupMode is the cgroup layout: the v1 (or hybrid) hierarchies, or the unified v2 tree. */
export type CgroupMode = 'v1' | 'v2';

/** CgroupDriverName is how container cgroups are named and made: by runc directly, or through systemd. */
export type CgroupDriverName = 'systemd' | 'cgroupfs';

/** NodeFacts are the facts about this node that do not change while fune runs. */
export interface NodeFacts {
  cgroup: {
    mode: CgroupMode;
    driver: CgroupDriverName;
    /**
     * controllers fune can use: on v2 those of the root cgroup's cgroup.controllers (runc, as root, enables them on
     * a container's whole path), or inside a user namespace those of fune's own cgroup (the delegated ones); on v1
     * the mounted hierarchies.
     */
    controllers: string[];
    /** fune's own cgroup, as /proc/self/cgroup gives it (v2: the 0:: line; v1: the memory hierarchy's path). */
    own: string;
    /**
     * inside a user namespace on a systemd host: the cgroup of the user's own systemd manager
     * (`/user.slice/user-<uid>.slice/user@<uid>.service`), whose delegated subtree the systemd driver uses over the
     * user bus; absent when that manager does not run (no `systemd --user`, no lingering) or fune is real root.
     */
    userManager?: string;
  };
  /** systemd is PID 1 (sd_booted: /run/systemd/system exists). */
  systemd: boolean;
  user: {
    /** the effective uid fune runs as (0 inside a user namespace where it is mapped to root). */
    uid: number;
    /** fune runs inside a user namespace that does not map the whole id range (rootless, a kind node). */
    inUserNamespace: boolean;
    uidMap: IdMapping[];
    gidMap: IdMapping[];
  };
  kernel: {
    release: string;
    /** major, minor, patch of the release. */
    version: [number, number, number];
  };
  lsm: {
    apparmor: boolean;
    selinux: boolean;
  };
  /** the OCI runtime, as `runc --version` and `runc features` describe it. */
  oci: OciRuntimeFacts;
  /** capabilities fune itself holds (its bounding set), as CAP_* names. */
  capabilities: string[];
  /** the lowest oom_score_adj fune may set (its own score when it cannot lower scores; -1000 otherwise). */
  minOomScoreAdj: number;
  /** hugepage sizes the hugetlb controller offers ("2MB", "1GB"). */
  hugepageSizes: string[];
  /** swap accounting is available (v1: memory.memsw files exist; v2: memory.swap.max exists). */
  swapAccounting: boolean;
  /** runc's architecture name of the host (x86_64, aarch64, ...). */
  arch: string;
  /** the online CPUs and memory nodes, as cpuset lists ("0-1", "0"). */
  cpus: string;
  mems: string;
  /**
   * podUserNamespaces is what fune's own probe of idmapped mounts found (runtime/user-namespaces.ts: a user
   * namespace, idmapped views of a directory and a tmpfs, an overlay over an idmapped layer): POD-mode user
   * namespaces can be given. Absent: not probed (not offered).
   */
  podUserNamespaces?: { ok: boolean; reason: string };
  /**
   * overlay is what mounts overlays (sys/overlay-mounter.ts probeOverlay: the kernel's overlayfs, or fuse-overlayfs
   * where the kernel refuses it in a user namespace) and why. Absent: not probed (the kernel's).
   */
  overlay?: { mounter: 'kernel' | 'fuse-overlayfs'; reason: string };
}

/** IdMapping is one line of /proc/<pid>/uid_map or gid_map. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  size: number;
}

/** OciRuntimeFacts say what the OCI runtime can do. */
export interface OciRuntimeFacts {
  /** the runtime's name and version ("runc", "1.1.5+ds1"), empty when it could not be asked. */
  name: string;
  version: string;
  /** mount options the runtime knows (`runc features` mountOptions). */
  mountOptions: string[];
  /** recursive read-only mounts (`rro`) are known to the runtime. */
  recursiveReadOnly: boolean;
  /** the runtime makes idmapped mounts itself (runc 1.2+: linux.mountExtensions.idmap.enabled). */
  idmapMounts: boolean;
}

/** FULL_ID_RANGE is the size of the initial user namespace's identity mapping. */
const FULL_ID_RANGE = 4294967295;

/** parseIdMap parses the text of a uid_map or gid_map file. */
export function parseIdMap(text: string): IdMapping[] {
  const out: IdMapping[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every((n) => Number.isInteger(n) && n >= 0)) out.push({ containerId: f[0]!, hostId: f[1]!, size: f[2]! });
  }
  return out;
}

/** isInitialUserNamespace tells whether a uid_map is the host's own identity mapping ("0 0 4294967295"). */
export function isInitialUserNamespace(map: IdMapping[]): boolean {
  return map.length === 1 && map[0]!.containerId === 0 && map[0]!.hostId === 0 && map[0]!.size === FULL_ID_RANGE;
}

/** hostUidOf gives the host uid mapped to uid 0 of a uid_map (the user who made the namespace), or undefined. */
export function hostUidOf(map: IdMapping[]): number | undefined {
  return map.find((m) => m.containerId === 0 && m.size >= 1)?.hostId;
}

/** userManagerCgroup is the cgroup path of user `uid`'s systemd manager (user@.service in user-<uid>.slice). */
export function userManagerCgroup(uid: number): string {
  return `/user.slice/user-${uid}.slice/user@${uid}.service`;
}

/**
 * userBusEnv is the environment that reaches the user's systemd manager from inside a user namespace (where the uid is
 * 0, so sd-bus and runc would look for /run/user/0/bus): XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS of the host
 * uid that uid 0 maps to. Empty where the systemd driver is not the user's manager.
 */
export function userBusEnv(node: Pick<NodeFacts, 'user' | 'cgroup'>): Record<string, string> {
  const uid = hostUidOf(node.user.uidMap);
  if (!node.user.inUserNamespace || !node.cgroup.userManager || uid === undefined || node.cgroup.driver !== 'systemd') return {};
  return { XDG_RUNTIME_DIR: `/run/user/${uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${uid}/bus` };
}

/** parseKernelRelease takes "6.18.44-fc-v1045" to [6, 18, 44]. */
export function parseKernelRelease(release: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

/** kernelAtLeast compares the node's kernel with major.minor. */
export function kernelAtLeast(node: Pick<NodeFacts, 'kernel'>, major: number, minor: number): boolean {
  const [a, b] = node.kernel.version;
  return a > major || (a === major && b >= minor);
}

/**
 * parseOciRuntime reads `runc --version` and `runc features` output (either may be empty: an older runtime has no
 * `features`, and then nothing beyond the version is assumed).
 */
export function parseOciRuntime(versionText: string, featuresJson: string): OciRuntimeFacts {
  const m = /^(\S+) version (\S+)/m.exec(versionText);
  let mountOptions: string[] = [];
  let idmapMounts = false;
  try {
    const f = JSON.parse(featuresJson || '{}') as { mountOptions?: unknown; linux?: { mountExtensions?: { idmap?: { enabled?: unknown } } } };
    if (Array.isArray(f.mountOptions)) mountOptions = f.mountOptions.filter((o): o is string => typeof o === 'string');
    idmapMounts = f.linux?.mountExtensions?.idmap?.enabled === true;
  } catch {
    // not JSON: an unknown runtime; nothing is assumed
  }
  return { name: m?.[1] ?? '', version: m?.[2] ?? '', mountOptions, recursiveReadOnly: mountOptions.includes('rro'), idmapMounts };
}

/**
 * ownCgroupOf picks fune's own cgroup from /proc/self/cgroup: the unified (0::) line on v2, the memory
 * hierarchy's line on v1 (the hierarchy fune moves monitors out of).
 */
export function ownCgroupOf(procSelfCgroup: string, mode: CgroupMode): string {
  for (const line of procSelfCgroup.split('\n')) {
    const i = line.indexOf(':');
    const j = line.indexOf(':', i + 1);
    if (i < 0 || j < 0) continue;
    const [id, ctrls, path] = [line.slice(0, i), line.slice(i + 1, j), line.slice(j + 1)];
    if (mode === 'v2' && id === '0' && ctrls === '') return path;
    if (mode === 'v1' && ctrls.split(',').includes('memory')) return path;
  }
  return '/';
}

/**
 * NodeRules are what a kind of node may do with files, devices, processes and LSMs, derived from its facts: the one
 * place where running as real root and running as root inside a user namespace (rootless fune under RootlessKit, or
 * a kind/usernetes node; KubeletInUserNamespace) differ, outside cgroup placement (runtime/placement). Everything
 * else asks these rules instead of `inUserNamespace`.
 */
export interface NodeRules {
  /** kind names the rules: "root" or "userns". */
  kind: 'root' | 'userns';
  /**
   * layerDevices: device nodes in image layers are made ("create"), or skipped and counted ("skip": mknod of a real
   * device is EPERM without CAP_MKNOD in the initial user namespace; overlay whiteouts, 0:0 devices, still work).
   */
  layerDevices: 'create' | 'skip';
  /**
   * overlayXattr is the xattr namespace overlayfs reads opaque marks from: "trusted.overlay." as root, or
   * "user.overlay." in a user namespace, where trusted.* cannot be set and the mount carries `userxattr`.
   */
  overlayXattr: 'trusted.overlay.' | 'user.overlay.';
  /**
   * overlayOptions are mount options every overlay mount of this node needs (`userxattr` for the kernel's overlayfs
   * in a user namespace; none for fuse-overlayfs).
   */
  overlayOptions: string[];
  /** overlayMounter: the kernel's overlayfs, or fuse-overlayfs (NodeFacts.overlay, the start-up probe). */
  overlayMounter: 'kernel' | 'fuse-overlayfs';
  /** trustedXattrs: `trusted.*` xattrs of layer entries can be set (only from the initial user namespace; else skipped with a warning). */
  trustedXattrs: boolean;
  /** hostDevices: a privileged container gets the host's devices as device nodes ("create", runc mknods) or bind mounts ("bind"). */
  hostDevices: 'create' | 'bind';
  /** apparmor: AppArmor profiles can be loaded and applied (the kernel has it on and fune is real root). */
  apparmor: boolean;
  /** minOomScoreAdj is the lowest oom_score_adj fune may give (clamped to it, never refused). */
  minOomScoreAdj: number;
  /**
   * sysctls: any namespaced sysctl may be asked for ("namespaced"), or only those the kernel offers to a network
   * namespace that a user namespace owns ("offered": it hides net.core.*, netfilter's and others there, and runc
   * would fail at start).
   */
  sysctls: 'namespaced' | 'offered';
  /** delegatedControllers limit the resources a container may ask for (inside a user namespace); absent: not limited. */
  delegatedControllers?: string[];
  /**
   * hostNamespaceMounts: a pod that shares the node's PID or IPC namespace gets /proc and /dev/mqueue mounted afresh
   * ("mount"), or bound from fune's own ("bind"): in a user namespace that does not own those namespaces (RootlessKit
   * makes no PID or IPC namespace) the kernel refuses new proc and mqueue mounts (EPERM), as rootless Podman binds them.
   */
  hostNamespaceMounts: 'mount' | 'bind';
  /**
   * podFileBindOptions go on the binds of the pod's own files (/etc/hostname, hosts, resolv.conf): in a user
   * namespace the flags of the filesystem they live on (a tmpfs under $XDG_RUNTIME_DIR: nosuid, nodev) are locked, and
   * runc's read-only remount for a ReadOnlyRootfs container is EPERM unless it keeps them.
   */
  podFileBindOptions: string[];
}

/**
 * nodeRulesOf derives the rules of a node. In a user namespace (containerd's rootless behaviour, c/c docs/rootless.md):
 * no device nodes from layers, user.* overlay xattrs with `userxattr` (kernel 5.11+ mounts overlayfs in a user
 * namespace), host devices bind-mounted, no AppArmor (policy cannot be loaded or changed from there), and
 * oom_score_adj no lower than fune's own (CAP_SYS_RESOURCE of a user namespace does not lower scores). hugetlb needs no
 * rule: without the controller (not delegated) the probe finds no page sizes and hugepage limits are dropped, as
 * containerd's tolerate_missing_hugetlb_controller does (oci/opts/resources.ts).
 */
export function nodeRulesOf(node: Pick<NodeFacts, 'user' | 'lsm' | 'capabilities' | 'minOomScoreAdj' | 'cgroup' | 'overlay'>): NodeRules {
  const overlayMounter = node.overlay?.mounter ?? 'kernel';
  if (!node.user.inUserNamespace) {
    return { kind: 'root', layerDevices: 'create', overlayXattr: 'trusted.overlay.', overlayOptions: [], overlayMounter, trustedXattrs: true, hostDevices: 'create', apparmor: node.lsm.apparmor, minOomScoreAdj: node.minOomScoreAdj, sysctls: 'namespaced',
      hostNamespaceMounts: 'mount', podFileBindOptions: [] };
  }
  // fuse-overlayfs reads user.overlay.* marks without being told; `userxattr` is the kernel's option for them.
  const overlayOptions = overlayMounter === 'kernel' ? ['userxattr'] : [];
  return { kind: 'userns', layerDevices: 'skip', overlayXattr: 'user.overlay.', overlayOptions, overlayMounter, trustedXattrs: false, hostDevices: 'bind', apparmor: false, minOomScoreAdj: node.minOomScoreAdj,
    sysctls: 'offered', delegatedControllers: node.cgroup.mode === 'v2' ? node.cgroup.controllers : [], hostNamespaceMounts: 'bind', podFileBindOptions: ['nosuid', 'nodev', 'noexec'] };
}

/**
 * minOomScoreAdjOf is the lowest oom_score_adj a process may set: -1000 with CAP_SYS_RESOURCE of the initial user
 * namespace, else its own score (the kernel refuses to go lower: EACCES).
 */
export function minOomScoreAdjOf(capabilities: string[], inUserNamespace: boolean, ownScore: number): number {
  return capabilities.includes('CAP_SYS_RESOURCE') && !inUserNamespace ? -1000 : ownScore;
}

/** LayerFormat is how image layers are written and mounted on a node (the storage half of its NodeRules). */
export type LayerFormat = Pick<NodeRules, 'layerDevices' | 'overlayXattr' | 'overlayOptions' | 'trustedXattrs'> & Partial<Pick<NodeRules, 'overlayMounter'>>;

/** ROOT_LAYER_FORMAT is the layer format of a real-root node. */
export const ROOT_LAYER_FORMAT: LayerFormat = { layerDevices: 'create', overlayXattr: 'trusted.overlay.', overlayOptions: [], trustedXattrs: true };

/** REQUIRED_DELEGATED are the controllers a rootless node needs delegated for the kubelet's limits (as kind checks). */
export const REQUIRED_DELEGATED = ['cpu', 'memory', 'pids', 'io'] as const;

/** NodeCondition is one entry of CRI RuntimeStatus.conditions. */
export interface NodeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/**
 * delegationCondition reports, on a node inside a user namespace, whether the cgroup controllers the kubelet's limits
 * need are delegated to fune (cgroup v2 only: v1 cannot delegate), with the fix when they are not; undefined on a
 * real-root node. `fix` is the text that says how (oci's DELEGATION_FIX).
 */
export function delegationCondition(node: Pick<NodeFacts, 'user' | 'cgroup'>, fix: string): NodeCondition | undefined {
  if (!node.user.inUserNamespace) return undefined;
  const type = 'CgroupControllersDelegated';
  if (node.cgroup.mode !== 'v2') return { type, status: false, reason: 'CgroupV1', message: 'inside a user namespace cgroups can only be delegated on cgroup v2; this node has cgroup v1, so no resource limit can be applied' };
  const missing = REQUIRED_DELEGATED.filter((c) => !node.cgroup.controllers.includes(c));
  const where = node.cgroup.userManager ?? node.cgroup.own;
  if (missing.length === 0) return { type, status: true, reason: '', message: `delegated to ${where}: ${node.cgroup.controllers.join(' ')}` };
  return { type, status: false, reason: 'MissingDelegatedControllers', message: `cgroup controllers ${missing.join(', ')} are not delegated to ${where} (it has ${node.cgroup.controllers.join(' ') || 'none'}); limits that need them are refused. To fix: ${fix}` };
}

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

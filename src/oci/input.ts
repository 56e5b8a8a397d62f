import type { ContainerConfig, PodSandboxConfig } from '../domain/cri-types.js';
import type { Device } from './spec.js';
import type { PodIdMappings } from './opts/namespaces.js';

/** UsernsFacts are a POD-mode pod's pinned user namespace and its mappings (runc 1.1 wants both). */
export interface UsernsFacts {
  path: string;
  mappings: PodIdMappings;
}

/** ImageConfig is the part of an OCI image config that spec building reads. */
export interface ImageConfig {
  user?: string;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  stopSignal?: string;
  volumes?: string[];
  labels?: Record<string, string>;
}

/** PasswdEntry and GroupEntry are lines of the image's /etc/passwd and /etc/group, read beforehand. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * HostFacts are the facts about the host that spec building needs, gathered beforehand by services/ (through
 * sys/), so that oci/ never touches the host itself.
 */
export interface HostFacts {
  cgroupMode: 'v1' | 'v2';
  /** capabilities fune itself holds (its bounding set), as CAP_* names: "all capabilities" means these. */
  capabilities: string[];
  /** the lowest oom_score_adj fune may set (its own score when it cannot lower scores; -1000 otherwise). */
  minOomScoreAdj: number;
  /** AppArmor enabled in the kernel (read from /sys/module/apparmor/parameters/enabled). */
  apparmorEnabled: boolean;
  /**
   * name of the AppArmor profile fune loaded for RuntimeDefault; when absent (or AppArmor is off), RuntimeDefault
   * runs without an AppArmor profile and a warning is given.
   */
  apparmorDefaultProfile?: string;
  /**
   * swap accounting is available (cgroup v1: memory.memsw.limit_in_bytes exists; v2: memory.swap.max exists).
   * Absent means available. Without it `linux.resources.memory.swap` is left out, since runc would fail.
   */
  swapAccounting?: boolean;
  /**
   * hugepage sizes the hugetlb cgroup controller offers, as "2MB", "1GB" (from the controller's file names,
   * e.g. hugetlb.2MB.limit_in_bytes; empty when the controller is not mounted for the cgroup mode in use).
   */
  hugepageSizes: string[];
  /** every host device, for privileged containers. */
  hostDevices: Device[];
  /**
   * how device nodes reach a container: made by runc ("create", absent) or bound from the host ("bind": inside a
   * user namespace, where mknod of a real device is EPERM; NodeRules.hostDevices).
   */
  deviceNodes?: 'create' | 'bind';
  /** how a host-PID or host-IPC pod gets /proc and /dev/mqueue (NodeRules.hostNamespaceMounts); absent: mounted. */
  hostNamespaceMounts?: 'mount' | 'bind';
  /** options for the binds of the pod's files (NodeRules.podFileBindOptions); absent: none. */
  podFileBindOptions?: string[];
  /**
   * the cgroup controllers delegated to fune where that limits what it may ask for (inside a user namespace): a
   * limit that needs another is FailedPrecondition. Absent: not limited (real root enables what the kernel has).
   */
  delegatedControllers?: string[];
  /** devices named in the CRI config, resolved to their type and numbers, keyed by host path. */
  resolvedDevices: Record<string, Device>;
  /** the content of Localhost seccomp profiles named in the config, keyed by path (absent = missing file). */
  seccompProfiles: Record<string, string>;
  /** host paths of bind mounts, resolved through symlinks, keyed by the path the CRI gave. */
  resolvedMountSources: Record<string, string>;
  /** runc architecture name of the host (x86_64 → SCMP_ARCH_X86_64 etc.). */
  arch: string;
  /** recursive read-only mounts can be made (runc knows `rro`, the kernel has mount_setattr). Absent means no. */
  recursiveReadOnlyMounts?: boolean;
  /** pods can have their own user namespace (CRI UserNamespace mode POD) with idmapped mounts. Absent means no. */
  userNamespaces?: boolean;
  /**
   * the host's online CPUs and memory nodes as cpuset lists ("0-1", "0"): a container's cpuset must name only
   * these, or runc fails to write it at StartContainer. Absent or "" = unknown, and not checked.
   */
  onlineCpus?: string;
  onlineMems?: string;
}

/** SandboxFacts describe the pod a container joins. */
export interface SandboxFacts {
  id: string;
  config: PodSandboxConfig;
  /** pid of the infra process, for joining its namespaces by /proc path. */
  infraPid: number;
  /** paths of the pod's namespaces (network ns pinned under the state dir; the rest from the infra pid). */
  netnsPath?: string;
  hostname: string;
  /** host paths of files shared by the pod's containers. */
  resolvPath?: string;
  hostsPath?: string;
  hostnamePath?: string;
  shmPath?: string;
  /** the pod's own user namespace (mode POD). */
  userns?: UsernsFacts;
}

/** ContainerSpecInput is everything buildContainerSpec reads. */
export interface ContainerSpecInput {
  id: string;
  config: ContainerConfig;
  image: ImageConfig;
  /** the image's /etc/passwd and /etc/group, parsed (empty when absent). */
  passwd: PasswdEntry[];
  group: GroupEntry[];
  sandbox: SandboxFacts;
  host: HostFacts;
  /** host path of the container's root filesystem (the overlay mount point). */
  rootfs: string;
  /** pid of the target container's process for a TARGET pid namespace (ephemeral containers). */
  targetPid?: number;
  /** seccomp_default from fune's config: an unset profile means RuntimeDefault. */
  seccompDefault: boolean;
  /** host directories of the image mounts (CRI Mount.image), keyed by cleaned container path, mounted beforehand. */
  imageVolumes?: { sources: Record<string, string>; noexec: boolean };
  /** the container's OCI linux.cgroupsPath, as the node's cgroup placement names it (runtime/placement). */
  cgroupsPath: string;
}

/** SandboxSpecInput is everything buildSandboxSpec reads. */
export interface SandboxSpecInput {
  id: string;
  config: PodSandboxConfig;
  host: HostFacts;
  rootfs: string;
  /** the infra program and its arguments (catatonit -P, or a sandbox image's entrypoint). */
  args: string[];
  /** host path of the infra binary to bind-mount into the rootfs, when not from an image. */
  infraBinary?: string;
  netnsPath?: string;
  /** the infra process's OCI linux.cgroupsPath, as the node's cgroup placement names it (runtime/placement). */
  cgroupsPath: string;
  resolvPath?: string;
  hostsPath?: string;
  hostnamePath?: string;
  shmPath?: string;
  seccompDefault: boolean;
  /** the pod's own user namespace (mode POD), made and pinned beforehand. */
  userns?: UsernsFacts;
}

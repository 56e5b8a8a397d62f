import { failedPrecondition, invalidArgument, RuntimeError } from '../../errors/index.js';
import type { Mount as CriMount } from '../../domain/cri-types.js';
import type { Mount } from '../spec.js';

/**
 * defaultMounts are the filesystems every container and sandbox gets, as in containerd's default spec for CRI
 * (no /run tmpfs): /proc, a tmpfs /dev with devpts, shm and mqueue, read-only /sys and /sys/fs/cgroup.
 * An mqueue mount shows the queues of the IPC namespace the container runs in, so it serves host-IPC pods too
 * (a bind of the host's /dev/mqueue would fail on hosts that have none mounted).
 */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
}

/**
 * hostNamespaceBinds are the binds that replace the fresh /proc of a host-PID pod and /dev/mqueue of a host-IPC pod
 * where the node cannot mount them (HostFacts.hostNamespaceMounts "bind": a user namespace that does not own those
 * namespaces), as rootless Podman does; none elsewhere.
 */
export function hostNamespaceBinds(how: 'mount' | 'bind' | undefined, hostPid: boolean, hostIpc: boolean): Mount[] {
  if (how !== 'bind') return [];
  const out: Mount[] = [];
  if (hostPid) out.push({ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  if (hostIpc) out.push({ destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  return out;
}

/** writableSysfs drops `ro` from /sys and /sys/fs/cgroup, for privileged containers. */
export function writableSysfs(mounts: Mount[]): void {
  for (const m of mounts) {
    if ((m.destination === '/sys' || m.destination === '/sys/fs/cgroup') && m.options) {
      m.options = m.options.map((o) => (o === 'ro' ? 'rw' : o));
    }
  }
}

/** bind is a bind mount of `source` at `destination`, read-only or not. */
export function bind(destination: string, source: string, readonly: boolean, propagation = 'rprivate'): Mount {
  return { destination, type: 'bind', source, options: ['rbind', propagation, readonly ? 'ro' : 'rw'] };
}

const PROPAGATION: Record<string, string> = {
  PROPAGATION_PRIVATE: 'rprivate',
  PROPAGATION_HOST_TO_CONTAINER: 'rslave',
  PROPAGATION_BIDIRECTIONAL: 'rshared',
};

const depth = (path: string): number => path.split('/').filter(Boolean).length;

/** cleanPath normalises an absolute container path: no duplicate or trailing slashes, no `.` parts; `..` is refused. */
export function cleanPath(path: string, what: string): string {
  if (!path.startsWith('/')) throw invalidArgument(`${what} ${JSON.stringify(path)} is not an absolute path`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`${what} ${JSON.stringify(path)} may not contain ".."`);
  return `/${parts.join('/')}`;
}

/**
 * recursiveReadOnly checks a CRI mount that asks for recursive read-only (every submount read-only too, through
 * runc's `rro`, i.e. mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE)) and gives whether it does. As the CRI says
 * and containerd and CRI-O do: it needs readonly, and private propagation (a submount that arrives later through
 * propagation could not be made read-only); both are InvalidArgument. A node that cannot do it (`supported`
 * false: runc without `rro`, a kernel before 5.12) is FailedPrecondition: the kubelet sends it only to handlers
 * that advertise it.
 */
export function recursiveReadOnly(m: CriMount, supported: boolean): boolean {
  if (!m.recursive_read_only) return false;
  const at = JSON.stringify(m.container_path);
  if (!m.readonly) throw invalidArgument(`mount at ${at}: recursive_read_only needs readonly`);
  const propagation = m.propagation ?? 'PROPAGATION_PRIVATE';
  if (propagation !== 'PROPAGATION_PRIVATE') throw invalidArgument(`mount at ${at}: recursive_read_only needs PROPAGATION_PRIVATE, not ${propagation}`);
  if (!supported) throw failedPrecondition(`mount at ${at}: recursive read-only mounts are not possible on this node (the OCI runtime lacks "rro" or the kernel mount_setattr)`);
  return true;
}

/** validateCriMounts checks what criMounts checks of the mounts alone, before anything is made for a container. */
export function validateCriMounts(mounts: readonly CriMount[], rroSupported: boolean): void {
  for (const m of mounts) recursiveReadOnly(m, rroSupported);
}

/** ImageVolumeSources are the host directories services/ mounted for the image mounts, keyed by cleaned container path. */
export interface ImageVolumeSources {
  sources: Record<string, string>;
  /** noexec adds noexec to the binds (runtime.image_volumes_noexec; the Kubernetes API promises ro and noexec). */
  noexec: boolean;
}

/** imageVolumeMount binds an image volume (CRI Mount.image): always read-only, nosuid, nodev, private; noexec when configured. */
function imageVolumeMount(m: CriMount, images: ImageVolumeSources): Mount {
  const destination = cleanPath(m.container_path ?? '', 'mount container_path');
  const source = images.sources[destination];
  if (!source) throw new RuntimeError('Internal', `image volume at ${destination} was not mounted`);
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', ...(images.noexec ? ['noexec'] : [])] };
}

/** CriMountsResult are the OCI mounts for the CRI's mounts, and the rootfs propagation they need. */
export interface CriMountsResult {
  mounts: Mount[];
  rootfsPropagation?: 'rslave' | 'rshared';
}

/**
 * criMounts turns the CRI mounts into bind mounts, parents before children. Propagation: PRIVATE → rprivate,
 * HOST_TO_CONTAINER → rslave, BIDIRECTIONAL → rshared; the last two need the rootfs to be rslave or rshared
 * too, or events could not reach the mount. Sources are taken from `resolved` (symlinks resolved beforehand by
 * services/) when there.
 */
export function criMounts(mounts: readonly CriMount[], resolved: Record<string, string>, rroSupported = false, images: ImageVolumeSources = { sources: {}, noexec: true }): CriMountsResult {
  const out: Mount[] = [];
  let rootfsPropagation: CriMountsResult['rootfsPropagation'];
  for (const m of mounts) {
    if (m.image) {
      out.push(imageVolumeMount(m, images));
      continue;
    }
    const destination = cleanPath(m.container_path ?? '', 'mount container_path');
    if (!m.host_path) throw invalidArgument(`mount at ${destination} has no host_path`);
    const source = resolved[m.host_path] ?? m.host_path;
    if (!source.startsWith('/')) throw invalidArgument(`mount host_path ${JSON.stringify(m.host_path)} is not an absolute path`);
    const rro = recursiveReadOnly(m, rroSupported);
    const propagation = PROPAGATION[m.propagation ?? 'PROPAGATION_PRIVATE'] ?? 'rprivate';
    if (propagation === 'rshared') rootfsPropagation = 'rshared';
    else if (propagation === 'rslave' && rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
    const mount = bind(destination, source, m.readonly, propagation);
    if (rro) mount.options!.push('rro');
    out.push(mount);
  }
  const sorted = out.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  const result: CriMountsResult = { mounts: sorted.map((x) => x.m) };
  if (rootfsPropagation) result.rootfsPropagation = rootfsPropagation;
  return result;
}

/**
 * overlay merges mount lists: a later mount with the same destination replaces an earlier one where it stood
 * (so CRI mounts win over defaults and pod files).
 */
export function overlay(...lists: Mount[][]): Mount[] {
  const out: Mount[] = [];
  for (const list of lists) {
    for (const m of list) {
      const at = out.findIndex((x) => x.destination === m.destination);
      if (at === -1) out.push(m);
      else out.splice(at, 1, m);
    }
  }
  return out;
}

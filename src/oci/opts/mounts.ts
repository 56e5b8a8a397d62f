import { invalidArgument, unimplemented } from '../../errors/index.js';
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
export function criMounts(mounts: readonly CriMount[], resolved: Record<string, string>): CriMountsResult {
  const out: Mount[] = [];
  let rootfsPropagation: CriMountsResult['rootfsPropagation'];
  for (const m of mounts) {
    if (m.image) throw unimplemented(`mount at ${m.container_path}: image volumes are not supported`);
    const destination = cleanPath(m.container_path ?? '', 'mount container_path');
    if (!m.host_path) throw invalidArgument(`mount at ${destination} has no host_path`);
    const source = resolved[m.host_path] ?? m.host_path;
    if (!source.startsWith('/')) throw invalidArgument(`mount host_path ${JSON.stringify(m.host_path)} is not an absolute path`);
    if (m.recursive_read_only) {
      throw unimplemented(`mount at ${destination}: recursive read-only mounts are not supported by this runc`);
    }
    const propagation = PROPAGATION[m.propagation ?? 'PROPAGATION_PRIVATE'] ?? 'rprivate';
    if (propagation === 'rshared') rootfsPropagation = 'rshared';
    else if (propagation === 'rslave' && rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
    out.push(bind(destination, source, m.readonly, propagation));
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

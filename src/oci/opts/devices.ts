import { invalidArgument } from '../../errors/index.js';
import type { Device as CriDevice } from '../../domain/cri-types.js';
import type { Device, DeviceCgroup, Mount } from '../spec.js';
import { cleanPath } from './mounts.js';

const char = (major: number | undefined, minor: number | undefined, access = 'rwm'): DeviceCgroup => {
  const rule: DeviceCgroup = { allow: true, type: 'c' };
  if (major !== undefined) rule.major = major;
  if (minor !== undefined) rule.minor = minor;
  rule.access = access;
  return rule;
};

/**
 * defaultDeviceRules are the device cgroup rules of an unprivileged container: deny everything, allow mknod of
 * any node (using it is still denied), and read-write-mknod on the standard nodes: null, zero, full, random,
 * urandom, tty, ptmx and the devpts ptys (the same list runc and Docker allow).
 */
export function defaultDeviceRules(): DeviceCgroup[] {
  return [
    { allow: false, access: 'rwm' },
    char(undefined, undefined, 'm'),
    { allow: true, type: 'b', access: 'm' },
    char(1, 3),
    char(1, 5),
    char(1, 7),
    char(1, 8),
    char(1, 9),
    char(5, 0),
    char(5, 2),
    char(136, undefined),
  ];
}

/** allowAllDevices is the device cgroup of a privileged container: every device, every access. */
export function allowAllDevices(): DeviceCgroup[] {
  return [{ allow: true, access: 'rwm' }];
}

/** DeviceResult are the device nodes to create and the cgroup rules that let the container use them. */
export interface DeviceResult {
  devices: Device[];
  rules: DeviceCgroup[];
  /** sources gives the host path of each device, keyed by its container path. */
  sources: Record<string, string>;
}

/**
 * criDevices maps the CRI devices (host path, container path, permissions of r/w/m) onto device nodes, using
 * the type and numbers of each host device as services/ resolved them into `resolved` (keyed by host path). An
 * unknown host device is InvalidArgument.
 */
export function criDevices(devices: readonly CriDevice[], resolved: Record<string, Device>): DeviceResult {
  const out: DeviceResult = { devices: [], rules: [], sources: {} };
  for (const d of devices) {
    const hostPath = d.host_path ?? '';
    const host = resolved[hostPath];
    if (!host) throw invalidArgument(`device ${JSON.stringify(hostPath)} does not exist on the host or is not a device`);
    const permissions = d.permissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(permissions) || new Set(permissions).size !== permissions.length) {
      throw invalidArgument(`device ${hostPath}: invalid permissions ${JSON.stringify(permissions)} (a combination of r, w and m)`);
    }
    const path = cleanPath(d.container_path || hostPath, 'device container_path');
    out.devices.push({ ...host, path });
    out.sources[path] = hostPath;
    const rule: DeviceCgroup = { allow: true, type: host.type };
    if (host.major !== undefined) rule.major = host.major;
    if (host.minor !== undefined) rule.minor = host.minor;
    rule.access = permissions;
    out.rules.push(rule);
  }
  return out;
}

/**
 * RUNC_OWN_DEVICES are the nodes runc gives every container itself (bind-mounted in a user namespace) and /dev/ptmx,
 * which it links to pts/ptmx: a bind of the host's node there first would make runc open the node it then finds
 * (ENXIO for /dev/tty without a controlling terminal).
 */
const RUNC_OWN_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx']);

/**
 * deviceBindMounts gives the bind mounts that stand for device nodes where they cannot be made (inside a user
 * namespace mknod of a real device is EPERM): each node of the host bound at its container path, nosuid and noexec.
 * `sources` maps container paths to host paths (absent: the same path, as for a privileged container's host
 * devices). runc would bind-mount by itself in a user namespace, but from the container path, which is wrong for a
 * CRI device mapped elsewhere (/dev/fuse as /dev/myfuse). runc's own nodes (RUNC_OWN_DEVICES) are left to it.
 */
export function deviceBindMounts(devices: readonly Device[], sources: Record<string, string> = {}): Mount[] {
  return devices.filter((d) => !RUNC_OWN_DEVICES.has(d.path)).map((d) => ({ destination: d.path, type: 'bind', source: sources[d.path] ?? d.path, options: ['bind', 'nosuid', 'noexec'] }));
}

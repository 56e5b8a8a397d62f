import { invalidArgument } from '../../errors/index.js';

/** CGROUP_SCOPE_PREFIX names fune's scopes under the systemd driver: `<slice>:fune:<id>` → fune-<id>.scope. */
export const CGROUP_SCOPE_PREFIX = 'fune';

/**
 * cgroupsPath is the OCI `linux.cgroupsPath` of a container or sandbox `id` under `parent`. With the cgroupfs
 * driver it is the path `<parent>/<id>` (`/fune/<id>` without a parent); with systemd it is runc's
 * `slice:prefix:name` form, and the parent must be a slice (`kubepods-burstable-pod<uid>.slice`).
 */
export function cgroupsPath(parent: string, id: string, driver: 'systemd' | 'cgroupfs'): string {
  if (driver === 'systemd') {
    const slice = parent === '' ? 'system.slice' : parent;
    if (!/^[^/:]+\.slice$/.test(slice)) {
      throw invalidArgument(`cgroup parent ${JSON.stringify(parent)} is not a systemd slice name (like kubepods.slice), as the systemd cgroup driver needs`);
    }
    return `${slice}:${CGROUP_SCOPE_PREFIX}:${id}`;
  }
  if (parent === '') return `/${CGROUP_SCOPE_PREFIX}/${id}`;
  if (parent.includes('..') || parent.includes(':')) {
    throw invalidArgument(`cgroup parent ${JSON.stringify(parent)} is not a cgroupfs path`);
  }
  const base = parent.startsWith('/') ? parent : `/${parent}`;
  return `${base.replace(/\/+$/, '')}/${id}`;
}

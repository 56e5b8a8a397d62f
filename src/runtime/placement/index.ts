import type { NodeFacts } from '../../domain/node.js';
import type { SystemdBus } from '../../sys/systemd-bus.js';
import { cgroupTree, CGROUP_ROOT } from '../cgroups.js';
import { CgroupfsPlacement } from './cgroupfs.js';
import { SystemdPlacement } from './systemd.js';
import type { CgroupPlacement } from './types.js';
import { RuntimeError } from '../../errors/index.js';

export type { CgroupPlacement } from './types.js';
export { CgroupfsPlacement, FUNE_CGROUP } from './cgroupfs.js';
export { SystemdPlacement, SCOPE_PREFIX, FUNE_POD_SLICE_PREFIX } from './systemd.js';
export { expandSlice, isSliceName, sliceOfParent } from './slices.js';

/** PlacementDeps are the host parts a placement may need. */
export interface PlacementDeps {
  /** bus gives systemd's manager, which the systemd driver asks for scopes and slices: the system's or the user's. */
  bus: (manager: 'system' | 'user') => SystemdBus;
  cgroupRoot?: string;
}

/**
 * placementFor picks the placement of this kind of node: its cgroup driver on its cgroup layout, and inside a user
 * namespace (rootless) the systemd driver of the user's own manager, over the user bus, in its delegated subtree
 * (runc does the same for the containers' scopes: in a user namespace it talks to the user's manager). cgroupfs
 * inside a user namespace is not served: fune would first have to move itself out of its own cgroup to enable
 * controllers below it (cgroup v2's no-internal-processes rule); it is refused with the way out.
 */
export function placementFor(node: Pick<NodeFacts, 'cgroup' | 'user'>, deps: PlacementDeps): CgroupPlacement {
  const tree = cgroupTree(node.cgroup.mode, deps.cgroupRoot ?? CGROUP_ROOT);
  if (!node.user.inUserNamespace) return node.cgroup.driver === 'systemd' ? new SystemdPlacement(tree, deps.bus('system')) : new CgroupfsPlacement(tree);
  if (node.cgroup.driver === 'systemd' && node.cgroup.userManager) return new SystemdPlacement(tree, deps.bus('user'), node.cgroup.userManager);
  throw new RuntimeError('FailedPrecondition', node.cgroup.driver === 'systemd'
    ? 'the systemd cgroup driver inside a user namespace needs the user\'s own systemd manager (systemd --user on cgroup v2; `loginctl enable-linger` keeps it running without a login)'
    : `the cgroupfs driver is not served inside a user namespace (fune's cgroup ${node.cgroup.own}): use runtime.cgroup_driver = "systemd" (or "auto") with the user's systemd manager on cgroup v2`);
}

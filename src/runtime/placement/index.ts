import type { NodeFacts } from '../../domain/node.js';
import type { SystemdBus } from '../../sys/systemd-bus.js';
import { cgroupTree, CGROUP_ROOT } from '../cgroups.js';
import { CgroupfsPlacement } from './cgroupfs.js';
import { SystemdPlacement } from './systemd.js';
import type { CgroupPlacement } from './types.js';

export type { CgroupPlacement } from './types.js';
export { CgroupfsPlacement, FUNE_CGROUP } from './cgroupfs.js';
export { SystemdPlacement, SCOPE_PREFIX, FUNE_POD_SLICE_PREFIX } from './systemd.js';
export { expandSlice, isSliceName, sliceOfParent } from './slices.js';

/** PlacementDeps are the host parts a placement may need. */
export interface PlacementDeps {
  /** bus is systemd's manager, which the systemd driver asks for scopes and slices. */
  bus: SystemdBus;
  cgroupRoot?: string;
}

/** placementFor picks the placement of this kind of node: its cgroup driver on its cgroup layout. */
export function placementFor(node: Pick<NodeFacts, 'cgroup'>, deps: PlacementDeps): CgroupPlacement {
  const tree = cgroupTree(node.cgroup.mode, deps.cgroupRoot ?? CGROUP_ROOT);
  return node.cgroup.driver === 'systemd' ? new SystemdPlacement(tree, deps.bus) : new CgroupfsPlacement(tree);
}

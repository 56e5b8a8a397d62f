/**
 * What fune can deliver on this node, derived from the node facts probed at start-up (src/sys/node-probe.ts) and
 * nothing else: Status advertises exactly these (per runtime handler and runtime-wide), and spec building refuses
 * a request for a feature the node lacks. A kubelet 1.30+ looks at them before it sends such requests
 * (hostUsers: false pods, recursiveReadOnly volumes; 1.33+ for SupplementalGroupsPolicy Strict).
 */
import { kernelAtLeast, type NodeFacts } from './node.js';

/** DEFAULT_RUNTIME_HANDLER is the name of fune's one runtime handler; the CRI's "" means it too. */
export const DEFAULT_RUNTIME_HANDLER = 'runc';

/** NodeFeatures are the CRI features fune can deliver on this node. */
export interface NodeFeatures {
  /** Mount.recursive_read_only: the OCI runtime knows `rro` and the kernel has mount_setattr(2) (5.12). */
  recursiveReadOnlyMounts: boolean;
  /** user namespaces of mode POD with idmapped rootfs and volumes, and mode NODE. */
  userNamespaces: boolean;
  /** SupplementalGroupsPolicy Merge and Strict, and ContainerStatus.user: fune resolves groups itself. */
  supplementalGroupsPolicy: boolean;
}

/** featuresOf derives what fune can deliver from the node facts. */
export function featuresOf(node: Pick<NodeFacts, 'oci' | 'kernel' | 'podUserNamespaces'>): NodeFeatures {
  return {
    recursiveReadOnlyMounts: node.oci.recursiveReadOnly && kernelAtLeast(node, 5, 12),
    // POD mode needs idmapped mounts, which runc 1.1 cannot make: fune makes them itself (native/idmap), where its
    // probe at start-up found them working (kernel 6.3+ for tmpfs, overlayfs over idmapped layers, real root).
    userNamespaces: node.podUserNamespaces?.ok ?? false,
    supplementalGroupsPolicy: true,
  };
}

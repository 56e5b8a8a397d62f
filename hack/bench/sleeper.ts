// The pod and container configs the crictl-free benchmarks (lifecycle.ts, density.ts) run: a pod in its own
// network, pid and ipc namespaces with one busybox `sleep 3600` container, both labelled so that a run can find
// (and remove) what it made.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const NS = { network: 'POD', pid: 'POD', ipc: 'POD' };

/** sleeperPod is the config of pod `name` in `namespace`, logging under `logRoot/name` (made here), labelled `label`. */
export function sleeperPod(name: string, logRoot: string, namespace: string, label: string, systemdSlices = false): object {
  const logDir = join(logRoot, name);
  mkdirSync(logDir, { recursive: true });
  const uid = `uid-${name}-${process.pid}`;
  return {
    metadata: { name, namespace, uid, attempt: 0 },
    hostname: name,
    log_directory: logDir,
    labels: { [label]: '1' },
    linux: { ...(systemdSlices ? { cgroup_parent: podSlicePath(uid) } : {}), security_context: { namespace_options: NS } },
  };
}

/**
 * podSlicePath is the cgroup parent a kubelet with the systemd cgroup driver sends for a BestEffort pod: the path of
 * slices down to the pod's own (`-` in the uid escaped as `_`, as the kubelet does). Without a parent, containerd
 * with SystemdCgroup falls back to `/k8s.io/<id>`, which runc's systemd driver refuses.
 */
export function podSlicePath(uid: string): string {
  return `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replace(/[^A-Za-z0-9_]/g, '_')}.slice`;
}

/** sleeperContainer is the config of the pod's one container, `sleep 3600` from `image`, labelled `label`. */
export function sleeperContainer(image: string, label: string): object {
  return {
    metadata: { name: 'sleeper', attempt: 0 },
    image: { image },
    command: ['sleep', '3600'],
    log_path: 'sleeper.log',
    labels: { [label]: '1' },
    linux: { security_context: { namespace_options: NS } },
  };
}

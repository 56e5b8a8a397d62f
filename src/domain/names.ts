import type { ContainerMetadata, PodSandboxMetadata } from './cri-types.js';
import { invalidArgument } from '../errors/index.js';

/**
 * sandboxName gives the name fune reserves for a pod: `k8s_POD_<name>_<namespace>_<uid>_<attempt>`, the form the
 * dockershim introduced and containerd and CRI-O keep. Name, namespace and uid are required.
 */
export function sandboxName(m: PodSandboxMetadata | null): string {
  if (!m || !m.name) throw invalidArgument('pod sandbox metadata.name is required');
  if (!m.namespace) throw invalidArgument('pod sandbox metadata.namespace is required');
  if (!m.uid) throw invalidArgument('pod sandbox metadata.uid is required');
  return ['k8s', 'POD', m.name, m.namespace, m.uid, String(m.attempt ?? 0)].join('_');
}

/** containerName gives the name fune reserves for a container: `k8s_<name>_<pod>_<namespace>_<uid>_<attempt>`. */
export function containerName(m: ContainerMetadata | null, pod: PodSandboxMetadata | null): string {
  if (!m || !m.name) throw invalidArgument('container metadata.name is required');
  return ['k8s', m.name, pod?.name ?? '', pod?.namespace ?? '', pod?.uid ?? '', String(m.attempt ?? 0)].join('_');
}

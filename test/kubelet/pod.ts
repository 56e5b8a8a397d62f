// The slice of the Kubernetes Pod API (k8s.io/api/core/v1 types.go) that the kubelet turns into CRI requests, as
// plain data: the suite's pods are written in these terms, and the per-version builders (v1_22.ts, v1_34.ts) turn
// them into the requests those kubelets build. Quantities are numbers: CPU in millicores, memory in bytes.
import { randomUUID } from 'node:crypto';

/** ResourceList is requests or limits: `cpu` in millicores, `memory` in bytes, `hugepages-2Mi` in bytes. */
export interface ResourceList {
  cpu?: number;
  memory?: number;
  'hugepages-2Mi'?: number;
  /** an extended resource of the suite's device plugin, which hands out /dev/net/tun. */
  'fune.test/tun'?: number;
}

/** SeccompProfile is v1.SeccompProfile. */
export interface SeccompProfile {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostProfile?: string;
}

/** AppArmorProfile is v1.AppArmorProfile (a field since 1.30; 1.22 knows only the beta annotation). */
export interface AppArmorProfile {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostProfile?: string;
}

/** ExecAction is a probe's or a hook's command. */
export interface ExecAction {
  command: string[];
}

/** Probe is v1.Probe with an exec handler (the only kind that reaches the runtime). */
export interface Probe {
  exec: ExecAction;
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
  /** terminationGracePeriodSeconds of the probe (ProbeTerminationGracePeriod: beta off in 1.22, GA in 1.34). */
  terminationGracePeriodSeconds?: number;
}

/** VolumeMount is v1.VolumeMount. */
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  mountPropagation?: 'None' | 'HostToContainer' | 'Bidirectional';
}

/** Container is v1.Container. */
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: { name: string; value: string }[];
  ports?: { name?: string; containerPort: number; hostPort?: number; protocol?: 'TCP' | 'UDP' | 'SCTP'; hostIP?: string }[];
  resources?: { requests?: ResourceList; limits?: ResourceList };
  volumeMounts?: VolumeMount[];
  livenessProbe?: Probe;
  lifecycle?: { postStart?: { exec: ExecAction }; preStop?: { exec: ExecAction } };
  terminationMessagePath?: string;
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  securityContext?: {
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: SeccompProfile;
    appArmorProfile?: AppArmorProfile;
  };
  stdin?: boolean;
  tty?: boolean;
}

/** Volume is the kinds of v1.Volume the suite uses: each is a host directory the kubelet has set up. */
export interface Volume {
  name: string;
  /** hostPath: a node directory; emptyDir and projected (the service account token) live under the pod's dir. */
  kind: 'hostPath' | 'emptyDir' | 'projected';
  path?: string;
}

/** Pod is v1.Pod: metadata and the spec fields the kubelet reads to build CRI requests. */
export interface Pod {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds: number;
  /** deletionGracePeriodSeconds is set once the pod is being deleted. */
  deletionGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  shareProcessNamespace?: boolean;
  hostname?: string;
  /** overhead of the pod's RuntimeClass (v1.PodSpec.overhead). */
  overhead?: ResourceList;
  dnsPolicy: 'ClusterFirst' | 'Default' | 'None';
  securityContext: {
    seccompProfile?: SeccompProfile;
    sysctls?: { name: string; value: string }[];
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    supplementalGroups?: number[];
  };
}

/** QoSClass is the pod's v1.PodQOSClass. */
export type QoSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/**
 * qosClass mirrors pkg/apis/core/v1/helper/qos GetPodQOS (the same in 1.22 and 1.34 for pods without pod-level
 * resources): BestEffort without any request or limit, Guaranteed when every container has cpu and memory limits
 * equal to its requests (a missing request defaults to the limit), else Burstable.
 */
export function qosClass(pod: Pod): QoSClass {
  const all = [...pod.initContainers, ...pod.containers];
  // Only cpu and memory count (supportedQoSComputeResources).
  const has = (l?: ResourceList) => l?.cpu !== undefined || l?.memory !== undefined;
  const any = all.some((c) => has(c.resources?.requests) || has(c.resources?.limits));
  if (!any) return 'BestEffort';
  const guaranteed = all.every((c) => {
    const lim = c.resources?.limits ?? {};
    const req = { ...lim, ...(c.resources?.requests ?? {}) };
    return lim.cpu !== undefined && lim.memory !== undefined && req.cpu === lim.cpu && req.memory === lim.memory;
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** requests gives a container's effective requests: the API server defaults a missing request to its limit. */
export function requests(c: Container): ResourceList {
  return { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
}

/** newPod gives a pod as the API server would have defaulted it (fresh uid, restartPolicy Always, 30 s grace). */
export function newPod(name: string, namespace: string, spec: Partial<Pod> & Pick<Pod, 'containers'>): Pod {
  const container = (c: Container): Container => ({
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    ...c,
  });
  return {
    name,
    namespace,
    uid: randomUUID(),
    labels: { app: name },
    // What the kubelet's config sources add to every pod from the API server (pkg/kubelet/config).
    annotations: { 'kubernetes.io/config.source': 'api', 'kubernetes.io/config.seen': new Date().toISOString() },
    initContainers: [],
    volumes: [],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    ...spec,
    containers: spec.containers.map(container),
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(container) } : {}),
  };
}

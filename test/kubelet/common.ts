// What the 1.22 and 1.34 kubelets build alike: labels and annotations (kuberuntime/labels.go), the container's run
// options (kubelet_pods.go GenerateRunContainerOptions: mounts, /etc/hosts, envs, device plugin devices), the pod's
// DNS config (network/dns/dns.go), port mappings (container/helpers.go MakePortMappings), namespace options
// (kuberuntime/util NamespacesForPod) and the CRI log paths (kuberuntime/helpers.go). Requests are plain objects in
// the field names of the proto files (snake_case), as the suite's gRPC clients take them.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeletNode } from './node.js';
import type { Container, Pod } from './pod.js';

/** Labels the kubelet sets (pkg/kubelet/types/labels.go). */
export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';

/** newPodLabels mirrors labels.go newPodLabels: the pod's labels plus its name, namespace and uid. */
export function newPodLabels(pod: Pod): Record<string, string> {
  return { ...pod.labels, [POD_NAME_LABEL]: pod.name, [POD_NAMESPACE_LABEL]: pod.namespace, [POD_UID_LABEL]: pod.uid };
}

/** newContainerLabels mirrors labels.go newContainerLabels. */
export function newContainerLabels(c: Container, pod: Pod): Record<string, string> {
  return { [POD_NAME_LABEL]: pod.name, [POD_NAMESPACE_LABEL]: pod.namespace, [POD_UID_LABEL]: pod.uid, [CONTAINER_NAME_LABEL]: c.name };
}

/**
 * hashContainer stands in for kubecontainer.HashContainer: the kubelet compares the hex value it wrote into the
 * annotation with its own, so the runtime only has to give it back unchanged (the algorithm differs by version).
 */
export function hashContainer(c: Container): string {
  return createHash('sha256').update(JSON.stringify(c)).digest().readUInt32BE(0).toString(16);
}

/** newContainerAnnotations mirrors labels.go newContainerAnnotations (device plugin annotations first). */
export function newContainerAnnotations(c: Container, pod: Pod, restartCount: number, extra: Record<string, string> = {}): Record<string, string> {
  const a: Record<string, string> = {
    ...extra,
    'io.kubernetes.container.hash': hashContainer(c),
    'io.kubernetes.container.restartCount': String(restartCount),
    'io.kubernetes.container.terminationMessagePath': c.terminationMessagePath ?? '',
    'io.kubernetes.container.terminationMessagePolicy': c.terminationMessagePolicy ?? 'File',
  };
  if (pod.deletionGracePeriodSeconds !== undefined) a['io.kubernetes.pod.deletionGracePeriod'] = String(pod.deletionGracePeriodSeconds);
  a['io.kubernetes.pod.terminationGracePeriod'] = String(pod.terminationGracePeriodSeconds);
  if (c.lifecycle?.preStop) a['io.kubernetes.container.preStopHandler'] = JSON.stringify(c.lifecycle.preStop);
  if (c.ports?.length) a['io.kubernetes.container.ports'] = JSON.stringify(c.ports);
  return a;
}

/** ContainerInfo is what labels.go getContainerInfoFromLabels/-Annotations read back from a runtime's answer. */
export interface ContainerInfo {
  podName: string;
  podNamespace: string;
  podUid: string;
  containerName: string;
  hash: string;
  restartCount: number;
  terminationMessagePath: string;
  terminationMessagePolicy: string;
}

/** containerInfo reads the kubelet's labels and annotations back (missing restart count reads as 0, as the kubelet does). */
export function containerInfo(labels: Record<string, string>, annotations: Record<string, string>): ContainerInfo {
  return {
    podName: labels[POD_NAME_LABEL] ?? '',
    podNamespace: labels[POD_NAMESPACE_LABEL] ?? '',
    podUid: labels[POD_UID_LABEL] ?? '',
    containerName: labels[CONTAINER_NAME_LABEL] ?? '',
    hash: annotations['io.kubernetes.container.hash'] ?? '',
    restartCount: Number(annotations['io.kubernetes.container.restartCount'] ?? 0),
    terminationMessagePath: annotations['io.kubernetes.container.terminationMessagePath'] ?? '',
    terminationMessagePolicy: annotations['io.kubernetes.container.terminationMessagePolicy'] ?? '',
  };
}

/** buildPodLogsDirectory mirrors helpers.go BuildPodLogsDirectory: <podLogsDir>/<namespace>_<name>_<uid>. */
export function buildPodLogsDirectory(node: KubeletNode, pod: Pod): string {
  return join(node.podLogsDir, `${pod.namespace}_${pod.name}_${pod.uid}`);
}

/** buildContainerLogsPath mirrors helpers.go buildContainerLogsPath: <container>/<restartCount>.log. */
export function buildContainerLogsPath(name: string, restartCount: number): string {
  return join(name, `${restartCount}.log`);
}

/** podDir is the kubelet's <root>/pods/<uid>. */
export function podDir(node: KubeletNode, pod: Pod): string {
  return join(node.rootDir, 'pods', pod.uid);
}

/**
 * podDNS mirrors network/dns/dns.go GetPodDNS for dnsPolicy ClusterFirst with no host search paths: the cluster DNS
 * servers, `<ns>.svc.<domain>`, `svc.<domain>`, `<domain>`, and defaultDNSOptions (ndots:5).
 */
export function podDNS(node: KubeletNode, pod: Pod): Record<string, unknown> {
  if (pod.dnsPolicy !== 'ClusterFirst' || pod.hostNetwork) return { servers: [], searches: [], options: [] };
  const d = node.clusterDomain;
  return { servers: node.clusterDNS, searches: [`${pod.namespace}.svc.${d}`, `svc.${d}`, d], options: ['ndots:5'] };
}

/** podHostname mirrors GeneratePodHostNameAndDomain: spec.hostname, else the pod name cut to 63 characters. */
export function podHostname(pod: Pod): string {
  return (pod.hostname ?? pod.name).slice(0, 63);
}

/** portMappings mirrors kubecontainer.MakePortMappings (every declared port, host port 0 included) as CRI PortMappings. */
export function portMappings(pod: Pod): Record<string, unknown>[] {
  return pod.containers.flatMap((c) =>
    (c.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', container_port: p.containerPort, host_port: p.hostPort ?? 0, host_ip: p.hostIP ?? '' })),
  );
}

/**
 * namespaceOptions mirrors kuberuntime/util NamespacesForPod: network and IPC in the pod (NODE with hostNetwork),
 * PID per container unless the pod shares its process namespace.
 */
export function namespaceOptions(pod: Pod): Record<string, unknown> {
  return {
    network: pod.hostNetwork ? 'NODE' : 'POD',
    pid: pod.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: 'POD',
    target_id: '',
  };
}

/** HOSTS_HEADER is kubelet_pods.go managedHostsHeader. */
export const HOSTS_HEADER = '# Kubernetes-managed hosts file.\n';

/** RunOptions is kubecontainer.RunContainerOptions as GenerateRunContainerOptions fills it for one container. */
export interface RunOptions {
  mounts: { host_path: string; container_path: string; readonly: boolean; propagation: string }[];
  envs: { key: string; value: string }[];
  devices: { host_path: string; container_path: string; permissions: string }[];
  annotations: Record<string, string>;
  podContainerDir: string;
}

/** DEVICE_PLUGIN is what a device plugin's Allocate answered for the suite's `fune.test/tun` resource. */
export const DEVICE_PLUGIN = { host_path: '/dev/net/tun', container_path: '/dev/fune-tun', permissions: 'rw' };

/** SERVICE_ENV is the kubernetes service's environment (kubelet_pods.go getServiceEnvVarMap, enableServiceLinks). */
export const SERVICE_ENV: Record<string, string> = {
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  KUBERNETES_SERVICE_PORT: '443',
  KUBERNETES_SERVICE_PORT_HTTPS: '443',
  KUBERNETES_PORT: 'tcp://10.96.0.1:443',
  KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
  KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
  KUBERNETES_PORT_443_TCP_PORT: '443',
  KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
};

/** volumeHostPath is where the kubelet's volume manager has a volume mounted (volumeutil.GetPath). */
export function volumeHostPath(node: KubeletNode, pod: Pod, name: string): string {
  const v = pod.volumes.find((x) => x.name === name);
  if (!v) throw new Error(`pod ${pod.name} has no volume ${name}`);
  if (v.kind === 'hostPath') return v.path ?? '';
  const plugin = v.kind === 'emptyDir' ? 'kubernetes.io~empty-dir' : 'kubernetes.io~projected';
  return join(podDir(node, pod), 'volumes', plugin, name);
}

/** setUpVolumes does the volume manager's part before the pod starts: emptyDir and projected token directories. */
export function setUpVolumes(node: KubeletNode, pod: Pod): void {
  for (const v of pod.volumes) {
    if (v.kind === 'hostPath') continue;
    const dir = volumeHostPath(node, pod, v.name);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (v.kind === 'projected') {
      writeFileSync(join(dir, 'token'), `token-${randomBytes(8).toString('hex')}`);
      writeFileSync(join(dir, 'namespace'), pod.namespace);
      writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\n');
    }
  }
}

/** PROPAGATION mirrors kubelet_pods.go translateMountPropagation. */
const PROPAGATION = { None: 'PROPAGATION_PRIVATE', HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER', Bidirectional: 'PROPAGATION_BIDIRECTIONAL' } as const;

/**
 * runOptions mirrors GenerateRunContainerOptions and kubelet_pods.go makeMounts/makeHostsMount: the volume mounts
 * with their propagation, then /etc/hosts (written to <podDir>/etc-hosts, mounted read-write) once the pod has an
 * IP; the container's env then the service env; the device plugin's devices for containers that ask for
 * `fune.test/tun`; and <podDir>/containers/<name> for the termination log.
 */
export function runOptions(node: KubeletNode, pod: Pod, c: Container, podIPs: string[]): RunOptions {
  const mounts: RunOptions['mounts'] = (c.volumeMounts ?? []).map((m) => ({
    host_path: volumeHostPath(node, pod, m.name),
    container_path: m.mountPath,
    readonly: m.readOnly ?? false,
    propagation: PROPAGATION[m.mountPropagation ?? 'None'],
  }));
  if (podIPs.length > 0 && !mounts.some((m) => m.container_path === '/etc/hosts')) {
    const file = join(podDir(node, pod), 'etc-hosts');
    mkdirSync(podDir(node, pod), { recursive: true, mode: 0o750 });
    const own = podIPs.map((ip) => `${ip}\t${podHostname(pod)}\n`).join('');
    writeFileSync(
      file,
      `${HOSTS_HEADER}127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n${own}`,
    );
    mounts.push({ host_path: file, container_path: '/etc/hosts', readonly: false, propagation: 'PROPAGATION_PRIVATE' });
  }
  const envs = [...(c.env ?? []).map((e) => ({ key: e.name, value: e.value })), ...Object.entries(SERVICE_ENV).map(([key, value]) => ({ key, value }))];
  const wantsTun = c.resources?.limits?.['fune.test/tun'] !== undefined;
  const podContainerDir = join(podDir(node, pod), 'containers', c.name);
  mkdirSync(podContainerDir, { recursive: true, mode: 0o750 });
  return { mounts, envs, devices: wantsTun ? [DEVICE_PLUGIN] : [], annotations: {}, podContainerDir };
}

/**
 * terminationLogMount mirrors kuberuntime_container.go makeMounts' tail: a fresh file <podContainerDir>/<8 hex>,
 * mode 0666, mounted at the container's terminationMessagePath.
 */
export function terminationLogMount(opts: RunOptions, c: Container): RunOptions['mounts'][number] | undefined {
  if (!c.terminationMessagePath) return undefined;
  const file = join(opts.podContainerDir, randomBytes(4).toString('hex'));
  writeFileSync(file, '');
  chmodSync(file, 0o666);
  return { host_path: file, container_path: c.terminationMessagePath, readonly: false, propagation: 'PROPAGATION_PRIVATE' };
}

/** ensurePodLogDirs does what createPodSandbox and generateContainerConfig do first: MkdirAll of the log dirs, 0755. */
export function ensureLogDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
}

// The CRI requests of a stock kubelet 1.22 (runtime.v1alpha2, the release the seed targets), field for field.
// Each function names the Go function of kubernetes v1.22 it mirrors (pkg/kubelet/kuberuntime unless said).
import { podCgroupName } from './cm.js';
import {
  buildContainerLogsPath,
  buildPodLogsDirectory,
  ensureLogDir,
  namespaceOptions,
  newContainerAnnotations,
  newContainerLabels,
  newPodLabels,
  podDNS,
  podHostname,
  portMappings,
  runOptions,
  terminationLogMount,
} from './common.js';
import type { KubeletNode } from './node.js';
import { qosClass, requests, type Container, type Pod, type SeccompProfile } from './pod.js';
import { applyDefaultImageTag, hugepageLimits, MASKED_PATHS_1_22, oomScoreAdj, READONLY_PATHS, type ContainerInputs, type KubeletVersion } from './version.js';

/** milliCPUToShares is 1.22's helpers_linux.go milliCPUToShares: at least 2, no upper bound yet. */
function milliCPUToShares(milli: number): number {
  return milli === 0 ? 2 : Math.max(2, Math.floor((milli * 1024) / 1000));
}

/** milliCPUToQuota is 1.22's helpers_linux.go milliCPUToQuota (100 ms period without the CPUCFSQuotaPeriod gate). */
function milliCPUToQuota(milli: number): number {
  return milli === 0 ? 0 : Math.max(1000, Math.floor((milli * 100000) / 1000));
}

/** seccompPath is helpers.go fieldProfile/getSeccompProfilePath (the deprecated string, still sent by 1.22). */
function seccompPath(p: SeccompProfile | undefined, fallback: boolean): string {
  if (!p) return fallback ? 'runtime/default' : '';
  if (p.type === 'RuntimeDefault') return 'runtime/default';
  if (p.type === 'Localhost') return `localhost/${p.localhostProfile ?? ''}`;
  return 'unconfined';
}

/** seccompField is helpers.go fieldSeccompProfile/getSeccompProfile (1.22: no error for a Localhost without path). */
function seccompField(p: SeccompProfile | undefined, fallback: boolean): Record<string, string> {
  if (!p) return { profile_type: fallback ? 'RuntimeDefault' : 'Unconfined', localhost_ref: '' };
  if (p.type === 'RuntimeDefault') return { profile_type: 'RuntimeDefault', localhost_ref: '' };
  if (p.type === 'Localhost' && p.localhostProfile) return { profile_type: 'Localhost', localhost_ref: p.localhostProfile };
  return { profile_type: 'Unconfined', localhost_ref: '' };
}

/** linuxResources is kuberuntime_container_linux.go generateLinuxContainerConfig's resources (1.22). */
function linuxResources(node: KubeletNode, pod: Pod, c: Container): Record<string, any> {
  const req = requests(c);
  const lim = c.resources?.limits ?? {};
  const r: Record<string, any> = {
    // A missing request is the limit (the API server's defaulting, repeated by the kubelet).
    cpu_shares: milliCPUToShares(req.cpu ?? 0),
    memory_limit_in_bytes: lim.memory ?? 0,
    oom_score_adj: oomScoreAdj(qosClass(pod), req.memory ?? 0, node.memoryCapacity),
    cpu_period: 100000,
    cpu_quota: milliCPUToQuota(lim.cpu ?? 0),
    hugepage_limits: hugepageLimits(node, c),
    memory_swap_limit_in_bytes: 0,
    unified: {},
  };
  // NodeSwap (alpha, off by default): UnlimitedSwap is -1, LimitedSwap or unset is the memory limit (no swap).
  if (node.nodeSwap) r.memory_swap_limit_in_bytes = node.swapBehavior === 'UnlimitedSwap' ? -1 : r.memory_limit_in_bytes;
  // MemoryQoS on cgroup v2: memory.min = request, memory.high = limit (or allocatable) times 0.8 when above the request.
  if (node.memoryQoS && node.cgroupV2) {
    const unified: Record<string, string> = {};
    if (req.memory) unified['memory.min'] = String(req.memory);
    const high = Math.trunc((lim.memory ?? node.allocatableMemory) * 0.8);
    if (high > (req.memory ?? 0)) unified['memory.high'] = String(high);
    r.unified = unified;
  }
  return r;
}

/** securityContext is security_context.go determineEffectiveSecurityContext (1.22). */
function securityContext(node: KubeletNode, pod: Pod, c: Container, inputs: ContainerInputs): Record<string, any> {
  const sc = c.securityContext ?? {};
  const seccomp = sc.seccompProfile ?? pod.securityContext.seccompProfile;
  const runAsUser = sc.runAsUser ?? pod.securityContext.runAsUser;
  const runAsGroup = sc.runAsGroup ?? pod.securityContext.runAsGroup;
  const groups = [...(pod.securityContext.fsGroup !== undefined ? [pod.securityContext.fsGroup] : []), ...(pod.securityContext.supplementalGroups ?? [])];
  return {
    capabilities: sc.capabilities ? { add_capabilities: sc.capabilities.add ?? [], drop_capabilities: sc.capabilities.drop ?? [] } : null,
    privileged: sc.privileged ?? false,
    namespace_options: namespaceOptions(pod),
    ...(runAsUser !== undefined ? { run_as_user: { value: runAsUser } } : inputs.user.uid !== undefined ? { run_as_user: { value: inputs.user.uid } } : {}),
    ...(runAsGroup !== undefined ? { run_as_group: { value: runAsGroup } } : {}),
    run_as_username: runAsUser === undefined ? inputs.user.username : '',
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    supplemental_groups: groups,
    // apparmor.GetProfileNameFromPodAnnotations: the beta annotation only ("runtime/default", "localhost/<name>").
    apparmor_profile: pod.annotations[`container.apparmor.security.beta.kubernetes.io/${c.name}`] ?? '',
    seccomp_profile_path: seccompPath(seccomp, node.seccompDefault),
    seccomp: seccompField(seccomp, node.seccompDefault),
    no_new_privs: sc.allowPrivilegeEscalation === false,
    masked_paths: MASKED_PATHS_1_22,
    readonly_paths: READONLY_PATHS,
  };
}

/** KUBELET_1_22 is the 1.22 kubelet. */
export const KUBELET_1_22: KubeletVersion = {
  version: '1.22',
  api: 'v1alpha2',
  authority: (socket) => socket,
  asksRuntimeConfig: false,

  /**
   * sandboxConfig is kuberuntime_sandbox.go generatePodSandboxConfig and generatePodSandboxLinuxConfig: no
   * resources or overhead yet (those came with 1.23), the sandbox's seccomp forced to runtime/default (#84623).
   */
  sandboxConfig(node, pod, attempt) {
    const logDir = buildPodLogsDirectory(node, pod);
    ensureLogDir(logDir);
    const sc = pod.securityContext;
    return {
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt },
      hostname: pod.hostNetwork ? '' : podHostname(pod),
      log_directory: logDir,
      dns_config: podDNS(node, pod),
      port_mappings: portMappings(pod),
      labels: newPodLabels(pod),
      annotations: pod.annotations,
      linux: {
        cgroup_parent: podCgroupName(node, pod).literal,
        security_context: {
          namespace_options: namespaceOptions(pod),
          privileged: [...pod.initContainers, ...pod.containers].some((c) => c.securityContext?.privileged),
          seccomp_profile_path: 'runtime/default',
          seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' },
          ...(sc.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
          ...(sc.runAsGroup !== undefined ? { run_as_group: { value: sc.runAsGroup } } : {}),
          supplemental_groups: [...(sc.fsGroup !== undefined ? [sc.fsGroup] : []), ...(sc.supplementalGroups ?? [])],
          readonly_rootfs: false,
        },
        sysctls: Object.fromEntries((sc.sysctls ?? []).map((s) => [s.name, s.value])),
      },
    };
  },

  /** containerConfig is kuberuntime_container.go generateContainerConfig (1.22): the image by its ref only. */
  containerConfig(node, pod, c, inputs) {
    const opts = runOptions(node, pod, c, inputs.podIPs);
    ensureLogDir(buildPodLogsDirectory(node, pod) + `/${c.name}`);
    const tlog = terminationLogMount(opts, c);
    const config = {
      metadata: { name: c.name, attempt: inputs.restartCount },
      image: { image: inputs.imageRef, annotations: {} },
      command: c.command ?? [],
      args: c.args ?? [],
      working_dir: c.workingDir ?? '',
      envs: opts.envs,
      mounts: [...opts.mounts.map((m) => ({ ...m, selinux_relabel: false })), ...(tlog ? [{ ...tlog, selinux_relabel: false }] : [])],
      devices: opts.devices,
      labels: newContainerLabels(c, pod),
      annotations: newContainerAnnotations(c, pod, inputs.restartCount, opts.annotations),
      log_path: buildContainerLogsPath(c.name, inputs.restartCount),
      stdin: c.stdin ?? false,
      stdin_once: false,
      tty: c.tty ?? false,
      linux: { resources: linuxResources(node, pod, c), security_context: securityContext(node, pod, c, inputs) },
    };
    return { config, ...(tlog ? { terminationLog: tlog.host_path } : {}) };
  },

  linuxResources,

  /** imageSpec is images/image_manager.go EnsureImageExists' spec: default tag, the pod's annotations. */
  imageSpec(pod, c) {
    return { image: applyDefaultImageTag(c.image), annotations: pod.annotations };
  },

  /** imageIdOfContainer: 1.22's toKubeContainer takes ImageID from image_ref (v1alpha2 has no image_id). */
  imageIdOfContainer: (c) => c.image_ref as string,

  /** probeGracePeriod: ProbeTerminationGracePeriod is beta but off in 1.22, so a liveness kill uses the pod's. */
  probeGracePeriod: (pod) => pod.terminationGracePeriodSeconds,
};

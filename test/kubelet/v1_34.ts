// The CRI requests of a stock kubelet 1.34 (runtime.v1), field for field. Each function names the Go function of
// kubernetes v1.34 it mirrors (pkg/kubelet/kuberuntime unless said). Differences from 1.22: sandbox resources and
// overhead, memory.oom.group and swap through `unified` on cgroup v2, the 1.27 Memory QoS formula, seccomp and
// AppArmor as SecurityProfile fields, user_specified_image, image_id in ListContainers.
import { milliCPUToQuota, milliCPUToShares, podCgroupName } from './cm.js';
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
import { qosClass, requests, type AppArmorProfile, type Container, type Pod, type SeccompProfile } from './pod.js';
import { applyDefaultImageTag, hugepageLimits, MASKED_PATHS_1_22, oomScoreAdj, READONLY_PATHS, type ContainerInputs, type KubeletVersion } from './version.js';

/** PAGE is os.Getpagesize() (defaultPageSize), which the 1.27+ memory.high formula rounds to. */
const PAGE = 4096;

/**
 * calculateLinuxResources mirrors kuberuntime_container_linux.go calculateLinuxResources (1.34): shares from the
 * request (the limit when no request), the memory limit, CFS quota over 100 ms, and on cgroup v2 with
 * singleProcessOOMKill false (the default) `memory.oom.group` = "1".
 */
function calculateLinuxResources(node: KubeletNode, cpuRequest: number | undefined, cpuLimit: number, memoryLimit: number): Record<string, any> {
  const r: Record<string, any> = {
    cpu_shares: milliCPUToShares(cpuRequest ?? cpuLimit),
    memory_limit_in_bytes: memoryLimit,
    cpu_quota: milliCPUToQuota(cpuLimit, 100000),
    cpu_period: 100000,
    unified: {},
  };
  if (node.cgroupV2 && !(node.singleProcessOOMKill ?? false)) r.unified = { 'memory.oom.group': '1' };
  return r;
}

/**
 * swapBehavior mirrors GetContainerSwapBehavior: LimitedSwap only for Burstable, non-critical containers on cgroup
 * v2 that request memory below their limit, with NodeSwap and a swap controller; NoSwap otherwise.
 */
function swapBehavior(node: KubeletNode, pod: Pod, c: Container): 'NoSwap' | 'LimitedSwap' {
  if (node.swapBehavior !== 'LimitedSwap' || !node.nodeSwap || !node.swapControllerAvailable || !node.cgroupV2) return 'NoSwap';
  const req = requests(c).memory ?? 0;
  const lim = c.resources?.limits?.memory ?? 0;
  if (qosClass(pod) !== 'Burstable' || (req === 0 && lim === 0) || req === lim) return 'NoSwap';
  return 'LimitedSwap';
}

/** linuxResources is generateLinuxContainerResources (1.34) with configureContainerSwapResources and Memory QoS. */
function linuxResources(node: KubeletNode, pod: Pod, c: Container): Record<string, any> {
  const req = requests(c);
  const lim = c.resources?.limits ?? {};
  // `req` has the API server's defaulting (a missing request is the limit), as the kubelet reads it.
  const r = calculateLinuxResources(node, req.cpu, lim.cpu ?? 0, lim.memory ?? 0);
  r.oom_score_adj = oomScoreAdj(qosClass(pod), req.memory ?? 0, node.memoryCapacity);
  r.hugepage_limits = hugepageLimits(node, c);
  r.memory_swap_limit_in_bytes = 0;
  if (node.swapControllerAvailable) {
    if (swapBehavior(node, pod, c) === 'LimitedSwap') {
      r.unified['memory.swap.max'] = String(Math.trunc(((req.memory ?? 0) / node.memoryCapacity) * node.swapCapacity));
    } else if (node.cgroupV2) {
      r.unified['memory.swap.max'] = '0';
    } else {
      // ConfigureNoSwap on v1: memory+swap equal to memory (ignored when there is no memory limit).
      r.memory_swap_limit_in_bytes = r.memory_limit_in_bytes;
    }
  }
  if (node.memoryQoS && node.cgroupV2) {
    const request = req.memory ?? 0;
    const limit = lim.memory ?? 0;
    if (request !== 0) r.unified['memory.min'] = String(request);
    if (request !== limit) {
      const top = limit !== 0 ? limit : node.allocatableMemory;
      const high = Math.floor((request + (top - request) * 0.9) / PAGE) * PAGE;
      if (high !== 0 && high > request) r.unified['memory.high'] = String(high);
    }
  }
  return r;
}

/** seccomp is helpers.go fieldSeccompProfile/getSeccompProfile (1.34): SeccompDefault falls back to RuntimeDefault. */
function seccomp(p: SeccompProfile | undefined, fallback: boolean): Record<string, string> {
  if (!p) return { profile_type: fallback ? 'RuntimeDefault' : 'Unconfined', localhost_ref: '' };
  if (p.type === 'Localhost') return { profile_type: 'Localhost', localhost_ref: p.localhostProfile ?? '' };
  return { profile_type: p.type, localhost_ref: '' };
}

/**
 * appArmor is helpers.go getAppArmorProfile over security/apparmor GetProfile: the container's field, the pod's,
 * then the deprecated annotation; given as the SecurityProfile and as the deprecated string alike.
 */
function appArmor(pod: Pod, c: Container): { apparmor: Record<string, string> | null; apparmor_profile: string } {
  let p: AppArmorProfile | undefined = c.securityContext?.appArmorProfile;
  const ann = pod.annotations[`container.apparmor.security.beta.kubernetes.io/${c.name}`];
  if (!p && ann) p = ann === 'runtime/default' ? { type: 'RuntimeDefault' } : ann === 'unconfined' ? { type: 'Unconfined' } : { type: 'Localhost', localhostProfile: ann.replace(/^localhost\//, '') };
  if (!p) return { apparmor: null, apparmor_profile: '' };
  if (p.type === 'RuntimeDefault') return { apparmor: { profile_type: 'RuntimeDefault', localhost_ref: '' }, apparmor_profile: 'runtime/default' };
  if (p.type === 'Unconfined') return { apparmor: { profile_type: 'Unconfined', localhost_ref: '' }, apparmor_profile: 'unconfined' };
  return { apparmor: { profile_type: 'Localhost', localhost_ref: p.localhostProfile ?? '' }, apparmor_profile: `localhost/${p.localhostProfile ?? ''}` };
}

/** securityContext is security_context.go determineEffectiveSecurityContext (1.34). */
function securityContext(node: KubeletNode, pod: Pod, c: Container, inputs: ContainerInputs): Record<string, any> {
  const sc = c.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? pod.securityContext.runAsUser;
  const runAsGroup = sc.runAsGroup ?? pod.securityContext.runAsGroup;
  return {
    capabilities: sc.capabilities ? { add_capabilities: sc.capabilities.add ?? [], drop_capabilities: sc.capabilities.drop ?? [], add_ambient_capabilities: [] } : null,
    privileged: sc.privileged ?? false,
    namespace_options: namespaceOptions(pod),
    ...(runAsUser !== undefined ? { run_as_user: { value: runAsUser } } : inputs.user.uid !== undefined ? { run_as_user: { value: inputs.user.uid } } : {}),
    ...(runAsGroup !== undefined ? { run_as_group: { value: runAsGroup } } : {}),
    run_as_username: runAsUser === undefined ? inputs.user.username : '',
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    supplemental_groups: [...(pod.securityContext.fsGroup !== undefined ? [pod.securityContext.fsGroup] : []), ...(pod.securityContext.supplementalGroups ?? [])],
    seccomp: seccomp(sc.seccompProfile ?? pod.securityContext.seccompProfile, node.seccompDefault),
    ...appArmor(pod, c),
    no_new_privs: sc.allowPrivilegeEscalation === false,
    // defaultMaskedPaths gained /sys/devices/virtual/powercap in 1.31.
    masked_paths: [...MASKED_PATHS_1_22, '/sys/devices/virtual/powercap'],
    readonly_paths: READONLY_PATHS,
  };
}

/** KUBELET_1_34 is the 1.34 kubelet. */
export const KUBELET_1_34: KubeletVersion = {
  version: '1.34',
  api: 'v1',
  authority: () => 'localhost',
  asksRuntimeConfig: true,

  /**
   * sandboxConfig is kuberuntime_sandbox.go generatePodSandboxConfig, generatePodSandboxLinuxConfig and
   * kuberuntime_sandbox_linux.go applySandboxResources: the pod's summed requests and limits without overhead as
   * `resources` (calculateSandboxResources), the overhead as its own "guaranteed" resources.
   */
  sandboxConfig(node, pod, attempt) {
    const logDir = buildPodLogsDirectory(node, pod);
    ensureLogDir(logDir);
    const sc = pod.securityContext;
    const sum = (key: 'cpu' | 'memory', of: 'requests' | 'limits') => pod.containers.reduce((a, c) => a + ((of === 'requests' ? requests(c) : c.resources?.limits ?? {})[key] ?? 0), 0);
    const anyCpuRequest = pod.containers.some((c) => requests(c).cpu !== undefined);
    const ovh = pod.overhead;
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
          seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' },
          ...(sc.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
          ...(sc.runAsGroup !== undefined ? { run_as_group: { value: sc.runAsGroup } } : {}),
          supplemental_groups: [...(sc.fsGroup !== undefined ? [sc.fsGroup] : []), ...(sc.supplementalGroups ?? [])],
          readonly_rootfs: false,
        },
        sysctls: Object.fromEntries((sc.sysctls ?? []).map((s) => [s.name, s.value])),
        resources: calculateLinuxResources(node, anyCpuRequest ? sum('cpu', 'requests') : undefined, sum('cpu', 'limits'), sum('memory', 'limits')),
        overhead: ovh ? calculateLinuxResources(node, ovh.cpu ?? 0, ovh.cpu ?? 0, ovh.memory ?? 0) : {},
      },
    };
  },

  /** containerConfig is kuberuntime_container.go generateContainerConfig (1.34): image ref plus user_specified_image, CDI devices. */
  containerConfig(node, pod, c, inputs) {
    const opts = runOptions(node, pod, c, inputs.podIPs);
    ensureLogDir(buildPodLogsDirectory(node, pod) + `/${c.name}`);
    const tlog = terminationLogMount(opts, c);
    const mount = (m: (typeof opts.mounts)[number]) => ({ ...m, selinux_relabel: false, recursive_read_only: false, image: null, image_sub_path: '' });
    const config = {
      metadata: { name: c.name, attempt: inputs.restartCount },
      image: { image: inputs.imageRef, user_specified_image: c.image, annotations: {}, runtime_handler: '' },
      command: c.command ?? [],
      args: c.args ?? [],
      working_dir: c.workingDir ?? '',
      envs: opts.envs,
      mounts: [...opts.mounts.map(mount), ...(tlog ? [mount(tlog)] : [])],
      devices: opts.devices,
      CDI_devices: [],
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

  imageSpec(pod, c) {
    return { image: applyDefaultImageTag(c.image), annotations: pod.annotations, user_specified_image: '', runtime_handler: '' };
  },

  /** imageIdOfContainer: helpers.go toKubeContainer prefers image_id (added in 1.30) over image_ref. */
  imageIdOfContainer: (c) => ((c.image_id as string) || (c.image_ref as string)),

  /** probeGracePeriod: a liveness probe's own terminationGracePeriodSeconds wins (setTerminationGracePeriod). */
  probeGracePeriod: (pod, c) => c.livenessProbe?.terminationGracePeriodSeconds ?? pod.terminationGracePeriodSeconds,
};

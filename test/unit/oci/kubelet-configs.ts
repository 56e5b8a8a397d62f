// Builders of CRI configs shaped like the ones a kubelet sends, and of the facts services/ gathers, for the
// oci/ unit and golden tests. Every field of the domain types is filled so tests see what the wire gives.
import type {
  ContainerConfig,
  LinuxContainerResources,
  LinuxContainerSecurityContext,
  LinuxSandboxSecurityContext,
  Mount,
  NamespaceOption,
  PodSandboxConfig,
} from '../../../src/domain/cri-types.js';
import type { ContainerSpecInput, HostFacts, SandboxFacts, SandboxSpecInput } from '../../../src/oci/input.js';
import { capabilitiesFromMask } from '../../../src/oci/capabilities.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../../src/oci/opts/security.js';
import { expect } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';

export const BLOCK_CHMOD = '/var/lib/kubelet/seccomp/block-chmod.json';
export const BLOCK_HOSTNAME = '/var/lib/kubelet/seccomp/block-hostname.json';

/** HOST is this machine as the issue describes it: cgroup v1, cgroupfs, no CAP_SYS_RESOURCE, no AppArmor. */
export function host(over: Partial<HostFacts> = {}): HostFacts {
  return {
    cgroupMode: 'v1',
    capabilities: capabilitiesFromMask('000001fffeffffff'),
    minOomScoreAdj: 0,
    apparmorEnabled: false,
    swapAccounting: true,
    hugepageSizes: ['2MB', '1GB'],
    hostDevices: [
      { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { type: 'b', path: '/dev/loop0', major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
    ],
    resolvedDevices: {
      '/dev/fuse': { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      '/dev/loop0': { type: 'b', path: '/dev/loop0', major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
    },
    seccompProfiles: {
      [BLOCK_CHMOD]: JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] }),
      [BLOCK_HOSTNAME]: JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] }),
    },
    resolvedMountSources: {},
    arch: 'x86_64',
    onlineCpus: '0-3',
    onlineMems: '0',
    ...over,
  };
}

export function nsOptions(over: Partial<NamespaceOption> = {}): NamespaceOption {
  return { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: null, ...over };
}

export function sandboxSecurity(over: Partial<LinuxSandboxSecurityContext> = {}): LinuxSandboxSecurityContext {
  return {
    namespace_options: nsOptions(),
    selinux_options: null,
    run_as_user: null,
    readonly_rootfs: false,
    supplemental_groups: [],
    privileged: false,
    seccomp_profile_path: '',
    run_as_group: null,
    seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' },
    apparmor: null,
    supplemental_groups_policy: 'Merge',
    ...over,
  };
}

export function podConfig(over: Partial<PodSandboxConfig> = {}, security: Partial<LinuxSandboxSecurityContext> = {}, sysctls: Record<string, string> = {}): PodSandboxConfig {
  return {
    metadata: { name: 'web-7d4b9c', uid: '4f1c2a9e-0000-4000-8000-000000000001', namespace: 'default', attempt: 0 },
    hostname: 'web-7d4b9c',
    log_directory: '/var/log/pods/default_web-7d4b9c_4f1c2a9e-0000-4000-8000-000000000001',
    dns_config: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
    port_mappings: [],
    labels: { app: 'web', 'io.kubernetes.pod.name': 'web-7d4b9c' },
    annotations: { 'kubernetes.io/config.source': 'api' },
    linux: { cgroup_parent: '/kubepods/burstable/pod4f1c2a9e', security_context: sandboxSecurity(security), sysctls, overhead: null, resources: null },
    windows: null,
    ...over,
  };
}

export function resources(over: Partial<LinuxContainerResources> = {}): LinuxContainerResources {
  return {
    cpu_period: '0',
    cpu_quota: '0',
    cpu_shares: '2',
    memory_limit_in_bytes: '0',
    oom_score_adj: '1000',
    cpuset_cpus: '',
    cpuset_mems: '',
    hugepage_limits: [
      { page_size: '2MB', limit: '0' },
      { page_size: '1GB', limit: '0' },
    ],
    unified: {},
    memory_swap_limit_in_bytes: '0',
    ...over,
  };
}

export function security(over: Partial<LinuxContainerSecurityContext> = {}): LinuxContainerSecurityContext {
  return {
    capabilities: null,
    privileged: false,
    namespace_options: nsOptions(),
    selinux_options: null,
    run_as_user: null,
    run_as_username: '',
    readonly_rootfs: false,
    supplemental_groups: [],
    apparmor_profile: '',
    seccomp_profile_path: '',
    no_new_privs: false,
    run_as_group: null,
    masked_paths: [...DEFAULT_MASKED_PATHS].filter((p) => p !== '/sys/devices/virtual/powercap'),
    readonly_paths: [...DEFAULT_READONLY_PATHS],
    seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' },
    apparmor: null,
    supplemental_groups_policy: 'Merge',
    ...over,
  };
}

const POD_DIR = '/var/lib/kubelet/pods/4f1c2a9e-0000-4000-8000-000000000001';

/** kubeletMounts are the mounts the kubelet adds to every container: hosts file, termination log, token. */
export function kubeletMounts(): Mount[] {
  const m = (container_path: string, host_path: string, readonly: boolean): Mount => ({
    container_path,
    host_path,
    readonly,
    selinux_relabel: false,
    propagation: 'PROPAGATION_PRIVATE',
    uidMappings: [],
    gidMappings: [],
    recursive_read_only: false,
    image: null,
    image_sub_path: '',
  });
  return [
    m('/etc/hosts', `${POD_DIR}/etc-hosts`, false),
    m('/dev/termination-log', `${POD_DIR}/containers/app/0d1e2f3a`, false),
    m('/var/run/secrets/kubernetes.io/serviceaccount', `${POD_DIR}/volumes/kubernetes.io~projected/kube-api-access-x7k2p`, true),
  ];
}

export function containerConfig(over: Partial<ContainerConfig> = {}, sec: Partial<LinuxContainerSecurityContext> = {}, res: Partial<LinuxContainerResources> = {}): ContainerConfig {
  return {
    metadata: { name: 'app', attempt: 0 },
    image: { image: 'sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741', annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: '' },
    command: [],
    args: [],
    working_dir: '',
    envs: [
      { key: 'KUBERNETES_SERVICE_HOST', value: Buffer.from('10.96.0.1') },
      { key: 'KUBERNETES_SERVICE_PORT', value: Buffer.from('443') },
    ],
    mounts: kubeletMounts(),
    devices: [],
    labels: { 'io.kubernetes.container.name': 'app', 'io.kubernetes.pod.name': 'web-7d4b9c' },
    annotations: { 'io.kubernetes.container.restartCount': '0', 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
    log_path: 'app/0.log',
    stdin: false,
    stdin_once: false,
    tty: false,
    linux: { resources: resources(res), security_context: security(sec) },
    windows: null,
    CDI_devices: [],
    stop_signal: 'RUNTIME_DEFAULT',
    ...over,
  };
}

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx user:/var/cache/nginx:/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n';
export const GROUP = 'root:x:0:\nnginx:x:101:\napp:x:1000:\nwww-data:x:33:nginx,app\naudio:x:29:app\n';

export function sandboxFacts(config: PodSandboxConfig = podConfig(), over: Partial<SandboxFacts> = {}): SandboxFacts {
  return {
    id: 'b7e0c2d4a1f94c3e8d2b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d',
    config,
    infraPid: 4242,
    netnsPath: '/run/fune/netns/cni-5f8e6f4a-1b2c-3d4e-5f60-718293a4b5c6',
    hostname: config.hostname,
    resolvPath: '/var/lib/fune/sandboxes/b7e0c2d4/resolv.conf',
    hostsPath: '/var/lib/fune/sandboxes/b7e0c2d4/hosts',
    hostnamePath: '/var/lib/fune/sandboxes/b7e0c2d4/hostname',
    shmPath: '/run/fune/sandboxes/b7e0c2d4/shm',
    ...over,
  };
}

export function containerInput(config: ContainerConfig = containerConfig(), over: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  const input: ContainerSpecInput = {
    id: 'c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5',
    config,
    image: {
      user: '',
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NGINX_VERSION=1.25.3'],
      entrypoint: ['/docker-entrypoint.sh'],
      cmd: ['nginx', '-g', 'daemon off;'],
      workingDir: '',
      stopSignal: 'SIGQUIT',
    },
    passwd: [],
    group: [],
    sandbox: sandboxFacts(),
    host: host(),
    rootfs: '/var/lib/fune/containers/c0ffee00/rootfs',
    seccompDefault: false,
    cgroupsPath: '',
    ...over,
  };
  // As the cgroupfs placement names it, under the pod's parent (over.cgroupsPath wins).
  return { ...input, cgroupsPath: over.cgroupsPath ?? `${input.sandbox.config.linux?.cgroup_parent || '/fune'}/${input.id}` };
}

export function sandboxInput(config: PodSandboxConfig = podConfig(), over: Partial<SandboxSpecInput> = {}): SandboxSpecInput {
  return {
    id: 'b7e0c2d4a1f94c3e8d2b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d',
    config,
    host: host(),
    rootfs: '/run/fune/sandboxes/b7e0c2d4/rootfs',
    args: ['/catatonit', '-P'],
    infraBinary: '/usr/bin/catatonit',
    netnsPath: '/run/fune/netns/cni-5f8e6f4a-1b2c-3d4e-5f60-718293a4b5c6',
    cgroupsPath: `${config.linux?.cgroup_parent || '/fune'}/b7e0c2d4a1f94c3e8d2b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d`,
    shmPath: '/run/fune/sandboxes/b7e0c2d4/shm',
    seccompDefault: false,
    ...over,
  };
}

/** refusal runs fn and gives the RuntimeError it throws (a test failure when it throws anything else, or nothing). */
export function refusal(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return e as RuntimeError;
  }
  throw new Error('expected a refusal');
}

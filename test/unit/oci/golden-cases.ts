// The representative configs behind test/fixtures/oci/*.json, each with direct checks of its key fields.
import { expect } from 'vitest';
import type { ContainerSpecInput, SandboxSpecInput } from '../../../src/oci/input.js';
import { parseGroup, parsePasswd } from '../../../src/oci/passwd.js';
import type { Spec } from '../../../src/oci/spec.js';
import { cgroupTree } from '../../../src/runtime/cgroups.js';
import { SystemdPlacement } from '../../../src/runtime/placement/index.js';
import { FakeSystemdBus } from '../../helpers/fake-systemd-bus.js';
import {
  BLOCK_CHMOD,
  BLOCK_HOSTNAME,
  containerConfig,
  containerInput,
  GROUP,
  host,
  nsOptions,
  PASSWD,
  podConfig,
  sandboxFacts,
  sandboxInput,
} from './kubelet-configs.js';

type Case =
  | { kind: 'container'; name: string; about: string; input: () => ContainerSpecInput; check?: (s: Spec) => void }
  | { kind: 'sandbox'; name: string; about: string; input: () => SandboxSpecInput; check?: (s: Spec) => void };

const MiB = 1024 * 1024;
const names = (s: Spec): string[] => (s.linux?.seccomp?.syscalls ?? []).flatMap((r) => r.names);
const privilegedPod = podConfig({}, { privileged: true });
const guaranteedPod = podConfig();
guaranteedPod.linux!.cgroup_parent = '/kubepods/pod4f1c2a9e';
const bestEffortPod = podConfig();
bestEffortPod.linux!.cgroup_parent = '/kubepods/besteffort/pod4f1c2a9e';


const systemdPlacement = () => new SystemdPlacement(cgroupTree('v2'), new FakeSystemdBus());

export const GOLDEN_CASES: Case[] = [
  {
    kind: 'container',
    name: 'guaranteed',
    about: 'Guaranteed pod, 2 exclusive cpus, 256Mi, RuntimeDefault, run as 1000:3000, read-only rootfs',
    input: () =>
      containerInput(
        containerConfig(
          { command: ['/bin/server'], args: ['--port=8080'] },
          { run_as_user: { value: '1000' }, run_as_group: { value: '3000' }, supplemental_groups: ['2000'], readonly_rootfs: true, no_new_privs: true },
          { cpu_period: '100000', cpu_quota: '200000', cpu_shares: '2048', memory_limit_in_bytes: String(256 * MiB), oom_score_adj: '-997', cpuset_cpus: '2-3' },
        ),
        { passwd: parsePasswd(PASSWD), group: parseGroup(GROUP), sandbox: sandboxFacts(guaranteedPod) },
      ),
    check: (s) => {
      expect(s.process?.args).toEqual(['/bin/server', '--port=8080']);
      expect(s.process?.user).toEqual({ uid: 1000, gid: 3000, additionalGids: [3000, 33, 29, 2000] });
      expect(s.process?.env).toContain('HOME=/home/app');
      expect(s.root?.readonly).toBe(true);
      expect(s.process?.noNewPrivileges).toBe(true);
      expect(s.process?.oomScoreAdj).toBe(0); // -997 clamped: no CAP_SYS_RESOURCE here
      expect(s.linux?.resources?.cpu).toEqual({ shares: 2048, quota: 200000, period: 100000, cpus: '2-3' });
      expect(s.linux?.resources?.memory).toEqual({ limit: 256 * MiB, swap: 256 * MiB });
      expect(s.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
      expect(s.linux?.cgroupsPath).toMatch(/^\/kubepods\/pod4f1c2a9e\/c0ffee/);
    },
  },
  {
    kind: 'container',
    name: 'burstable',
    about: 'Burstable pod, 250m/500m cpu, 512Mi limit, swap unset (LimitedSwap default = no swap)',
    input: () =>
      containerInput(containerConfig({}, {}, { cpu_period: '100000', cpu_quota: '50000', cpu_shares: '256', memory_limit_in_bytes: String(512 * MiB), oom_score_adj: '968' })),
    check: (s) => {
      expect(s.process?.args).toEqual(['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']);
      expect(s.linux?.resources?.memory).toEqual({ limit: 512 * MiB, swap: 512 * MiB });
      expect(s.process?.oomScoreAdj).toBe(968);
      expect(s.process?.user).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
    },
  },
  {
    kind: 'container',
    name: 'besteffort',
    about: 'BestEffort pod: shares 2, no limits, explicit Unconfined seccomp (kubelet without SeccompDefault)',
    input: () => containerInput(containerConfig({}, { seccomp: { profile_type: 'Unconfined', localhost_ref: '' } }), { sandbox: sandboxFacts(bestEffortPod) }),
    check: (s) => {
      expect(s.linux?.resources?.cpu).toEqual({ shares: 2 });
      expect(s.linux?.resources?.memory).toBeUndefined();
      expect(s.linux?.seccomp).toBeUndefined();
      expect(s.process?.oomScoreAdj).toBe(1000);
    },
  },
  {
    kind: 'container',
    name: 'swap-equal',
    about: 'swap limit equal to the memory limit (no swap above memory)',
    input: () => containerInput(containerConfig({}, {}, { memory_limit_in_bytes: String(128 * MiB), memory_swap_limit_in_bytes: String(128 * MiB) })),
    check: (s) => expect(s.linux?.resources?.memory).toEqual({ limit: 128 * MiB, swap: 128 * MiB }),
  },
  {
    kind: 'container',
    name: 'swap-unlimited',
    about: 'UnlimitedSwap: swap limit -1',
    input: () => containerInput(containerConfig({}, {}, { memory_limit_in_bytes: String(128 * MiB), memory_swap_limit_in_bytes: '-1' })),
    check: (s) => expect(s.linux?.resources?.memory).toEqual({ limit: 128 * MiB, swap: -1 }),
  },
  {
    kind: 'container',
    name: 'swap-larger',
    about: 'swap limit larger than memory: memory+swap passed through as the OCI sum',
    input: () => containerInput(containerConfig({}, {}, { memory_limit_in_bytes: String(128 * MiB), memory_swap_limit_in_bytes: String(192 * MiB) })),
    check: (s) => expect(s.linux?.resources?.memory).toEqual({ limit: 128 * MiB, swap: 192 * MiB }),
  },
  {
    kind: 'container',
    name: 'unified-v2',
    about: 'Memory QoS on a cgroup v2 host: memory.min and memory.high in linux.resources.unified, cgroup namespace',
    input: () =>
      containerInput(
        containerConfig({}, {}, { memory_limit_in_bytes: String(512 * MiB), unified: { 'memory.min': String(128 * MiB), 'memory.high': String(460 * MiB) } }),
        { host: host({ cgroupMode: 'v2', hugepageSizes: ['2MB', '1GB'] }) },
      ),
    check: (s) => {
      expect(s.linux?.resources?.unified).toEqual({ 'memory.high': String(460 * MiB), 'memory.min': String(128 * MiB) });
      expect(s.linux?.resources?.memory).toEqual({ limit: 512 * MiB, swap: 512 * MiB });
      expect(s.linux?.namespaces).toContainEqual({ type: 'cgroup' });
    },
  },
  {
    kind: 'container',
    name: 'hugepages',
    about: 'hugepages of 2Mi (4 pages) and 1Gi (1 page)',
    input: () =>
      containerInput(
        containerConfig({}, {}, {
          memory_limit_in_bytes: String(64 * MiB),
          hugepage_limits: [
            { page_size: '2MB', limit: String(8 * MiB) },
            { page_size: '1GB', limit: String(1024 * MiB) },
          ],
        }),
      ),
    check: (s) =>
      expect(s.linux?.resources?.hugepageLimits).toEqual([
        { pageSize: '2MB', limit: 8 * MiB },
        { pageSize: '1GB', limit: 1024 * MiB },
      ]),
  },
  {
    kind: 'container',
    name: 'cpuset',
    about: 'cpuset cpus and mems, written back in canonical form',
    input: () => containerInput(containerConfig({}, {}, { cpuset_cpus: '0-1,3,2', cpuset_mems: '0' })),
    check: (s) => {
      expect(s.linux?.resources?.cpu?.cpus).toBe('0-3');
      expect(s.linux?.resources?.cpu?.mems).toBe('0');
    },
  },
  {
    kind: 'container',
    name: 'privileged',
    about: 'privileged container: fune bounding caps, host devices, no masks, rw sysfs, no seccomp whatever is asked',
    input: () =>
      containerInput(containerConfig({}, { privileged: true, seccomp_profile_path: `localhost/${BLOCK_HOSTNAME}`, seccomp: null }), {
        sandbox: sandboxFacts(privilegedPod),
      }),
    check: (s) => {
      expect(s.process?.capabilities?.bounding).toContain('CAP_SYS_ADMIN');
      expect(s.process?.capabilities?.bounding).not.toContain('CAP_SYS_RESOURCE');
      expect(s.process?.capabilities?.bounding).toHaveLength(40);
      expect(s.linux?.seccomp).toBeUndefined();
      expect(s.linux?.maskedPaths).toEqual([]);
      expect(s.linux?.readonlyPaths).toEqual([]);
      expect(s.linux?.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
      expect(s.linux?.devices?.map((d) => d.path)).toEqual(['/dev/fuse', '/dev/loop0']);
      expect(s.mounts?.find((m) => m.destination === '/sys')?.options).toContain('rw');
      expect(s.mounts?.find((m) => m.destination === '/sys/fs/cgroup')?.options).not.toContain('ro');
    },
  },
  {
    kind: 'container',
    name: 'seccomp-runtime-default-sys-admin',
    about: 'RuntimeDefault with CAP_SYS_ADMIN added: the admin syscalls, unrestricted clone, no clone3 ENOSYS rule',
    input: () => containerInput(containerConfig({}, { capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } })),
    check: (s) => {
      expect(names(s)).toContain('sethostname');
      expect(s.linux?.seccomp?.syscalls?.find((r) => r.names.includes('clone3'))?.action).toBe('SCMP_ACT_ALLOW');
      expect(s.linux?.seccomp?.syscalls?.some((r) => r.names[0] === 'clone' && r.args)).toBe(false);
    },
  },
  {
    kind: 'container',
    name: 'seccomp-docker-default',
    about: 'deprecated string docker/default = RuntimeDefault without CAP_SYS_ADMIN',
    input: () => containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: 'docker/default' })),
    check: (s) => {
      expect(names(s)).not.toContain('sethostname');
      expect(s.linux?.seccomp?.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
      expect(s.linux?.seccomp?.syscalls).toContainEqual({
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      });
      expect(s.linux?.seccomp?.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    },
  },
  {
    kind: 'container',
    name: 'seccomp-localhost-string',
    about: 'deprecated string localhost/<path>: the profile file as given',
    input: () => containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: `localhost/${BLOCK_CHMOD}` })),
    check: (s) =>
      expect(s.linux?.seccomp).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] }),
  },
  {
    kind: 'container',
    name: 'seccomp-localhost-field',
    about: 'SecurityProfile Localhost with localhost_ref',
    input: () => containerInput(containerConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: BLOCK_HOSTNAME } })),
    check: (s) => expect(s.linux?.seccomp?.syscalls).toEqual([{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }]),
  },
  {
    kind: 'container',
    name: 'seccomp-unconfined-string',
    about: 'deprecated string unconfined, and no AppArmor on this host',
    input: () => containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: 'unconfined', apparmor_profile: 'runtime/default' })),
    check: (s) => {
      expect(s.linux?.seccomp).toBeUndefined();
      expect(s.process?.apparmorProfile).toBeUndefined();
    },
  },
  {
    kind: 'container',
    name: 'seccomp-default-config',
    about: 'nothing set and seccomp_default on: RuntimeDefault',
    input: () => containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: '' }), { seccompDefault: true }),
    check: (s) => expect(s.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO'),
  },
  {
    kind: 'container',
    name: 'apparmor-runtime-default',
    about: 'AppArmor host with fune-default loaded: RuntimeDefault via the SecurityProfile field',
    input: () =>
      containerInput(containerConfig({}, { apparmor: { profile_type: 'RuntimeDefault', localhost_ref: '' } }), {
        host: host({ apparmorEnabled: true, apparmorDefaultProfile: 'fune-default' }),
      }),
    check: (s) => expect(s.process?.apparmorProfile).toBe('fune-default'),
  },
  {
    kind: 'container',
    name: 'apparmor-localhost',
    about: 'AppArmor host: deprecated localhost/<name> string',
    input: () => containerInput(containerConfig({}, { apparmor_profile: 'localhost/k8s-nginx' }), { host: host({ apparmorEnabled: true }) }),
    check: (s) => expect(s.process?.apparmorProfile).toBe('k8s-nginx'),
  },
  {
    kind: 'container',
    name: 'apparmor-unconfined',
    about: 'AppArmor host: Unconfined via the SecurityProfile field',
    input: () =>
      containerInput(containerConfig({}, { apparmor: { profile_type: 'Unconfined', localhost_ref: '' } }), {
        host: host({ apparmorEnabled: true, apparmorDefaultProfile: 'fune-default' }),
      }),
    check: (s) => expect(s.process?.apparmorProfile).toBeUndefined(),
  },
  {
    kind: 'container',
    name: 'ephemeral-target',
    about: 'ephemeral debug container in the TARGET pid namespace, with its own security context',
    input: () =>
      containerInput(
        containerConfig(
          { command: ['sh'], tty: true, stdin: true, mounts: [] },
          { namespace_options: nsOptions({ pid: 'TARGET', target_id: 'f00dfeed' }), capabilities: { add_capabilities: ['SYS_PTRACE'], drop_capabilities: [], add_ambient_capabilities: [] } },
        ),
        { targetPid: 5151 },
      ),
    check: (s) => {
      expect(s.linux?.namespaces).toContainEqual({ type: 'pid', path: '/proc/5151/ns/pid' });
      expect(s.process?.terminal).toBe(true);
      expect(names(s)).toContain('ptrace');
      expect(s.process?.capabilities?.bounding).toContain('CAP_SYS_PTRACE');
    },
  },
  {
    kind: 'container',
    name: 'host-namespaces',
    about: 'hostNetwork, hostPID, hostIPC: no network/uts/pid/ipc namespaces, host /dev/shm, an mqueue of the host IPC namespace',
    input: () =>
      containerInput(containerConfig({}, { namespace_options: nsOptions({ network: 'NODE', pid: 'NODE', ipc: 'NODE' }) }), {
        sandbox: sandboxFacts(podConfig({}, { namespace_options: nsOptions({ network: 'NODE', pid: 'NODE', ipc: 'NODE' }) })),
      }),
    check: (s) => {
      expect(s.linux?.namespaces).toEqual([{ type: 'mount' }]);
      expect(s.mounts?.find((m) => m.destination === '/dev/shm')?.source).toBe('/dev/shm');
      // Not a bind of the host's /dev/mqueue, which a host may not have mounted.
      expect(s.mounts?.find((m) => m.destination === '/dev/mqueue')).toMatchObject({ type: 'mqueue', source: 'mqueue' });
    },
  },
  {
    kind: 'container',
    name: 'devices-systemd',
    about: 'a host device with read-write permissions, the systemd cgroup driver, a HOST_TO_CONTAINER mount',
    input: () => {
      const config = containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: '/dev/fuse', permissions: 'rw' }] });
      config.mounts.push({ ...config.mounts[0]!, container_path: '/data', host_path: '/mnt/data', propagation: 'PROPAGATION_HOST_TO_CONTAINER' });
      const pod = podConfig();
      pod.linux!.cgroup_parent = 'kubepods-burstable-pod4f1c2a9e.slice';
      const input = containerInput(config, { sandbox: sandboxFacts(pod) });
      // The systemd placement names the cgroup; oci/ writes what it is given.
      return { ...input, cgroupsPath: systemdPlacement().cgroupsPath(systemdPlacement().podParent(pod.linux!.cgroup_parent, pod.metadata!.uid), input.id) };
    },
    check: (s) => {
      expect(s.linux?.cgroupsPath).toBe('kubepods-burstable-pod4f1c2a9e.slice:fune:c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5');
      expect(s.linux?.devices).toEqual([{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
      expect(s.linux?.resources?.devices?.at(-1)).toEqual({ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
      expect(s.linux?.rootfsPropagation).toBe('rslave');
    },
  },
  {
    kind: 'sandbox',
    name: 'sandbox',
    about: 'infra container of a pod with sysctls: catatonit bind-mounted, new namespaces, RuntimeDefault',
    input: () => sandboxInput(podConfig({}, {}, { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_unprivileged_port_start': '0' })),
    check: (s) => {
      expect(s.process?.args).toEqual(['/catatonit', '-P']);
      expect(s.mounts).toContainEqual({ destination: '/catatonit', type: 'bind', source: '/usr/bin/catatonit', options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
      expect(s.root).toEqual({ path: '/run/fune/sandboxes/b7e0c2d4/rootfs', readonly: true });
      expect(s.hostname).toBe('web-7d4b9c');
      expect(s.linux?.sysctl).toEqual({ 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_unprivileged_port_start': '0' });
      expect(s.linux?.namespaces).toEqual([
        { type: 'mount' },
        { type: 'network', path: '/run/fune/netns/cni-5f8e6f4a-1b2c-3d4e-5f60-718293a4b5c6' },
        { type: 'uts' },
        { type: 'ipc' },
        { type: 'pid' },
      ]);
      expect(s.process?.oomScoreAdj).toBe(0);
      expect(s.linux?.resources?.cpu).toEqual({ shares: 2 });
    },
  },
  {
    kind: 'sandbox',
    name: 'sandbox-host-network',
    about: 'infra container of a hostNetwork pod with a Localhost seccomp profile and a machine that may lower scores',
    input: () =>
      sandboxInput(podConfig({}, { namespace_options: nsOptions({ network: 'NODE' }), seccomp: { profile_type: 'Localhost', localhost_ref: BLOCK_CHMOD } }), {
        netnsPath: undefined,
        host: host({ minOomScoreAdj: -1000 }),
      }),
    check: (s) => {
      expect(s.hostname).toBeUndefined();
      expect(s.linux?.namespaces?.map((n) => n.type)).toEqual(['mount', 'ipc', 'pid']);
      expect(s.process?.oomScoreAdj).toBe(-998);
    },
  },
];


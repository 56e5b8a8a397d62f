// Every bad input the issue lists gives a RuntimeError of the right kind with a message that names the problem.
import { describe, expect, it } from 'vitest';
import { RuntimeError, type ErrorKind } from '../../../src/errors/index.js';
import { buildContainerSpec } from '../../../src/oci/build-container-spec.js';
import { buildSandboxSpec } from '../../../src/oci/build-sandbox-spec.js';
import { resourcesToOci, validateContainerResources } from '../../../src/oci/opts/resources.js';
import { validateCriMounts } from '../../../src/oci/opts/mounts.js';
import { containerConfig, containerInput, host, kubeletMounts, nsOptions, podConfig, resources, sandboxFacts, sandboxInput } from './kubelet-configs.js';

function failure(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return err as RuntimeError;
  }
  throw new Error('expected a RuntimeError, got a result');
}

function expectError(fn: () => unknown, kind: ErrorKind, message: RegExp): void {
  const err = failure(fn);
  expect(err.kind).toBe(kind);
  expect(err.message).toMatch(message);
}

describe('invalid cpusets are InvalidArgument before anything is built', () => {
  it.each(['1--3', '10-6', '1,,2', '-1', '1-', ',', '0x1', ' 1', '1-3-5'])('cpuset_cpus %j', (cpus) => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, {}, { cpuset_cpus: cpus }))), 'InvalidArgument', /cpuset_cpus: invalid cpuset/);
  });
  it.each(['1--3', '10-6', '-1'])('cpuset_mems %j, also through validateContainerResources', (mems) => {
    expectError(() => validateContainerResources(resources({ cpuset_mems: mems }), host()), 'InvalidArgument', /cpuset_mems: invalid cpuset/);
  });
});

describe('other bad container input', () => {
  it('unknown capability', () => {
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, { capabilities: { add_capabilities: ['NET_FLY'], drop_capabilities: [], add_ambient_capabilities: [] } }))),
      'InvalidArgument',
      /unknown capability "NET_FLY"/,
    );
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, { capabilities: { add_capabilities: [], drop_capabilities: ['CAP_BOGUS'], add_ambient_capabilities: [] } }))),
      'InvalidArgument',
      /unknown capability "CAP_BOGUS"/,
    );
  });
  it('a capability fune does not hold', () => {
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, { capabilities: { add_capabilities: ['SYS_RESOURCE'], drop_capabilities: [], add_ambient_capabilities: [] } }))),
      'FailedPrecondition',
      /CAP_SYS_RESOURCE .*bounding set/,
    );
  });
  it('run_as_group without a user', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { run_as_group: { value: '3000' } }))), 'InvalidArgument', /run_as_group is set without run_as_user/);
  });
  it('run_as_username not in the image', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { run_as_username: 'ghost' }))), 'InvalidArgument', /no user "ghost"/);
  });
  it('missing Localhost seccomp profile, in both forms', () => {
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: '/nope.json' } }))),
      'InvalidArgument',
      /seccomp profile \/nope.json not found/,
    );
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: 'localhost//nope.json' }))),
      'InvalidArgument',
      /not found/,
    );
  });
  it('invalid Localhost seccomp profile file', () => {
    const h = host({ seccompProfiles: { '/bad.json': '{"defaultAction": 42}', '/broken.json': '{' } });
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: '/bad.json' } }), { host: h })), 'InvalidArgument', /no valid defaultAction/);
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: '/broken.json' } }), { host: h })), 'InvalidArgument', /not valid JSON/);
  });
  it('a seccomp path without the localhost/ prefix (critest)', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { seccomp: null, seccomp_profile_path: '/tmp/block-chmod.json' }))), 'InvalidArgument', /invalid seccomp profile/);
  });
  it('a localhost_ref with a non-Localhost type', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '/x.json' } }))), 'InvalidArgument', /localhost_ref/);
  });
  it('an unknown AppArmor string', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { apparmor_profile: 'strict' }))), 'InvalidArgument', /invalid AppArmor profile "strict"/);
  });
  it('a non-empty unified map on cgroup v1 is FailedPrecondition', () => {
    expectError(
      () => buildContainerSpec(containerInput(containerConfig({}, {}, { unified: { 'memory.min': '1048576' } }))),
      'FailedPrecondition',
      /unified cgroup settings \(memory.min\) need a cgroup v2 host/,
    );
  });
  it.each(['cgroup.procs', 'cgroup.subtree_control', 'cgroup.kill', 'cgroup.freeze'])('unified %s, a core interface file, is InvalidArgument on v2', (key) => {
    expectError(() => resourcesToOci(resources({ unified: { 'memory.min': '1048576', [key]: '1' } }), host({ cgroupMode: 'v2' })), 'InvalidArgument', new RegExp(`"${key.replace('.', '\\.')}" is a cgroup core interface file`));
  });
  it('swap below memory, swap without memory, negative swap', () => {
    expectError(() => resourcesToOci(resources({ memory_limit_in_bytes: '20000000', memory_swap_limit_in_bytes: '10000000' }), host()), 'InvalidArgument', /cannot be lower than memory_limit_in_bytes/);
    expectError(() => resourcesToOci(resources({ memory_swap_limit_in_bytes: '1000000' }), host()), 'InvalidArgument', /needs a memory limit/);
    expectError(() => resourcesToOci(resources({ memory_swap_limit_in_bytes: '-2' }), host()), 'InvalidArgument', /only -1/);
  });
  it('numbers that are not numbers or out of range', () => {
    expectError(() => resourcesToOci(resources({ cpu_shares: 'lots' }), host()), 'InvalidArgument', /cpu_shares: "lots" is not an integer/);
    expectError(() => resourcesToOci(resources({ memory_limit_in_bytes: '-5' }), host()), 'InvalidArgument', /may not be negative/);
    expectError(() => resourcesToOci(resources({ cpu_period: '10' }), host()), 'InvalidArgument', /cpu_period/);
    expectError(() => validateContainerResources(resources({ oom_score_adj: '1001' }), host()), 'InvalidArgument', /oom_score_adj/);
  });
  it('a hugepage size the host does not have', () => {
    expectError(() => resourcesToOci(resources({ hugepage_limits: [{ page_size: '16GB', limit: '17179869184' }] }), host()), 'InvalidArgument', /page size 16GB is not supported/);
    expectError(() => resourcesToOci(resources({ hugepage_limits: [{ page_size: '2M', limit: '0' }] }), host()), 'InvalidArgument', /invalid page size/);
  });
  it('an unknown device and bad permissions', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({ devices: [{ host_path: '/dev/nope', container_path: '/dev/nope', permissions: 'rw' }] }))), 'InvalidArgument', /device "\/dev\/nope" does not exist/);
    expectError(() => buildContainerSpec(containerInput(containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: '/dev/fuse', permissions: 'rwx' }] }))), 'InvalidArgument', /invalid permissions "rwx"/);
  });
  it('a relative or escaping mount path', () => {
    const config = containerConfig();
    config.mounts = [{ ...config.mounts[0]!, container_path: 'etc/x' }];
    expectError(() => buildContainerSpec(containerInput(config)), 'InvalidArgument', /not an absolute path/);
    config.mounts = [{ ...config.mounts[0]!, container_path: '/a/../../x' }];
    expectError(() => buildContainerSpec(containerInput(config)), 'InvalidArgument', /may not contain/);
  });
  it('no command anywhere', () => {
    const input = containerInput();
    input.image = { env: [] };
    expectError(() => buildContainerSpec(input), 'InvalidArgument', /no command specified/);
  });
  it('a privileged container in an unprivileged pod', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { privileged: true }))), 'InvalidArgument', /privileged container cannot run in a pod sandbox that is not privileged/);
  });
  it('TARGET without a running target', () => {
    expectError(() => buildContainerSpec(containerInput(containerConfig({}, { namespace_options: nsOptions({ pid: 'TARGET', target_id: 'abc' }) }))), 'FailedPrecondition', /target container abc/);
  });
});

describe('bad sysctls', () => {
  it.each([
    ['kernel.hostname', /not namespaced/],
    ['vm.swappiness', /not namespaced/],
    ['kernel.panic', /not namespaced/],
    ['net', /invalid sysctl name/],
  ])('%s', (name, message) => {
    expectError(() => buildSandboxSpec(sandboxInput(podConfig({}, {}, { [name]: '1' }))), 'InvalidArgument', message);
  });
  it('net.* with the host network, IPC sysctls with the host IPC namespace', () => {
    expectError(
      () => buildSandboxSpec(sandboxInput(podConfig({}, { namespace_options: nsOptions({ network: 'NODE' }) }, { 'net.ipv4.ip_forward': '1' }))),
      'InvalidArgument',
      /net.ipv4.ip_forward needs the pod's own network namespace/,
    );
    expectError(
      () => buildSandboxSpec(sandboxInput(podConfig({}, { namespace_options: nsOptions({ ipc: 'NODE' }) }, { 'kernel.shm_rmid_forced': '1' }))),
      'InvalidArgument',
      /own IPC namespace/,
    );
  });
  it('a sandbox with a missing Localhost seccomp profile', () => {
    expectError(() => buildSandboxSpec(sandboxInput(podConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: '/gone.json' } }))), 'InvalidArgument', /not found/);
  });
  it('a container joining a sandbox without an infra process', () => {
    expectError(() => buildContainerSpec(containerInput(undefined, { sandbox: sandboxFacts(undefined, { infraPid: 0, netnsPath: undefined }) })), 'FailedPrecondition', /no running infra process/);
  });
});

describe('bad recursive read-only mounts', () => {
  const rroMount = (over: Partial<ReturnType<typeof kubeletMounts>[number]>) => ({ ...kubeletMounts()[2]!, recursive_read_only: true, readonly: true, ...over });
  const rroHost = host({ recursiveReadOnlyMounts: true });
  it.each([
    ['readonly false', { readonly: false }, 'InvalidArgument', /recursive_read_only needs readonly/],
    ['HOST_TO_CONTAINER', { propagation: 'PROPAGATION_HOST_TO_CONTAINER' as const }, 'InvalidArgument', /needs PROPAGATION_PRIVATE, not PROPAGATION_HOST_TO_CONTAINER/],
    ['BIDIRECTIONAL', { propagation: 'PROPAGATION_BIDIRECTIONAL' as const }, 'InvalidArgument', /needs PROPAGATION_PRIVATE, not PROPAGATION_BIDIRECTIONAL/],
    ['readonly false and BIDIRECTIONAL', { readonly: false, propagation: 'PROPAGATION_BIDIRECTIONAL' as const }, 'InvalidArgument', /needs readonly/],
  ] as const)('%s', (_name, over, kind, message) => {
    const cfg = containerConfig({ mounts: [rroMount(over)] });
    expectError(() => buildContainerSpec(containerInput(cfg, { host: rroHost })), kind, message);
    expectError(() => validateCriMounts(cfg.mounts, true), kind, message);
  });
  it('on a node that cannot make them (runc without rro, kernel before 5.12): FailedPrecondition', () => {
    const cfg = containerConfig({ mounts: [rroMount({})] });
    expectError(() => buildContainerSpec(containerInput(cfg, { host: host({ recursiveReadOnlyMounts: false }) })), 'FailedPrecondition', /not possible on this node/);
    expectError(() => validateCriMounts(cfg.mounts, false), 'FailedPrecondition', /not possible on this node/);
  });
});

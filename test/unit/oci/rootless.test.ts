// Spec building on a node inside a user namespace (NodeRules "userns"): device nodes become bind mounts of the
// host's nodes, limits that need a controller fune was not delegated are refused, AppArmor is not applied,
// oom_score_adj is clamped to the lowest score fune may set.
import { describe, expect, it } from 'vitest';
import { buildContainerSpec, buildSandboxSpec, deviceBindMounts, resourcesToOci } from '../../../src/oci/index.js';
import { containerConfig, containerInput, host, podConfig, resources, sandboxFacts, sandboxInput, refusal } from './kubelet-configs.js';

const devices = {
  '/dev/fuse': { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
};
const hostDevices = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3 },
  { type: 'b', path: '/dev/vda', major: 254, minor: 0 },
];
const userns = host({ deviceNodes: 'bind', hostNamespaceMounts: 'bind', podFileBindOptions: ['nosuid', 'nodev', 'noexec'], delegatedControllers: ['cpu', 'memory', 'pids'], resolvedDevices: devices, hostDevices, apparmorEnabled: false, minOomScoreAdj: 200 });

describe('device nodes inside a user namespace', () => {
  it('a CRI device is a bind mount of its host path at its container path; no linux.devices; the cgroup rule stays', () => {
    const cfg = containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: '/dev/myfuse', permissions: 'rw' }] });
    const spec = buildContainerSpec(containerInput(cfg, { host: userns }));
    expect(spec.linux!.devices).toBeUndefined();
    expect(spec.mounts).toContainEqual({ destination: '/dev/myfuse', type: 'bind', source: '/dev/fuse', options: ['bind', 'nosuid', 'noexec'] });
    expect(spec.linux!.resources!.devices).toContainEqual({ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
    // After /dev itself, so the binds land in the container's /dev tmpfs.
    const at = (d: string) => spec.mounts!.findIndex((m) => m.destination === d);
    expect(at('/dev/myfuse')).toBeGreaterThan(at('/dev'));
  });

  it('a privileged container and pod get the host\'s devices bound, as real root they get nodes', () => {
    const priv = containerConfig({}, { privileged: true });
    const sandbox = sandboxFacts(podConfig({}, { privileged: true }));
    const spec = buildContainerSpec(containerInput(priv, { host: userns, sandbox }));
    expect(spec.linux!.devices).toBeUndefined();
    expect(spec.mounts!.filter((m) => m.options?.includes('noexec') && m.source?.startsWith('/dev/')).map((m) => [m.destination, m.source])).toEqual([['/dev/vda', '/dev/vda']]);
    const root = buildContainerSpec(containerInput(priv, { host: host({ hostDevices }), sandbox }));
    expect(root.linux!.devices!.map((d) => d.path)).toEqual(['/dev/null', '/dev/vda']);
    const pod = buildSandboxSpec(sandboxInput(podConfig({}, { privileged: true }), { host: userns }));
    expect(pod.linux!.devices).toBeUndefined();
    expect(pod.mounts).toContainEqual({ destination: '/dev/vda', type: 'bind', source: '/dev/vda', options: ['bind', 'nosuid', 'noexec'] });
  });

  it('deviceBindMounts takes the path itself where no source is given, and leaves runc\'s own nodes to runc', () => {
    expect(deviceBindMounts([{ type: 'c', path: '/dev/kvm' }, { type: 'c', path: '/dev/tty' }, { type: 'c', path: '/dev/null' }], {})).toEqual([{ destination: '/dev/kvm', type: 'bind', source: '/dev/kvm', options: ['bind', 'nosuid', 'noexec'] }]);
  });
});

describe('limits that need a controller that is not delegated', () => {
  it.each([
    ['memory limit', { memory_limit_in_bytes: 64 * 1024 * 1024 }, ['cpu', 'pids'], 'memory limit: the memory cgroup controller is not delegated'],
    ['cpu quota', { cpu_quota: 50_000, cpu_period: 100_000 }, ['memory'], 'cpu quota: the cpu cgroup controller is not delegated'],
    ['cpuset', { cpuset_cpus: '0' }, ['cpu', 'memory'], 'cpuset: the cpuset cgroup controller is not delegated'],
    ['unified io key', { unified: { 'io.weight': '100' } }, ['cpu', 'memory'], 'unified "io.weight": the io cgroup controller is not delegated'],
  ] as const)('%s is FailedPrecondition with the fix', (_what, res, delegated, message) => {
    const e = refusal(() => resourcesToOci(resources(res as object), host({ cgroupMode: 'v2', onlineCpus: '0-1', delegatedControllers: [...delegated] })));
    expect(e.kind).toBe('FailedPrecondition');
    expect(e.message).toContain(message);
    expect(e.message).toContain('Delegate=cpu cpuset io memory pids');
  });

  it('cpu shares (the kubelet sends them always) pass without the cpu controller; with every controller all pass; real root is not limited', () => {
    expect(resourcesToOci(resources({ cpu_shares: '2' }), host({ cgroupMode: 'v2', delegatedControllers: [] })).cpu).toMatchObject({ shares: 2 });
    const all = host({ cgroupMode: 'v2', onlineCpus: '0-1', delegatedControllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] });
    expect(resourcesToOci(resources({ memory_limit_in_bytes: String(64 * 1024 * 1024), cpu_quota: '50000', cpuset_cpus: '0' }), all).memory).toMatchObject({ limit: 64 * 1024 * 1024 });
    expect(resourcesToOci(resources({ memory_limit_in_bytes: String(64 * 1024 * 1024) }), host({ cgroupMode: 'v2' })).memory).toMatchObject({ limit: 64 * 1024 * 1024 });
  });
});

describe('oom_score_adj and AppArmor inside a user namespace', () => {
  it('oom_score_adj below fune\'s own score is raised to it, for containers and the infra process', () => {
    expect(buildContainerSpec(containerInput(containerConfig({}, {}, { oom_score_adj: '-500' }), { host: userns })).process!.oomScoreAdj).toBe(200);
    expect(buildContainerSpec(containerInput(containerConfig({}, {}, { oom_score_adj: '900' }), { host: userns })).process!.oomScoreAdj).toBe(900);
    expect(buildSandboxSpec(sandboxInput(podConfig(), { host: userns })).process!.oomScoreAdj).toBe(200);
  });

  it('a RuntimeDefault or Localhost AppArmor profile is not applied, with a warning', () => {
    const warnings: string[] = [];
    const spec = buildContainerSpec(containerInput(containerConfig({}, { apparmor: { profile_type: 'Localhost', localhost_ref: 'my-profile' } }), { host: userns }), (m) => warnings.push(m));
    expect(spec.process!.apparmorProfile).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/AppArmor/);
  });
});

describe('host namespaces and the pod\'s files inside a user namespace', () => {
  const nodeNs = { network: 'POD', pid: 'NODE', ipc: 'NODE', target_id: '', userns_options: null } as const;
  const at = (spec: { mounts?: { destination: string }[] }, d: string) => spec.mounts!.find((m) => m.destination === d);

  it('a host-PID, host-IPC pod and its containers get /proc and /dev/mqueue bound (the kernel refuses new ones there); as real root they are mounted', () => {
    const pod = podConfig({}, { namespace_options: { ...nodeNs } });
    for (const spec of [buildSandboxSpec(sandboxInput(pod, { host: userns })), buildContainerSpec(containerInput(containerConfig({}, { namespace_options: { ...nodeNs } }), { host: userns, sandbox: sandboxFacts(pod) }))]) {
      expect(at(spec, '/proc')).toEqual({ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
      expect(at(spec, '/dev/mqueue')).toEqual({ destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
      // still after /dev, so the bind lands in the container's /dev
      expect(spec.mounts!.findIndex((m) => m.destination === '/dev/mqueue')).toBeGreaterThan(spec.mounts!.findIndex((m) => m.destination === '/dev'));
    }
    const root = buildSandboxSpec(sandboxInput(pod, { host: host() }));
    expect(at(root, '/proc')).toMatchObject({ type: 'proc' });
    expect(at(root, '/dev/mqueue')).toMatchObject({ type: 'mqueue' });
    // the pod's own namespaces: mounted afresh in a user namespace too
    const own = buildSandboxSpec(sandboxInput(podConfig(), { host: userns }));
    expect(at(own, '/proc')).toMatchObject({ type: 'proc' });
    expect(at(own, '/dev/mqueue')).toMatchObject({ type: 'mqueue' });
  });

  it('the pod\'s files are bound with the locked flags kept (a ReadOnlyRootfs remount is EPERM without them); as real root without', () => {
    const ro = containerConfig({}, { readonly_rootfs: true });
    const spec = buildContainerSpec(containerInput(ro, { host: userns }));
    // (the kubelet's config brings /etc/hosts as a CRI mount of its own)
    for (const d of ['/etc/hostname', '/etc/resolv.conf']) expect(at(spec, d)).toMatchObject({ type: 'bind', options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'] });
    const root = buildContainerSpec(containerInput(ro, { host: host() }));
    expect(at(root, '/etc/hostname')).toMatchObject({ options: ['rbind', 'rprivate', 'ro'] });
  });

  it('a container that does not repeat its host-network, host-IPC, host-PID pod\'s modes still uses the node\'s namespaces, not the infra\'s by path (setns into them is EPERM from a user namespace)', () => {
    const pod = podConfig({}, { namespace_options: { network: 'NODE', pid: 'NODE', ipc: 'NODE', target_id: '', userns_options: null } });
    const ctr = containerConfig({}, { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD', target_id: '', userns_options: null } });
    const spec = buildContainerSpec(containerInput(ctr, { host: userns, sandbox: sandboxFacts(pod, { netnsPath: undefined }) }));
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['mount']);
    expect(at(spec, '/proc')).toMatchObject({ type: 'bind', source: '/proc' });
    // a pod of its own: the infra's namespaces by path, as before
    const own = buildContainerSpec(containerInput(ctr, { host: userns }));
    expect(own.linux!.namespaces!.filter((n) => n.path).map((n) => n.type).sort()).toEqual(['ipc', 'network', 'pid', 'uts']);
  });
});

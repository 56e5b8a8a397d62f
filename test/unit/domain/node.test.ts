import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { delegationCondition, hostUidOf, isInitialUserNamespace, kernelAtLeast, minOomScoreAdjOf, nodeRulesOf, ownCgroupOf, parseIdMap, parseKernelRelease, parseOciRuntime } from '../../../src/domain/node.js';
import { pageSizeName, probeNode } from '../../../src/sys/node-probe.js';
import type { ProcessRunner, RunResult } from '../../../src/sys/process-runner.js';

describe('id maps', () => {
  it.each([
    ['         0          0 4294967295\n', true, 1],
    ['0 1000 1\n1 100000 65536\n', false, 2],
    ['0 0 65536\n', false, 1],
    ['', false, 0],
  ])('%j: initial namespace %s, %d lines', (text, initial, n) => {
    const m = parseIdMap(text);
    expect(m).toHaveLength(n);
    expect(isInitialUserNamespace(m)).toBe(initial);
  });
  it('keeps the numbers of each line', () => {
    expect(parseIdMap('0 1000 1\n1 100000 65536')).toEqual([
      { containerId: 0, hostId: 1000, size: 1 },
      { containerId: 1, hostId: 100000, size: 65536 },
    ]);
  });
});

describe('kernel release', () => {
  it.each([
    ['6.18.44-fc-v1045', [6, 18, 44]],
    ['6.1.0-57-amd64', [6, 1, 0]],
    ['5.12', [5, 12, 0]],
    ['garbage', [0, 0, 0]],
  ] as const)('%s', (rel, v) => expect(parseKernelRelease(rel)).toEqual(v));
  it.each([
    [[6, 3, 0], 6, 3, true],
    [[6, 1, 0], 6, 3, false],
    [[5, 15, 0], 5, 12, true],
    [[7, 0, 0], 6, 3, true],
  ] as const)('%j at least %d.%d: %s', (version, a, b, want) => expect(kernelAtLeast({ kernel: { release: '', version: [...version] } }, a, b)).toBe(want));
});

describe('OCI runtime', () => {
  it('reads runc 1.1 (rro, no idmap) and 1.2 (idmap) features', () => {
    const v11 = parseOciRuntime('runc version 1.1.5+ds1\ncommit: x\n', JSON.stringify({ mountOptions: ['ro', 'rro', 'bind'] }));
    expect(v11).toEqual({ name: 'runc', version: '1.1.5+ds1', mountOptions: ['ro', 'rro', 'bind'], recursiveReadOnly: true, idmapMounts: false });
    const v12 = parseOciRuntime('runc version 1.2.0', JSON.stringify({ mountOptions: ['ro'], linux: { mountExtensions: { idmap: { enabled: true } } } }));
    expect(v12.idmapMounts).toBe(true);
    expect(v12.recursiveReadOnly).toBe(false);
  });
  it('assumes nothing of a runtime without `features`', () => {
    expect(parseOciRuntime('crun version 1.8.1', '')).toEqual({ name: 'crun', version: '1.8.1', mountOptions: [], recursiveReadOnly: false, idmapMounts: false });
    expect(parseOciRuntime('', 'not json').mountOptions).toEqual([]);
  });
});

describe('own cgroup', () => {
  const v1 = '9:name=systemd:/\n4:memory:/process_api/abc\n3:cpuset:/\n0::/\n';
  it.each([
    [v1, 'v1', '/process_api/abc'],
    [v1, 'v2', '/'],
    ['0::/system.slice/fune.service\n', 'v2', '/system.slice/fune.service'],
    ['0::/user.slice/user-1000.slice/user@1000.service/app.slice/fune.service\n', 'v2', '/user.slice/user-1000.slice/user@1000.service/app.slice/fune.service'],
    ['', 'v2', '/'],
  ] as const)('%j on %s', (text, mode, want) => expect(ownCgroupOf(text, mode)).toBe(want));
});

describe('probeNode on fixture trees', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const runner = (out: Record<string, string>): ProcessRunner => ({
    run: async (_cmd, args): Promise<RunResult> => {
      const text = out[args[0] ?? ''];
      return { code: text === undefined ? 1 : 0, signal: null, stdout: Buffer.from(text ?? ''), stderr: Buffer.alloc(0), timedOut: false };
    },
    spawn: () => {
      throw new Error('not used');
    },
  });
  async function tree(files: Record<string, string>): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'fune-node-'));
    dirs.push(d);
    for (const [p, t] of Object.entries(files)) {
      await mkdir(join(d, p, '..'), { recursive: true });
      await writeFile(join(d, p), t);
    }
    return d;
  }

  it('a rootless cgroup v2 node: delegated controllers, user namespace, swap accounting, no CAP_SYS_RESOURCE', async () => {
    const own = '/user.slice/user-1000.slice/user@1000.service/app.slice/fune.service';
    const d = await tree({
      'cg/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      [`cg${own}/cgroup.controllers`]: 'cpu memory pids hugetlb\n',
      [`cg${own}/memory.swap.max`]: 'max\n',
      'proc/self/cgroup': `0::${own}\n`,
      'proc/self/status': 'Name:\tnode\nCapBnd:\t000001fffeffffff\n',
      'proc/self/oom_score_adj': '200\n',
      'proc/self/uid_map': '0 1000 1\n1 100000 65536\n',
      'proc/self/gid_map': '0 1000 1\n1 100000 65536\n',
      'sys/module/apparmor/parameters/enabled': 'Y\n',
      'sys/kernel/security/lsm': 'lockdown,capability,landlock,yama,apparmor,bpf',
      'sys/devices/system/cpu/online': '0-3\n',
      'sys/devices/system/node/online': '0\n',
      'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '0\n',
      'sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
    });
    const n = await probeNode({
      cgroupDriver: 'cgroupfs', ociRuntimePath: 'runc', runner: runner({ '--version': 'runc version 1.1.5\n', features: '{"mountOptions":["rro"]}' }),
      cgroupRoot: join(d, 'cg'), procRoot: join(d, 'proc'), sysRoot: join(d, 'sys'), runRoot: join(d, 'run'),
    });
    expect(n.cgroup).toEqual({ mode: 'v2', driver: 'cgroupfs', controllers: ['cpu', 'memory', 'pids', 'hugetlb'], own });
    expect(n.user.inUserNamespace).toBe(true);
    expect(n.user.uidMap).toHaveLength(2);
    expect(n.swapAccounting).toBe(true);
    expect(n.minOomScoreAdj).toBe(200);
    expect(n.capabilities).not.toContain('CAP_SYS_RESOURCE');
    expect(n.lsm).toEqual({ apparmor: true, selinux: false });
    expect(n.oci.recursiveReadOnly).toBe(true);
    // The v2 root has no hugetlb files: the sizes come from the kernel's list, as the controller is delegated.
    expect(n.hugepageSizes).toEqual(['1GB', '2MB']);
    expect([n.cpus, n.mems]).toEqual(['0-3', '0']);
  });

  it('a cgroup v1 root node: mounted hierarchies, the host id map, memsw swap accounting, runc without features', async () => {
    const d = await tree({
      'cg/memory/memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'cg/cpu/tasks': '', 'cg/cpuacct/tasks': '', 'cg/pids/tasks': '', 'cg/name=systemd/tasks': '', 'cg/cpu,cpuacct/tasks': '',
      'proc/self/cgroup': '4:memory:/process_api/x\n0::/\n',
      'proc/self/status': 'CapBnd:\t000001ffffffffff\n',
      'proc/self/oom_score_adj': '0\n',
      'proc/self/uid_map': '         0          0 4294967295\n',
      'sys/devices/system/cpu/online': '0-1\n',
    });
    const n = await probeNode({ cgroupDriver: 'auto', ociRuntimePath: 'runc', runner: runner({}), cgroupRoot: join(d, 'cg'), procRoot: join(d, 'proc'), sysRoot: join(d, 'sys'), runRoot: join(d, 'run') });
    expect(n.cgroup.mode).toBe('v1');
    expect(n.cgroup.own).toBe('/process_api/x');
    expect(n.cgroup.controllers.sort()).toEqual(['cpu', 'cpuacct', 'memory', 'pids']);
    expect(n.user.inUserNamespace).toBe(false);
    expect(n.swapAccounting).toBe(true);
    expect(n.minOomScoreAdj).toBe(-1000);
    expect(n.oci).toEqual({ name: '', version: '', mountOptions: [], recursiveReadOnly: false, idmapMounts: false });
    expect(n.mems).toBe('0');
  });

  it('a root cgroup v2 node under systemd: the root cgroup\'s controllers, hugetlb among them though fune\'s own cgroup lacks it', async () => {
    // As in the VM tier's guest: systemd enables hugetlb nowhere, but runc (root) enables it along a container's path.
    const own = '/user.slice/user-0.slice/session-7.scope';
    const d = await tree({
      'cg/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      [`cg${own}/cgroup.controllers`]: 'cpuset cpu io memory pids\n',
      'proc/self/cgroup': `0::${own}\n`,
      'proc/self/uid_map': '         0          0 4294967295\n',
      'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '0\n',
      'sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
    });
    const n = await probeNode({ cgroupDriver: 'cgroupfs', ociRuntimePath: 'runc', runner: runner({}), cgroupRoot: join(d, 'cg'), procRoot: join(d, 'proc'), sysRoot: join(d, 'sys'), runRoot: join(d, 'run') });
    expect(n.cgroup.controllers).toEqual(['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
    expect(n.hugepageSizes).toEqual(['1GB', '2MB']);
  });

  it('a cgroup v2 node without the hugetlb controller offers no hugepage sizes, whatever the kernel has', async () => {
    const d = await tree({
      'cg/cgroup.controllers': 'cpu memory pids\n',
      'proc/self/cgroup': '0::/\n',
      'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '0\n',
    });
    const n = await probeNode({ cgroupDriver: 'cgroupfs', ociRuntimePath: 'runc', runner: runner({}), cgroupRoot: join(d, 'cg'), procRoot: join(d, 'proc'), sysRoot: join(d, 'sys'), runRoot: join(d, 'run') });
    expect(n.hugepageSizes).toEqual([]);
  });

  it.each([
    ['the user manager runs', true, 'systemd', ['cpuset', 'cpu', 'io', 'memory', 'pids']],
    ['no user manager', false, 'cgroupfs', ['memory', 'pids']],
  ] as const)('inside a user namespace on a systemd host, auto with %s: driver %s, controllers of the delegated cgroup', async (_what, manager, driver, controllers) => {
    const um = '/user.slice/user-1000.slice/user@1000.service';
    const own = `${um}/app.slice/fune-rootless.service`;
    const d = await tree({
      'cg/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      [`cg${um}/cgroup.controllers`]: 'cpuset cpu io memory pids\n',
      [`cg${own}/cgroup.controllers`]: 'memory pids\n',
      'proc/self/cgroup': `0::${own}\n`,
      'proc/self/uid_map': '0 1000 1\n1 100000 65536\n',
      'run/systemd/system/.keep': '',
      ...(manager ? { 'run/user/1000/systemd/private': '' } : {}),
    });
    const n = await probeNode({ cgroupDriver: 'auto', ociRuntimePath: 'runc', runner: runner({}), cgroupRoot: join(d, 'cg'), procRoot: join(d, 'proc'), sysRoot: join(d, 'sys'), runRoot: join(d, 'run') });
    expect(n.cgroup).toEqual({ mode: 'v2', driver, controllers, own, ...(manager ? { userManager: um } : {}) });
    expect(n.systemd).toBe(true);
  });

  it.each([[2048, '2MB'], [1048576, '1GB'], [64, '64KB'], [32768, '32MB']])('page size %d kB is %s', (kb, name) => expect(pageSizeName(kb)).toBe(name));
});

describe('rootless node rules (nodeRulesOf, minOomScoreAdjOf, delegationCondition, hostUidOf)', () => {
  const manager = '/user.slice/user-1000.slice/user@1000.service';
  const base = { lsm: { apparmor: true, selinux: false }, capabilities: ['CAP_SYS_RESOURCE', 'CAP_MKNOD'], minOomScoreAdj: 100 };
  const rootUser = { uid: 0, inUserNamespace: false, uidMap: parseIdMap('0 0 4294967295'), gidMap: [] };
  const usernsUser = { uid: 0, inUserNamespace: true, uidMap: parseIdMap('0 1000 1\n1 100000 65536'), gidMap: [] };
  const cgroup = (controllers: string[], mode: 'v1' | 'v2' = 'v2') => ({ mode, driver: 'systemd' as const, controllers, own: `${manager}/app.slice/fune-rootless.service`, userManager: manager });

  it('real root: devices made, trusted.overlay, no extra overlay option, AppArmor as the kernel has it, any namespaced sysctl, no controller limit', () => {
    expect(nodeRulesOf({ ...base, user: rootUser, cgroup: cgroup(['cpu']) })).toEqual({
      kind: 'root', layerDevices: 'create', overlayXattr: 'trusted.overlay.', overlayOptions: [], overlayMounter: 'kernel', trustedXattrs: true, hostDevices: 'create', apparmor: true, minOomScoreAdj: 100, sysctls: 'namespaced',
      hostNamespaceMounts: 'mount', podFileBindOptions: [],
    });
  });

  it('in a user namespace: devices skipped, user.overlay + userxattr, host devices bound, no AppArmor, offered sysctls only, the delegated controllers', () => {
    expect(nodeRulesOf({ ...base, user: usernsUser, cgroup: cgroup(['cpu', 'memory', 'pids']) })).toEqual({
      kind: 'userns', layerDevices: 'skip', overlayXattr: 'user.overlay.', overlayOptions: ['userxattr'], overlayMounter: 'kernel', trustedXattrs: false, hostDevices: 'bind', apparmor: false, minOomScoreAdj: 100,
      sysctls: 'offered', delegatedControllers: ['cpu', 'memory', 'pids'], hostNamespaceMounts: 'bind', podFileBindOptions: ['nosuid', 'nodev', 'noexec'],
    });
    // Where the start-up probe chose fuse-overlayfs, the layers stay the same and the kernel's `userxattr` goes.
    expect(nodeRulesOf({ ...base, user: usernsUser, cgroup: cgroup(['cpu']), overlay: { mounter: 'fuse-overlayfs', reason: 'refused' } })).toMatchObject({ overlayXattr: 'user.overlay.', overlayOptions: [], overlayMounter: 'fuse-overlayfs' });
    // cgroup v1 cannot delegate: nothing may be limited.
    expect(nodeRulesOf({ ...base, user: usernsUser, cgroup: cgroup(['cpu', 'memory'], 'v1') }).delegatedControllers).toEqual([]);
  });

  it.each([
    [['CAP_SYS_RESOURCE'], false, 0, -1000],
    [['CAP_SYS_RESOURCE'], true, 200, 200],
    [[], false, 300, 300],
    [[], true, 0, 0],
  ] as const)('caps %j, user namespace %s, own score %d: the lowest score is %d', (caps, userns, own, want) => expect(minOomScoreAdjOf([...caps], userns, own)).toBe(want));

  it.each([
    ['0 1000 1\n1 100000 65536', 1000],
    ['1 100000 65536\n0 1001 1', 1001],
    ['1 100000 65536', undefined],
  ] as const)('uid_map %j maps uid 0 to host uid %s', (map, want) => expect(hostUidOf(parseIdMap(map))).toBe(want));

  it('delegationCondition: none as real root; true with the controllers; false naming the missing ones and the fix; false on cgroup v1', () => {
    expect(delegationCondition({ user: rootUser, cgroup: cgroup([]) }, 'FIX')).toBeUndefined();
    expect(delegationCondition({ user: usernsUser, cgroup: cgroup(['cpuset', 'cpu', 'io', 'memory', 'pids']) }, 'FIX')).toEqual({
      type: 'CgroupControllersDelegated', status: true, reason: '', message: `delegated to ${manager}: cpuset cpu io memory pids`,
    });
    const missing = delegationCondition({ user: usernsUser, cgroup: cgroup(['memory', 'pids']) }, 'FIX')!;
    expect(missing).toMatchObject({ type: 'CgroupControllersDelegated', status: false, reason: 'MissingDelegatedControllers' });
    expect(missing.message).toContain('cgroup controllers cpu, io are not delegated');
    expect(missing.message).toContain('To fix: FIX');
    expect(delegationCondition({ user: usernsUser, cgroup: cgroup(['memory'], 'v1') }, 'FIX')).toMatchObject({ status: false, reason: 'CgroupV1' });
  });
});

import { mkdtemp, mkdir, readdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';
import { cgroupTree } from '../../../src/runtime/cgroups.js';
import { CgroupfsPlacement, expandSlice, isSliceName, placementFor, sliceOfParent, SystemdPlacement } from '../../../src/runtime/placement/index.js';
import { fileOnlyKeys, limitProperties } from '../../../src/runtime/placement/systemd.js';
import { busctlProperties } from '../../../src/sys/systemd-bus.js';
import { FakeSystemdBus } from '../../helpers/fake-systemd-bus.js';

const POD = 'b7e0c2d4a1f94c3e8d2b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d';
const CTR = 'c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5c0ffee00d15ea5e5';
const UID = '4f1c2a9e_8d2b_4a5f_9e3d_2c1b0a9f8e7d';

const invalid = (fn: () => unknown): RuntimeError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    expect((e as RuntimeError).kind).toBe('InvalidArgument');
    return e as RuntimeError;
  }
  throw new Error('expected InvalidArgument');
};

describe('slice parents from a kubelet with the systemd driver', () => {
  // What a kubelet sends as the pod's cgroup_parent, per QoS class (its ToSystemd() names), and tools' bare names.
  it.each([
    ['Guaranteed', `/kubepods.slice/kubepods-pod${UID}.slice`, `kubepods-pod${UID}.slice`],
    ['Burstable', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID}.slice`, `kubepods-burstable-pod${UID}.slice`],
    ['BestEffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID}.slice`, `kubepods-besteffort-pod${UID}.slice`],
    ['critest', '/test.slice', 'test.slice'],
    ['a trailing slash', '/kubepods.slice/kubepods-besteffort.slice/', 'kubepods-besteffort.slice'],
    ['a bare slice name', `kubepods-burstable-pod${UID}.slice`, `kubepods-burstable-pod${UID}.slice`],
    ['the root slice', '-.slice', '-.slice'],
  ])('%s: %s → %s', (_what, parent, slice) => {
    expect(sliceOfParent(parent)).toBe(slice);
    expect(new SystemdPlacement(cgroupTree('v2'), new FakeSystemdBus()).podParent(parent, POD)).toBe(slice);
  });

  it.each([
    ['a cgroupfs path', '/kubepods/burstable/pod1', /not a systemd slice name/],
    ['no .slice', 'kubepods', /not a systemd slice name/],
    ['only .slice', '.slice', /not a systemd slice name/],
    ['an empty part', 'kubepods--burstable.slice', /not a systemd slice name/],
    ['a leading dash', '-kubepods.slice', /not a systemd slice name/],
    ['a trailing dash', 'kubepods-.slice', /not a systemd slice name/],
    ['a colon (runc splits slice:prefix:name)', 'kube:pods.slice', /not a systemd slice name/],
    ['a space', 'kube pods.slice', /not a systemd slice name/],
    ['a dot-dot element', '/../kubepods.slice', /not the path of slice/],
    ['a path that is not where the slice lives', '/kubepods.slice/other.slice', /not the path of slice other\.slice \(\/other\.slice\)/],
    ['a path missing a level', '/kubepods.slice/kubepods-burstable-pod1.slice', /not the path of slice/],
    ['the root path', '/', /not a systemd slice name/],
    ['a scope', '/system.slice/fune.scope', /not a systemd slice name/],
    ['an over-long name', `${'a'.repeat(250)}.slice`, /not a systemd slice name/],
  ])('refuses %s (%s) with InvalidArgument', (_what, parent, msg) => {
    const e = invalid(() => sliceOfParent(parent));
    expect(e.message).toMatch(msg);
    expect(e.message).toContain(JSON.stringify(parent));
  });

  it('names slices and expands them as systemd does', () => {
    expect(isSliceName('kubepods-besteffort.slice')).toBe(true);
    expect(isSliceName('kubepods.scope')).toBe(false);
    expect(expandSlice('kubepods-besteffort-pod1.slice')).toBe('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice');
    expect(expandSlice('-.slice')).toBe('');
  });
});

describe('the systemd placement', () => {
  const bus = new FakeSystemdBus();
  let cg: string;
  let p: SystemdPlacement;
  beforeAll(async () => {
    cg = await mkdtemp(join(tmpdir(), 'fune-placement-sd-'));
    p = new SystemdPlacement(cgroupTree('v2', cg), bus);
  });
  afterAll(async () => {
    await rm(cg, { recursive: true, force: true });
  });
  const slice = `kubepods-burstable-pod${UID}.slice`;
  it('names containers, the infra process and conmon as scopes in the pod slice', () => {
    expect(p.kind).toBe('systemd-v2');
    expect(p.driver).toBe('systemd');
    expect(p.cgroupsPath(slice, CTR)).toBe(`${slice}:fune:${CTR}`);
    expect(p.cgroupOf(p.cgroupsPath(slice, CTR))).toBe(`/kubepods.slice/kubepods-burstable.slice/${slice}/fune-${CTR}.scope`);
    expect(p.podCgroup(slice)).toBe(`/kubepods.slice/kubepods-burstable.slice/${slice}`);
    expect(p.monitorOf(slice, CTR)).toBe(`/kubepods.slice/kubepods-burstable.slice/${slice}/fune-conmon-${CTR}.scope`);
  });
  it('gives a pod without a parent a slice of its own under fune.slice', () => {
    expect(p.podParent('', POD)).toBe(`fune-pod${POD}.slice`);
    expect(p.podCgroup(p.podParent('', POD))).toBe(`/fune.slice/fune-pod${POD}.slice`);
  });
  it('moves conmon into a transient scope in the pod slice with StartTransientUnit', async () => {
    bus.calls.length = 0;
    await p.placeMonitor(p.monitorOf(slice, CTR), 4242);
    expect(bus.calls).toHaveLength(1);
    const c = bus.calls[0]!;
    expect(c).toMatchObject({ method: 'StartTransientUnit', name: `fune-conmon-${CTR}.scope` });
    expect(c.props).toContainEqual(['Slice', 's', slice]);
    expect(c.props).toContainEqual(['PIDs', 'au', [4242]]);
    expect(c.props).toContainEqual(['CollectMode', 's', 'inactive-or-failed']);
    expect(c.props?.map((x) => x[0])).not.toContain('Delegate');
  });
  it('a conmon scope in the root slice names -.slice', async () => {
    bus.calls.length = 0;
    await p.placeMonitor(p.monitorOf('-.slice', CTR), 1);
    expect(bus.calls[0]!.props).toContainEqual(['Slice', 's', '-.slice']);
  });
  it('stops only the slice it made, and conmon scopes only while they are there', async () => {
    bus.calls.length = 0;
    await p.removeMonitor(p.monitorOf(slice, CTR)); // gone with conmon: no call
    await mkdir(join(cg, p.monitorOf(slice, CTR)), { recursive: true });
    await p.removePod(POD, slice);
    await p.removePod(POD, 'system.slice');
    await p.removePod('other', `fune-pod${POD}.slice`);
    expect(bus.calls).toEqual([]);
    await p.removePod(POD, `fune-pod${POD}.slice`);
    await p.removeMonitor(`/kubepods.slice/kubepods-burstable.slice/${slice}/fune-conmon-${CTR}.scope`);
    await p.removeMonitor(`/kubepods/burstable/pod1/conmon-${CTR}`);
    expect(bus.calls).toEqual([
      { method: 'StopUnit', name: `fune-pod${POD}.slice` },
      { method: 'StopUnit', name: `fune-conmon-${CTR}.scope` },
    ]);
  });
  it('a failing bus fails the move (the caller decides what that costs)', async () => {
    const b = new FakeSystemdBus();
    b.fail = new Error('no bus');
    await expect(new SystemdPlacement(cgroupTree('v2'), b).placeMonitor(p.monitorOf(slice, CTR), 1)).rejects.toThrow('no bus');
  });
  it('writes properties in busctl syntax', () => {
    expect(busctlProperties([['Slice', 's', 'a.slice'], ['PIDs', 'au', [1, 2]], ['Delegate', 'b', false], ['MemoryMax', 't', 1048576n]])).toEqual(
      ['4', 'Slice', 's', 'a.slice', 'PIDs', 'au', '2', '1', '2', 'Delegate', 'b', 'false', 'MemoryMax', 't', '1048576'],
    );
  });
});

describe('the cgroupfs placements (v1 and v2) on a fixture tree', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fune-placement-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['the kubelet path', '/kubepods/burstable/pod1', '/kubepods/burstable/pod1'],
    ['no leading slash', 'kubepods/besteffort/pod1', '/kubepods/besteffort/pod1'],
    ['doubled and trailing slashes', '/kubepods//pod1/', '/kubepods/pod1'],
    ['none: fune makes one', '', `/fune/pod-${POD}`],
  ])('takes %s: %j → %s', (_what, given, parent) => {
    expect(new CgroupfsPlacement(cgroupTree('v1')).podParent(given, POD)).toBe(parent);
  });
  it.each([
    ['a dot-dot element', '/kubepods/../etc'],
    ['a colon', 'kubepods:fune:x'],
    ['a newline', '/kubepods\n/x'],
    ['the root', '/'],
  ])('refuses %s with InvalidArgument', (_what, given) => {
    expect(invalid(() => new CgroupfsPlacement(cgroupTree('v2')).podParent(given, POD)).message).toContain('cgroup parent');
  });

  it('places conmon by a cgroup.procs write in each accounting hierarchy on v1, and in the one tree on v2', async () => {
    const v1 = new CgroupfsPlacement(cgroupTree('v1', join(root, 'v1')));
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'cpuset']) await mkdir(join(root, 'v1', c), { recursive: true });
    const m1 = v1.monitorOf('/kubepods/pod1', CTR);
    expect(m1).toBe(`/kubepods/pod1/conmon-${CTR}`);
    expect(v1.cgroupsPath('/kubepods/pod1', CTR)).toBe(`/kubepods/pod1/${CTR}`);
    await v1.placeMonitor(m1, 4242);
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio']) expect(await readFile(join(root, 'v1', c, m1, 'cgroup.procs'), 'utf8')).toBe('4242');
    await expect(stat(join(root, 'v1', 'cpuset', m1))).rejects.toThrow(); // a new cpuset cgroup would have no cpus
    const v2 = new CgroupfsPlacement(cgroupTree('v2', join(root, 'v2')));
    expect(v2.kind).toBe('cgroupfs-v2');
    await v2.placeMonitor(v2.monitorOf('/kubepods/pod1', CTR), 7);
    expect(await readFile(join(root, 'v2', 'kubepods/pod1', `conmon-${CTR}`, 'cgroup.procs'), 'utf8')).toBe('7');
  });

  it('removes only the pod cgroup it named', async () => {
    const v2 = new CgroupfsPlacement(cgroupTree('v2', join(root, 'rm')));
    await mkdir(join(root, 'rm', 'fune', `pod-${POD}`), { recursive: true });
    await mkdir(join(root, 'rm', 'kubepods', 'pod1'), { recursive: true });
    await v2.removePod(POD, '/kubepods/pod1');
    await v2.removePod('other', `/fune/pod-${POD}`);
    expect((await stat(join(root, 'rm', 'kubepods', 'pod1'))).isDirectory()).toBe(true);
    expect((await stat(join(root, 'rm', 'fune', `pod-${POD}`))).isDirectory()).toBe(true);
    await v2.removePod(POD, `/fune/pod-${POD}`);
    await expect(stat(join(root, 'rm', 'fune', `pod-${POD}`))).rejects.toThrow();
  });

  it('reads stats and OOM kills from v1 and v2 files', async () => {
    const d2 = join(root, 's2', 'kubepods', 'c');
    await mkdir(d2, { recursive: true });
    await writeFile(join(d2, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n');
    await writeFile(join(d2, 'memory.current'), '1000\n');
    await writeFile(join(d2, 'memory.stat'), 'anon 600\ninactive_file 300\npgfault 9\npgmajfault 1\n');
    await writeFile(join(d2, 'memory.max'), 'max\n');
    await writeFile(join(d2, 'pids.current'), '3\n');
    await writeFile(join(d2, 'memory.events'), 'low 0\noom 1\noom_kill 1\n');
    await writeFile(join(d2, 'memory.swap.current'), '4096\n');
    await writeFile(join(d2, 'memory.swap.max'), '16384\n');
    const v2 = new CgroupfsPlacement(cgroupTree('v2', join(root, 's2')));
    expect(await v2.stats(v2.cgroupOf('/kubepods/c'))).toEqual({ cpuUsageNs: 1_500_000n, memoryUsage: 1000n, workingSet: 700n, rss: 600n, pageFaults: 9n, majorPageFaults: 1n, memoryLimit: undefined, swapUsage: 4096n, swapLimit: 16384n, pids: 3n });
    expect(await v2.oomKilled('/kubepods/c')).toBe(true);
    const r1 = join(root, 's1');
    for (const c of ['cpuacct', 'memory', 'pids']) await mkdir(join(r1, c, 'kubepods', 'c'), { recursive: true });
    await writeFile(join(r1, 'cpuacct/kubepods/c/cpuacct.usage'), '42\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.usage_in_bytes'), '1000\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.limit_in_bytes'), '9223372036854771712\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.stat'), 'total_rss 500\ntotal_inactive_file 100\ntotal_pgfault 2\ntotal_pgmajfault 0\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    await writeFile(join(r1, 'pids/kubepods/c/pids.current'), '1\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.memsw.usage_in_bytes'), '1500\n');
    await writeFile(join(r1, 'memory/kubepods/c/memory.memsw.limit_in_bytes'), '9223372036854771712\n');
    const v1 = new CgroupfsPlacement(cgroupTree('v1', r1));
    expect(await v1.stats('/kubepods/c')).toEqual({ cpuUsageNs: 42n, memoryUsage: 1000n, workingSet: 900n, rss: 500n, pageFaults: 2n, majorPageFaults: 0n, memoryLimit: undefined, swapUsage: 500n, swapLimit: undefined, pids: 1n });
    expect(await v1.oomKilled('/kubepods/c')).toBe(false);
  });
});

describe('checkUnified', () => {
  // On a plain directory tree every write succeeds and every file can be made: what the kernel refuses is shown in
  // the VM tier (test/vm/cgroup-v2-resources.test.ts). Here: runc's grammar for systemd, and that the trial is removed.
  it.each([
    ['memory.max', '1G'], ['memory.high', 'lots'], ['memory.swap.max', '-1'], ['cpu.weight', 'max'], ['cpu.max', '50000 100000 3'], ['cpuset.cpus', '0-'], ['pids.max', '1.5'],
  ])('systemd: %s = %s is refused as runc would, naming the key', async (key, value) => {
    const cg = await mkdtemp(join(tmpdir(), 'fune-check-'));
    try {
      await mkdir(join(cg, 'kubepods.slice'));
      const p = new SystemdPlacement(cgroupTree('v2', cg), new FakeSystemdBus());
      await expect(p.checkUnified('kubepods.slice', { 'memory.oom.group': '1', [key]: value })).rejects.toMatchObject({ kind: 'InvalidArgument', message: expect.stringContaining(JSON.stringify(key)) });
      expect(await readdir(join(cg, 'kubepods.slice'))).toEqual([]);
    } finally {
      await rm(cg, { recursive: true, force: true });
    }
  });
  it.each(['systemd', 'cgroupfs'])('%s: good values are tried in a cgroup of the pod that is removed after; no pod cgroup, nothing tried', async (driver) => {
    const cg = await mkdtemp(join(tmpdir(), 'fune-check-'));
    try {
      const p = driver === 'systemd' ? new SystemdPlacement(cgroupTree('v2', cg), new FakeSystemdBus()) : new CgroupfsPlacement(cgroupTree('v2', cg));
      const parent = driver === 'systemd' ? 'kubepods-burstable.slice' : '/kubepods/burstable';
      await expect(p.checkUnified(parent, { 'memory.max': 'max', 'cpu.max': 'max 100000', 'cpuset.cpus': '0-1,3', 'memory.oom.group': '1' })).resolves.toBeUndefined();
      await mkdir(join(cg, p.podCgroup(parent)), { recursive: true });
      await expect(p.checkUnified(parent, { 'memory.max': '1048576', 'memory.oom.group': '1' })).resolves.toBeUndefined();
      // A real cgroup goes with its files (rmdir); a plain directory stays: what was tried is seen in it.
      const [trial, ...more] = await readdir(join(cg, p.podCgroup(parent)));
      expect([trial, more]).toEqual([expect.stringMatching(/^fune-check-[0-9a-f]{12}$/), []]);
      expect(await readFile(join(cg, p.podCgroup(parent), trial!, 'memory.max'), 'utf8')).toBe('1048576');
    } finally {
      await rm(cg, { recursive: true, force: true });
    }
  });
});

describe('setHugepageLimits', () => {
  it('writes hugetlb.<size>.max on v2 and hugetlb.<size>.limit_in_bytes in the v1 hugetlb hierarchy', async () => {
    const cg = await mkdtemp(join(tmpdir(), 'fune-huge-'));
    try {
      const limits = [{ pageSize: '2MB', limit: 8 * 1024 * 1024 }, { pageSize: '1GB', limit: 0 }];
      const v2 = new SystemdPlacement(cgroupTree('v2', cg), new FakeSystemdBus());
      const path = v2.cgroupsPath('kubepods.slice', CTR);
      await mkdir(join(cg, v2.cgroupOf(path)), { recursive: true });
      await v2.setHugepageLimits(path, limits);
      expect(await readFile(join(cg, v2.cgroupOf(path), 'hugetlb.2MB.max'), 'utf8')).toBe('8388608');
      expect(await readFile(join(cg, v2.cgroupOf(path), 'hugetlb.1GB.max'), 'utf8')).toBe('0');
      await mkdir(join(cg, 'hugetlb', 'kubepods', CTR), { recursive: true });
      await new CgroupfsPlacement(cgroupTree('v1', cg)).setHugepageLimits(`/kubepods/${CTR}`, limits);
      expect(await readFile(join(cg, 'hugetlb', 'kubepods', CTR, 'hugetlb.2MB.limit_in_bytes'), 'utf8')).toBe('8388608');
    } finally {
      await rm(cg, { recursive: true, force: true });
    }
  });
});

describe('limits as unit properties (systemd)', () => {
  const MiB = 1024 * 1024;
  it.each([
    ['a limit without swap (swap = limit)', { memory: { limit: 64 * MiB, swap: 64 * MiB } }, [['MemorySwapMax', 't', 0]]],
    ['a limit with swap: runc sets it', { memory: { limit: 64 * MiB, swap: 128 * MiB } }, []],
    ['unlimited swap: runc sets it', { memory: { limit: 64 * MiB, swap: -1 } }, []],
    ['unified memory.swap.max wins: runc sets it', { memory: { limit: 64 * MiB, swap: 64 * MiB }, unified: { 'memory.swap.max': '0' } }, []],
    ['no limit', { cpu: { shares: 512 } }, []],
    ['unified io.weight', { unified: { 'io.weight': 'default 300' } }, [['IOWeight', 't', 300]]],
    ['a bare io.weight', { unified: { 'io.weight': '50' } }, [['IOWeight', 't', 50]]],
    ['a per-device io.weight is left as a file', { unified: { 'io.weight': '8:0 50' } }, []],
  ] as const)('%s', (_what, r, props) => {
    expect(limitProperties(r as never)).toEqual(props);
  });
  it('knows which unified keys are files only', () => {
    expect(fileOnlyKeys({ unified: { 'memory.high': '1', 'memory.oom.group': '1', 'cpu.idle': '1', 'io.weight': '100', 'pids.max': '9' } })).toEqual([['memory.oom.group', '1'], ['cpu.idle', '1']]);
  });
  it('sets them on the container scope, writes file-only keys back, and asks for OOMPolicy once', async () => {
    const cg = await mkdtemp(join(tmpdir(), 'fune-keep-'));
    try {
      const bus = new FakeSystemdBus();
      const refusing = Object.assign(Object.create(bus) as FakeSystemdBus, {
        setUnitProperties(name: string, props: readonly (readonly [string, string, unknown])[]) {
          if (props[0]![0] === 'OOMPolicy') {
            bus.calls.push({ method: 'SetUnitProperties', name, props: props as never });
            return Promise.reject(new Error('systemd SetUnitProperties: Call failed: Cannot set property OOMPolicy, or unknown property.'));
          }
          return bus.setUnitProperties(name, props as never);
        },
      });
      const p = new SystemdPlacement(cgroupTree('v2', cg), refusing);
      const path = p.cgroupsPath('kubepods.slice', CTR);
      await mkdir(join(cg, p.cgroupOf(path)), { recursive: true });
      const r = { memory: { limit: 64 * MiB, swap: 64 * MiB }, unified: { 'memory.oom.group': '1', 'memory.high': '100' } };
      await p.keepLimits(path, r);
      await p.keepLimits(path, r);
      expect(bus.calls.map((c) => [c.name, c.props?.[0]?.[0]])).toEqual([
        [`fune-${CTR}.scope`, 'OOMPolicy'],
        [`fune-${CTR}.scope`, 'MemorySwapMax'],
        [`fune-${CTR}.scope`, 'MemorySwapMax'],
      ]);
      expect(await readFile(join(cg, p.cgroupOf(path), 'memory.oom.group'), 'utf8')).toBe('1');
      await expect(stat(join(cg, p.cgroupOf(path), 'memory.high'))).rejects.toThrow(); // runc's property, not rewritten
    } finally {
      await rm(cg, { recursive: true, force: true });
    }
  });
  it('nothing for cgroupfs', async () => {
    await expect(new CgroupfsPlacement(cgroupTree('v2', '/nonexistent')).keepLimits('/a/b', { memory: { limit: 1, swap: 1 } })).resolves.toBeUndefined();
  });
});

describe('placementFor', () => {
  it.each([
    ['v1', 'cgroupfs', 'cgroupfs-v1'],
    ['v2', 'cgroupfs', 'cgroupfs-v2'],
    ['v2', 'systemd', 'systemd-v2'],
    ['v1', 'systemd', 'systemd-v1'],
  ] as const)('picks %s + %s → %s', (mode, driver, kind) => {
    const asked: string[] = [];
    const p = placementFor({ cgroup: { mode, driver, controllers: [], own: '/' }, user: rootUser }, { bus: (m) => (asked.push(m), new FakeSystemdBus()) });
    expect(p.kind).toBe(kind);
    expect(p.driver).toBe(driver);
    expect(asked).toEqual(driver === 'systemd' ? ['system'] : []);
  });

  const rootUser = { uid: 0, inUserNamespace: false, uidMap: [], gidMap: [] };
  const usernsUser = { uid: 0, inUserNamespace: true, uidMap: [{ containerId: 0, hostId: 1000, size: 1 }, { containerId: 1, hostId: 100000, size: 65536 }], gidMap: [] };
  const manager = '/user.slice/user-1000.slice/user@1000.service';

  it('inside a user namespace, systemd is the user\'s manager over the user bus, its scopes under user@<uid>.service', async () => {
    const asked: string[] = [];
    const bus = new FakeSystemdBus();
    const p = placementFor({ cgroup: { mode: 'v2', driver: 'systemd', controllers: [], own: `${manager}/app.slice/fune.service`, userManager: manager }, user: usernsUser }, { bus: (m) => (asked.push(m), bus) });
    expect([p.kind, p.driver, asked]).toEqual(['systemd-v2-user', 'systemd', ['user']]);
    const parent = p.podParent('', POD);
    expect(p.cgroupOf(p.cgroupsPath(parent, CTR))).toBe(`${manager}/fune.slice/fune-pod${POD}.slice/fune-${CTR}.scope`);
    expect(p.podCgroup('kubepods-besteffort.slice')).toBe(`${manager}/kubepods.slice/kubepods-besteffort.slice`);
    await p.placeMonitor(p.monitorOf(parent, CTR), 4242);
    expect(bus.calls[0]).toMatchObject({ method: 'StartTransientUnit', name: `fune-conmon-${CTR}.scope` });
    expect(bus.calls[0]!.props).toContainEqual(['Slice', 's', `fune-pod${POD}.slice`]);
  });

  it.each([
    ['systemd', undefined, /user's own systemd manager/],
    ['cgroupfs', manager, /cgroupfs driver is not served inside a user namespace/],
  ] as const)('inside a user namespace, %s with user manager %s is refused with the way out', (driver, userManager, message) => {
    const node = { cgroup: { mode: 'v2' as const, driver, controllers: [], own: '/user.slice/user-1000.slice/session-3.scope', ...(userManager ? { userManager } : {}) }, user: usernsUser };
    expect(() => placementFor(node, { bus: () => new FakeSystemdBus() })).toThrow(message);
  });
});

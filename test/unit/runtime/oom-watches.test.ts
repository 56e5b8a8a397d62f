// The OOM watch (CgroupTree.watchOom through the placement, and OomWatches): on a plain directory standing in for
// the cgroup root, fs.watch sees the writes as the kernel's change notifications on memory.events. The kernel's own
// notifications, with systemd removing the scope, are proved in the VM tier (test/vm/cgroup-v2-resources.test.ts).
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupTree } from '../../../src/runtime/cgroups.js';
import { Conmon, type ConmonDeps } from '../../../src/runtime/conmon.js';
import { OomWatches } from '../../../src/runtime/oom-watches.js';
import { CgroupfsPlacement, SystemdPlacement } from '../../../src/runtime/placement/index.js';
import { FakeSystemdBus } from '../../helpers/fake-systemd-bus.js';

const events = (oomKill: number, max = 0) => `low 0\nhigh 0\nmax ${max}\noom ${oomKill}\noom_kill ${oomKill}\noom_group_kill 0\n`;
/** nextCall gives a promise of the next call of the callback it hands out, or 'none' after `ms`. */
const nextCall = (ms = 2000) => {
  let hit: (v: string) => void = () => undefined;
  const p = new Promise<string>((r) => (hit = r));
  const t = setTimeout(() => hit('none'), ms);
  return { cb: () => hit('called'), result: p.finally(() => clearTimeout(t)) };
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fune-oom-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('CgroupTree.watchOom', () => {
  it('calls back once when oom_kill rises, not for other counts, and not after it fired', async () => {
    const dir = join(root, 'v2', 'a');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.events'), events(0));
    let calls = 0;
    const first = nextCall();
    const w = cgroupTree('v2', join(root, 'v2')).watchOom('/a', () => {
      calls++;
      first.cb();
    });
    expect(w).toBeDefined();
    await writeFile(join(dir, 'memory.events'), events(0, 5)); // `max` events: memory at the limit, nobody killed
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(0);
    await writeFile(join(dir, 'memory.events'), events(1, 9));
    expect(await first.result).toBe('called');
    await writeFile(join(dir, 'memory.events'), events(2, 9));
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(1);
    w!.close();
  });

  it('calls back at once for a cgroup that was OOM-killed before the watch (recovery)', async () => {
    const dir = join(root, 'v2', 'b');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.events'), events(1));
    let calls = 0;
    const w = cgroupTree('v2', join(root, 'v2')).watchOom('/b', () => calls++);
    expect(calls).toBe(1);
    w?.close();
  });

  // systemd removes a scope's cgroup as soon as it is empty; the daemon's event loop may read only after that. (A
  // cgroup's removal sends its files' watchers no event on kernfs, as seen in the guest; an unlink here does, so
  // 'a removal alone' is not a case this tree can show.)
  it.each([
    ['a change as the cgroup went, with a kill counted in the parent', true, true, true],
    ['a change as the cgroup went, no kill in the parent (a normal exit under memory pressure)', true, false, false],
  ])('a cgroup gone before the read: %s → OOM %s', async (what, change, podKill, want) => {
    const pod = join(root, 'gone', what.replace(/\W+/g, '-'));
    const dir = join(pod, 'c');
    await mkdir(dir, { recursive: true });
    await writeFile(join(pod, 'memory.events'), events(0));
    await writeFile(join(dir, 'memory.events'), events(0));
    const call = nextCall(500);
    const w = cgroupTree('v2', pod).watchOom('/c', call.cb);
    // All at once, before the event loop turns: the kill, the change, the removal.
    if (podKill) writeFileSync(join(pod, 'memory.events'), events(1, 3));
    if (change) writeFileSync(join(dir, 'memory.events'), events(1, 3));
    rmSync(dir, { recursive: true });
    expect(await call.result).toBe(want ? 'called' : 'none');
    w?.close();
  });

  it('watches nothing for a cgroup that is gone, nor on cgroup v1', async () => {
    expect(cgroupTree('v2', join(root, 'v2')).watchOom('/gone', () => undefined)).toBeUndefined();
    await mkdir(join(root, 'v1', 'memory', 'c'), { recursive: true });
    await writeFile(join(root, 'v1', 'memory', 'c', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    expect(cgroupTree('v1', join(root, 'v1')).watchOom('/c', () => undefined)).toBeUndefined();
  });
});

describe('OomWatches', () => {
  const conmon = new Conmon({} as ConmonDeps);
  const log = pino({ level: 'silent' });

  it.each([
    ['cgroupfs', (r: string) => new CgroupfsPlacement(cgroupTree('v2', r)), '/kubepods/pod1/c1', 'kubepods/pod1/c1'],
    ['systemd', (r: string) => new SystemdPlacement(cgroupTree('v2', r), new FakeSystemdBus()), 'kubepods-pod1.slice:fune:c1', 'kubepods.slice/kubepods-pod1.slice/fune-c1.scope'],
  ])('%s: leaves conmon\'s oom marker in the bundle on a kill, and holds one watch per armed container until disarmed', async (driver, make, cgroupsPath, dir) => {
    const r = join(root, `w-${driver}`);
    const cg = join(r, dir);
    const bundle = join(r, 'bundle');
    await mkdir(cg, { recursive: true });
    await mkdir(bundle, { recursive: true });
    await writeFile(join(cg, 'memory.events'), events(0));
    const ooms = new OomWatches(make(r), (b) => conmon.markOom(b), log);
    ooms.arm('c1', cgroupsPath, bundle);
    ooms.arm('c1', cgroupsPath, bundle); // armed again (recovery of a container already watched): still one
    expect(ooms.size).toBe(1);
    expect(await conmon.oomKilled(bundle)).toBe(false);
    await writeFile(join(cg, 'memory.events'), events(1));
    const until = Date.now() + 2000;
    while (!(await conmon.oomKilled(bundle)) && Date.now() < until) await new Promise((x) => setTimeout(x, 20));
    expect(await conmon.oomKilled(bundle)).toBe(true);
    ooms.disarm('c1');
    ooms.disarm('c1');
    expect(ooms.size).toBe(0);
    // A container whose cgroup is gone holds nothing; close() empties the rest.
    ooms.arm('gone', 'kubepods-gone.slice:fune:x', bundle);
    ooms.arm('c1', cgroupsPath, bundle);
    expect(ooms.size).toBe(1);
    ooms.close();
    expect(ooms.size).toBe(0);
  });

  it('does not write the marker after the watch was disarmed', async () => {
    const r = join(root, 'w-disarmed');
    const bundle = join(r, 'bundle');
    await mkdir(join(r, 'c2'), { recursive: true });
    await mkdir(bundle, { recursive: true });
    await writeFile(join(r, 'c2', 'memory.events'), events(0));
    const ooms = new OomWatches(new CgroupfsPlacement(cgroupTree('v2', r)), (b) => conmon.markOom(b), log);
    ooms.arm('c2', '/c2', bundle);
    ooms.disarm('c2');
    await writeFile(join(r, 'c2', 'memory.events'), events(1));
    await new Promise((x) => setTimeout(x, 300));
    expect(await conmon.oomKilled(bundle)).toBe(false);
  });
});

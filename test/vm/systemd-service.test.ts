// The systemd cgroup driver on a real systemd + cgroup v2 node (the test guest), with fune run by the shipped
// systemd/fune.service: pods in the kubelet's slices, containers and their conmons each in a scope of their own,
// what survives `systemctl restart/stop fune` and `systemctl daemon-reload`, and that nothing fune made is left
// once the pods are removed. Everything is read back from /proc/<pid>/cgroup, the cgroup files and systemctl.
// Runs only in the guest (FUNE_VM_GUEST=1, systemd as PID 1): it installs the unit and owns /run/fune there.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile, lstat, readlink, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { criClient, failure, grpc, ROOT, type CriClient } from '../helpers/daemon.js';
import { containerConfig, importImage, podConfig } from '../integration/lifecycle/env.js';
import { inotifyWatched, waitServing } from './guest.js';

const inGuest = process.env.FUNE_VM_GUEST === '1' && existsSync('/run/systemd/system') && existsSync('/sys/fs/cgroup/cgroup.controllers');
const STATE = '/run/fune';
const SOCKET = join(STATE, 'fune.sock');
const UNIT = '/etc/systemd/system/fune.service';
const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
const T = 20 * 60_000; // TCG: a pod with a container takes seconds, a daemon start about a minute

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const systemctl = (...args: string[]): string => sh('systemctl', args);
const cgroupOf = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().replace(/^0::/, '');
const read = (path: string, file: string): string => readFileSync(join(CG, path, file), 'utf8').trim();
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone (it may exit between any two looks)
  }
};
const funeUnits = (): string[] => systemctl('list-units', '--all', '--plain', '--no-legend', 'fune-*').split('\n').map((l) => l.split(/\s+/)[0]!).filter((u) => u && u !== 'fune-vm-setup.service');
const uid = () => `${Math.random().toString(16).slice(2, 10)}_${Math.random().toString(16).slice(2, 6)}`;

let dir: string;
let c: CriClient;
let madeLink = false;

const waitReady = (): Promise<void> => waitServing(SOCKET, 600, () => `fune.service did not become ready: ${systemctl('status', 'fune', '--no-pager', '-l')}`);

async function reconnect(): Promise<void> {
  c?.close();
  await waitReady();
  c = criClient(SOCKET);
}

/** runPod runs a pod with `parent` as its cgroup_parent and one sleeping container with `resources`. */
async function runPod(name: string, parent: string, resources: Record<string, unknown> = {}): Promise<{ pod: string; ctr: string; pid: number; conmon: number }> {
  const cfg = podConfig(name, join(dir, 'logs'), { linux: { cgroup_parent: parent } });
  const { pod_sandbox_id: pod } = await c.call('RunPodSandbox', { config: cfg }, { deadlineMs: 300_000 });
  const { container_id: ctr } = await c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(`${name}-c`, 'sleep 100000', { linux: { resources } }), sandbox_config: cfg }, { deadlineMs: 300_000 });
  await c.call('StartContainer', { container_id: ctr }, { deadlineMs: 300_000 });
  const st = await c.call('ContainerStatus', { container_id: ctr, verbose: true });
  const pid = JSON.parse(st.info.info).pid as number;
  return { pod, ctr, pid, conmon: Number(readFileSync(join(STATE, 'containers', ctr, 'conmon.pid'), 'utf8').trim()) };
}

/** settled waits until conmon of `ctr` is in its scope (the move follows StartContainer). */
async function settled(ctr: string, conmon: number): Promise<void> {
  for (let i = 0; i < 600 && !cgroupOf(conmon).endsWith(`/fune-conmon-${ctr}.scope`); i++) await new Promise((r) => setTimeout(r, 200));
}

async function removeAll(): Promise<void> {
  for (const p of (await c.call('ListPodSandbox', {})).items as { id: string }[]) {
    await c.call('StopPodSandbox', { pod_sandbox_id: p.id }, { deadlineMs: 300_000 });
    await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }, { deadlineMs: 300_000 });
  }
}

describe.skipIf(!inGuest)('the systemd driver under the shipped fune.service', () => {
  beforeAll(async () => {
    dir = await mkdtemp('/var/tmp/fune-vm-systemd-');
    await mkdir(join(dir, 'cni'), { recursive: true });
    await writeFile(join(dir, 'cni', '10-lo.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo-only', plugins: [{ type: 'loopback' }] }));
    // The unit runs /opt/fune/dist/src/main.js: point /opt/fune at this checkout, unless it is something else.
    const link = await lstat('/opt/fune').catch(() => undefined);
    if (!link) {
      await symlink(ROOT, '/opt/fune');
      madeLink = true;
    } else if (!link.isSymbolicLink() || (await readlink('/opt/fune')) !== ROOT) {
      throw new Error('/opt/fune exists and is not this checkout');
    }
    await mkdir('/etc/fune', { recursive: true });
    await writeFile('/etc/fune/config.toml', `[runtime]\ncgroup_driver = "systemd"\n[cni]\nconf_dir = "${join(dir, 'cni')}"\n`);
    await copyFile(join(ROOT, 'systemd', 'fune.service'), UNIT);
    systemctl('daemon-reload');
    systemctl('start', 'fune');
    await reconnect();
    await importImage(STATE);
  }, T);

  // Each test starts with no pod, whatever a failed one before it left.
  beforeEach(async () => {
    await removeAll();
  }, T);

  afterAll(async () => {
    try {
      // A test that failed while fune was stopped leaves it stopped: start it so that its pods are removed through it.
      if (c && !systemctl('show', '-P', 'ActiveState', 'fune').startsWith('active')) {
        systemctl('start', 'fune');
        await reconnect();
      }
      if (c) await removeAll();
    } finally {
      c?.close();
      try {
        systemctl('stop', 'fune');
      } catch {
        // not running
      }
      await rm(UNIT, { force: true });
      await rm('/etc/fune/config.toml', { force: true });
      systemctl('daemon-reload');
      if (madeLink) await rm('/opt/fune', { force: true });
      await rm('/var/lib/fune', { recursive: true, force: true });
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, T);

  it('takes the kubelet\'s slice paths for each QoS class, and refuses bad ones with INVALID_ARGUMENT, making nothing', async () => {
    const before = funeUnits();
    for (const [name, bad] of [['notslice', '/kubepods/burstable/pod1'], ['emptypart', 'kubepods--x.slice'], ['wrongpath', '/kubepods.slice/other.slice'], ['colon', 'a:b.slice']] as const) {
      const err = await failure(c.call('RunPodSandbox', { config: podConfig(name, join(dir, 'logs'), { linux: { cgroup_parent: bad } }) }));
      expect(err.code, bad).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toContain(JSON.stringify(bad));
    }
    expect((await c.call('ListPodSandbox', {})).items).toEqual([]);
    expect(funeUnits()).toEqual(before);
    const u = uid();
    for (const [qos, slice] of [
      ['guaranteed', `/kubepods.slice/kubepods-pod${u}.slice`],
      ['burstable', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u}.slice`],
      ['besteffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${u}.slice`],
    ] as const) {
      const r = await runPod(qos, slice);
      await settled(r.ctr, r.conmon);
      expect(cgroupOf(r.pid)).toBe(`${slice}/fune-${r.ctr}.scope`);
      expect(cgroupOf(r.conmon)).toBe(`${slice}/fune-conmon-${r.ctr}.scope`);
      const infra = JSON.parse((await c.call('PodSandboxStatus', { pod_sandbox_id: r.pod, verbose: true })).info.info).pid as number;
      expect(cgroupOf(infra)).toBe(`${slice}/fune-${r.pod}.scope`);
      expect(systemctl('show', '-P', 'Slice', `fune-conmon-${r.ctr}.scope`).trim()).toBe(slice.split('/').at(-1));
    }
    await removeAll();
  }, T);

  it('gives a pod without a parent fune-pod<id>.slice and stops it with the pod', async () => {
    const r = await runPod('noparent', '');
    await settled(r.ctr, r.conmon);
    const slice = `/fune.slice/fune-pod${r.pod}.slice`;
    expect(cgroupOf(r.pid)).toBe(`${slice}/fune-${r.ctr}.scope`);
    expect(cgroupOf(r.conmon)).toBe(`${slice}/fune-conmon-${r.ctr}.scope`);
    await removeAll();
    expect(existsSync(join(CG, slice))).toBe(false);
  }, T);

  it('keeps CreateContainer\'s and UpdateContainerResources\' limits across systemctl daemon-reload', async () => {
    const slice = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid()}.slice`;
    const r = await runPod('limits', slice, { memory_limit_in_bytes: String(64 * MiB), cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', unified: { 'memory.high': String(48 * MiB), 'memory.oom.group': '1' } });
    await settled(r.ctr, r.conmon);
    const cg = cgroupOf(r.pid);
    const created = { 'memory.max': String(64 * MiB), 'memory.swap.max': '0', 'memory.high': String(48 * MiB), 'cpu.max': '50000 100000', 'cpu.weight': '20' };
    for (const [f, v] of Object.entries(created)) expect(read(cg, f), f).toBe(v);
    // fune makes the limits unit properties just after StartContainer answers (settle, off the answer path): wait
    // for the scope to hold them before the reload (a reload in between reset memory.swap.max once, in CI).
    const scope = `fune-${r.ctr}.scope`;
    for (let i = 0; i < 300 && systemctl('show', '-P', 'MemorySwapMax', scope).trim() !== '0'; i++) await new Promise((res) => setTimeout(res, 100));
    expect(systemctl('show', '-P', 'MemorySwapMax', scope).trim()).toBe('0');
    // Setting those properties makes systemd 252 write its own memory.oom.group (0) once, and fune then writes the
    // unified map's 1 back (keepLimits): between the two a read sees 0 (it did in CI), so wait for the write-back.
    for (let i = 0; i < 300 && read(cg, 'memory.oom.group') !== '1'; i++) await new Promise((res) => setTimeout(res, 100));
    expect(read(cg, 'memory.oom.group')).toBe('1');
    systemctl('daemon-reload');
    for (const [f, v] of Object.entries(created)) expect(read(cg, f), `${f} after daemon-reload`).toBe(v);
    await c.call('UpdateContainerResources', {
      container_id: r.ctr,
      linux: { memory_limit_in_bytes: String(96 * MiB), cpu_shares: '256', cpu_quota: '30000', cpu_period: '100000', cpuset_cpus: '0', unified: { 'memory.min': String(8 * MiB) } },
    }, { deadlineMs: 300_000 });
    const updated = { 'memory.max': String(96 * MiB), 'memory.swap.max': '0', 'memory.min': String(8 * MiB), 'cpu.max': '30000 100000', 'cpu.weight': '10', 'cpuset.cpus': '0' };
    for (const [f, v] of Object.entries(updated)) expect(read(cg, f), f).toBe(v);
    systemctl('daemon-reload');
    for (const [f, v] of Object.entries(updated)) expect(read(cg, f), `${f} after daemon-reload`).toBe(v);
    // Documented limit: systemd 252 has no property for memory.oom.group on a scope (OOMPolicy on scopes is 253+).
    const sd = Number(/systemd (\d+)/.exec(sh('systemctl', ['--version']))?.[1]);
    if (sd < 253) expect(read(cg, 'memory.oom.group')).toBe('0');
    else expect(read(cg, 'memory.oom.group')).toBe('1');
    await removeAll();
  }, T);

  it('systemctl restart and stop fune leave all 10 pods\' containers and conmons running, and exits meanwhile are seen', async () => {
    const slice = (i: number) => `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid()}x${i}.slice`;
    const pods: Awaited<ReturnType<typeof runPod>>[] = [];
    for (let i = 0; i < 10; i++) pods.push(await runPod(`surv${i}`, slice(i)));
    for (const p of pods) await settled(p.ctr, p.conmon);
    const main = Number(systemctl('show', '-P', 'MainPID', 'fune').trim());
    systemctl('restart', 'fune');
    expect(Number(systemctl('show', '-P', 'MainPID', 'fune').trim())).not.toBe(main);
    for (const p of pods) expect(alive(p.pid) && alive(p.conmon), p.ctr).toBe(true);
    await reconnect();
    const running = async () => ((await c.call('ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers as { id: string }[]).map((x) => x.id).sort();
    expect(await running()).toEqual(pods.map((p) => p.ctr).sort());
    // The new daemon watches each running container's memory.events for OOM kills again (recovery).
    const watchedBy = async (ps: typeof pods) => {
      const daemon = Number(systemctl('show', '-P', 'MainPID', 'fune').trim());
      return Promise.all(ps.map((p) => inotifyWatched(daemon, join(CG, cgroupOf(p.pid), 'memory.events'))));
    };
    expect(await watchedBy(pods)).toEqual(pods.map(() => true));
    systemctl('stop', 'fune');
    for (const p of pods) expect(alive(p.pid) && alive(p.conmon), p.ctr).toBe(true);
    // Three containers die while fune is down; conmon records their exits.
    const killed = pods.slice(0, 3);
    for (const p of killed) process.kill(p.pid, 'SIGKILL');
    for (const p of killed) for (let i = 0; i < 300 && alive(p.conmon); i++) await new Promise((r) => setTimeout(r, 100));
    systemctl('start', 'fune');
    await reconnect();
    for (const p of killed) {
      const st = (await c.call('ContainerStatus', { container_id: p.ctr })).status;
      expect(st.state, p.ctr).toBe('CONTAINER_EXITED');
      expect(st.exit_code).toBe(137);
    }
    expect(await running()).toEqual(pods.slice(3).map((p) => p.ctr).sort());
    for (const p of pods.slice(3)) expect(alive(p.conmon)).toBe(true);
    expect(await watchedBy(pods.slice(3))).toEqual(pods.slice(3).map(() => true));
    // fune's unit holds the daemon alone.
    const own = systemctl('show', '-P', 'ControlGroup', 'fune').trim();
    expect(read(own, 'cgroup.procs').split('\n')).toEqual([systemctl('show', '-P', 'MainPID', 'fune').trim()]);
    await removeAll();
  }, T);

  it('leaves no scope, slice or cgroup of its own after the pods are removed', async () => {
    const u = uid();
    const r = await runPod('cleanup', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u}.slice`);
    await settled(r.ctr, r.conmon);
    const other = await runPod('cleanup2', '');
    await settled(other.ctr, other.conmon);
    // Other daemons of the VM tier may have scopes of their own: only what these pods made is looked for.
    const ids = [r.pod, r.ctr, other.pod, other.ctr];
    const ours = (lines: string[]) => lines.filter((l) => ids.some((id) => l.includes(id)));
    expect(ours(funeUnits())).toHaveLength(7); // 2 infra + 2 container + 2 conmon scopes, fune-pod<id>.slice
    await removeAll();
    expect(ours(funeUnits())).toEqual([]);
    expect(ours(sh('find', [CG, '-name', 'fune-*', '-type', 'd']).split('\n'))).toEqual([]);
  }, T);
});

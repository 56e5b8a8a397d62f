// cgroup v2 resources on a real cgroup v2 node (the VM tier's guest), read back from what the kernel applied: the
// container's cgroup files (found through /proc/<pid>/cgroup) and, with the systemd driver, its scope's unit
// properties (`systemctl show`). The values are the ones kubelets send: Memory QoS memory.min/memory.high as the
// kubelet computes them, memory.swap.max (1.28+ LimitedSwap/NoSwap), memory.oom.group "1" (1.28+), the 1.22 swap
// semantics (memory_swap_limit_in_bytes), cpu shares/quota/period, cpusets, one hugetlb limit per page size.
// Swap and OOM are driven for real: a container that goes past its limit swaps within its bound, or is OOM-killed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, grpc } from '../helpers/daemon.js';
import { vmEnv, type VmEnv } from './env.js';
import { cgroupFiles, containerPid, DAEMON_DRIVERS, inotifyWatched, unitProps as show, waitFor } from './guest.js';

const MiB = 1024 * 1024;
const PAGE = 4096;

/** milliCPUToShares is the kubelet's (pkg/kubelet/cm/helpers_linux.go). */
const milliCPUToShares = (m: number) => Math.max(2, Math.floor((m * 1024) / 1000));
/** runcWeight is runc's cpu.shares → cpu.weight (libcontainer/cgroups.ConvertCPUSharesToCgroupV2Value). */
const runcWeight = (shares: number) => 1 + Math.floor(((shares - 2) * 9999) / 262142);
/**
 * memoryHigh is the kubelet's Memory QoS memory.high for a container with a limit (1.27+,
 * kuberuntime_container_linux.go generateLinuxContainerResources): floor[(request + factor × (limit − request)) /
 * page] × page, with the default throttling factor 0.9.
 */
const memoryHigh = (request: number, limit: number, factor = 0.9) => Math.floor((request + (limit - request) * factor) / PAGE) * PAGE;
/** burstableSwap is the kubelet's LimitedSwap share (1.30+ calcSwapForBurstablePods): request / node memory × node swap. */
const burstableSwap = (request: number, nodeMemory: number, nodeSwap: number) => Math.trunc((request / nodeMemory) * nodeSwap);

const meminfo = async (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(await readFile('/proc/meminfo', 'utf8'))![1]) * 1024;

// Under every driver that has a shared daemon (both, for the kubelet suite): the systemd half is about systemd
// (unit properties, OOM kills in scopes that systemd removes at once), so CI runs it too.
describe.each(DAEMON_DRIVERS)('cgroup v2 resources (%s driver)', (driver) => {
  let env: VmEnv;
  let pod: { id: string; config: Record<string, unknown> };
  let podDir: string;
  beforeAll(async () => {
    env = await vmEnv(driver, `cgroup-v2-resources-${driver}`);
    pod = await env.runPod(`res-${driver}`);
    // The pod's cgroup: the parent of its infra process's.
    const infra = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true })).info.info as string).pid as number;
    const line = (await readFile(`/proc/${infra}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'))!;
    podDir = join('/sys/fs/cgroup', line.slice(3), '..');
  });
  afterAll(async () => env?.cleanup());

  const create = async (name: string, script: string, resources: Record<string, unknown>) =>
    (await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: { ...containerConfig(name, script), linux: { resources } }, sandbox_config: pod.config })).container_id as string;
  const containerConfig = (name: string, script: string) => ({
    metadata: { name, attempt: 0 }, image: { image: 'registry.fune.test/fune/busybox:latest' }, command: ['/bin/sh', '-c', script], log_path: `${name}.log`, linux: {},
  });
  const run = async (name: string, script: string, resources: Record<string, unknown>) => {
    const id = await create(name, script, resources);
    await env.c.call('StartContainer', { container_id: id });
    return id;
  };
  // With systemd the scope's cgroup is removed as soon as its last process is gone, before the exit is read: the
  // reason comes from fune's watch of memory.events while the container ran (src/runtime/oom-watches.ts).
  const oomed = (code: number) => ({ state: 'CONTAINER_EXITED', exit_code: code, reason: 'OOMKilled' });
  const status = async (id: string) => (await env.c.call('ContainerStatus', { container_id: id })).status as { state: string; exit_code: number; reason: string };

  it('applies the limits and the unified map a kubelet sends, at CreateContainer and UpdateContainerResources', async () => {
    const limit = 64 * MiB;
    const request = 16 * MiB;
    const swap = burstableSwap(request, await meminfo('MemTotal'), await meminfo('SwapTotal'));
    const high = memoryHigh(request, limit);
    const id = await run('limits', 'exec sleep 100000', {
      cpu_shares: String(milliCPUToShares(500)), cpu_period: '100000', cpu_quota: '25000', cpuset_cpus: '1', cpuset_mems: '0',
      memory_limit_in_bytes: String(limit),
      hugepage_limits: [{ page_size: '2MB', limit: String(4 * MiB) }, { page_size: '1GB', limit: '0' }],
      unified: { 'memory.min': String(request), 'memory.high': String(high), 'memory.swap.max': String(swap), 'memory.oom.group': '1', 'pids.max': '100' },
    });
    const cg = await cgroupFiles(env.c, id);
    const want = {
      'cpu.weight': String(runcWeight(512)), 'cpu.max': '25000 100000', 'cpuset.cpus': '1', 'cpuset.mems': '0',
      'memory.max': String(limit), 'memory.min': String(request), 'memory.high': String(high),
      // The kernel keeps swap.max in pages.
      'memory.swap.max': String(Math.floor(swap / PAGE) * PAGE), 'memory.oom.group': '1', 'pids.max': '100',
      'hugetlb.2MB.max': String(4 * MiB), 'hugetlb.1GB.max': '0',
    };
    const got = async (files: Record<string, string>) => Object.fromEntries(await Promise.all(Object.keys(files).map(async (f) => [f, await cg.read(f).catch((e: Error) => `(${e.message})`)])));
    expect(await got(want)).toEqual(want);
    if (driver === 'systemd') {
      expect(show(`fune-${id}.scope`, ['MemoryMax', 'MemoryMin', 'MemoryHigh', 'MemorySwapMax', 'CPUWeight', 'CPUQuotaPerSecUSec', 'AllowedCPUs', 'AllowedMemoryNodes', 'TasksMax'])).toEqual({
        MemoryMax: String(limit), MemoryMin: String(request), MemoryHigh: String(high), MemorySwapMax: String(swap), CPUWeight: '20', CPUQuotaPerSecUSec: '250ms',
        AllowedCPUs: '1', AllowedMemoryNodes: '0', TasksMax: '100',
      });
    }
    // A resize: the new request and limit, Memory QoS recomputed, and a NoSwap kubelet's "0".
    const limit2 = 96 * MiB;
    const request2 = 32 * MiB;
    const high2 = memoryHigh(request2, limit2);
    await env.c.call('UpdateContainerResources', {
      container_id: id,
      linux: {
        cpu_shares: String(milliCPUToShares(1000)), cpu_period: '100000', cpu_quota: '50000', cpuset_cpus: '0-1', cpuset_mems: '0', memory_limit_in_bytes: String(limit2),
        hugepage_limits: [{ page_size: '2MB', limit: String(8 * MiB) }, { page_size: '1GB', limit: '0' }],
        unified: { 'memory.min': String(request2), 'memory.high': String(high2), 'memory.swap.max': '0', 'memory.oom.group': '1', 'pids.max': '200' },
      },
    });
    const want2 = {
      ...want, 'cpu.weight': String(runcWeight(1024)), 'cpu.max': '50000 100000', 'cpuset.cpus': '0-1', 'memory.max': String(limit2), 'memory.min': String(request2),
      'memory.high': String(high2), 'memory.swap.max': '0', 'pids.max': '200', 'hugetlb.2MB.max': String(8 * MiB),
    };
    expect(await got(want2)).toEqual(want2);
    if (driver === 'systemd') {
      expect(show(`fune-${id}.scope`, ['MemoryMax', 'MemoryMin', 'MemoryHigh', 'MemorySwapMax', 'CPUWeight', 'CPUQuotaPerSecUSec', 'AllowedCPUs', 'TasksMax'])).toEqual({
        MemoryMax: String(limit2), MemoryMin: String(request2), MemoryHigh: String(high2), MemorySwapMax: '0', CPUWeight: '39', CPUQuotaPerSecUSec: '500ms', AllowedCPUs: '0-1', TasksMax: '200',
      });
    }
    // Bad unified keys on the running container: refused naming the key, nothing changed.
    for (const [key, value] of [['memory.nosuch', '1'], ['memory.high', 'lots'], ['memory.oom.group', '2'], ['cpu.weight', '0'], ['memory.current', '4096']] as [string, string][]) {
      const err = await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: String(limit2), unified: { 'memory.min': String(8 * MiB), [key]: value } } }));
      expect(err.code, `${key}=${value}`).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details, `${key}=${value}`).toContain(key);
      expect(await got(want2), `after ${key}=${value}`).toEqual(want2);
    }
  });

  it('refuses at CreateContainer a unified key the kernel refuses, naming it, and creates nothing', async () => {
    const children = async () => (await readdir(podDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const before = await children();
    for (const [key, value] of [['memory.nosuch', '1'], ['memory.high', 'lots'], ['memory.high', '-5'], ['memory.oom.group', '2'], ['cpu.weight', '0'], ['cpu.weight', '10001'], ['pids.max', 'x'], ['memory.current', '4096'], ['cgroup.procs', '1']] as [string, string][]) {
      const err = await failure(create(`bad-${key}`, 'true', { memory_limit_in_bytes: String(32 * MiB), unified: { 'memory.oom.group': '1', [key]: value } }));
      expect(err.code, `${key}=${value}`).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details, `${key}=${value}`).toContain(JSON.stringify(key));
    }
    expect(((await env.c.call('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers as { metadata: { name: string } }[]).filter((c) => c.metadata.name.startsWith('bad-'))).toEqual([]);
    expect(await children()).toEqual(before);
  });

  it('swaps within the bound of 1.22\'s memory_swap_limit_in_bytes and of unified memory.swap.max, and OOM-kills without swap', async () => {
    // dd's 40 MiB buffer, filled from /dev/zero, is held while dd blocks writing into a pipe nobody reads.
    const hold = 'dd if=/dev/zero bs=40M count=1 2>/dev/null | sleep 100000';
    const limit = 32 * MiB;
    const bound = 32 * MiB;
    const v122 = await run('swap-122', hold, { memory_limit_in_bytes: String(limit), memory_swap_limit_in_bytes: String(limit + bound) });
    const v128 = await run('swap-128', hold, { memory_limit_in_bytes: String(limit), unified: { 'memory.swap.max': String(bound), 'memory.oom.group': '1' } });
    // 1.22's LimitedSwap on cgroup v2 (memory_swap = memory limit: no swap), with dd as the container's one process.
    const none = await run('swap-none', 'exec dd if=/dev/zero of=/dev/null bs=40M count=1', { memory_limit_in_bytes: String(limit), memory_swap_limit_in_bytes: String(limit) });
    for (const id of [v122, v128]) {
      const cg = await cgroupFiles(env.c, id);
      expect(await cg.read('memory.swap.max')).toBe(String(bound));
      const used = await waitFor(async () => Number(await cg.read('memory.swap.current')), (n) => n > 4 * MiB, 120_000, `${id}'s swap use`);
      expect(used).toBeLessThanOrEqual(bound);
      expect(Number(await cg.read('memory.current'))).toBeLessThanOrEqual(limit);
      expect((await status(id)).state).toBe('CONTAINER_RUNNING');
      if (driver === 'systemd') expect(show(`fune-${id}.scope`, ['MemorySwapMax'])).toEqual({ MemorySwapMax: String(bound) });
    }
    const st = await waitFor(() => status(none), (s) => s.state === 'CONTAINER_EXITED', 120_000, 'the container without swap to exit');
    expect(st).toMatchObject(oomed(137));
  });

  it('reports OOMKilled for one process or the whole container, as memory.oom.group says', async () => {
    const limit = 24 * MiB;
    // sh stays the container's init; its child goes past the limit.
    const script = 'dd if=/dev/zero of=/dev/null bs=40M count=1; echo "child $?"; exit 7';
    const group = await run('oom-group', script, { memory_limit_in_bytes: String(limit), unified: { 'memory.oom.group': '1' } });
    const single = await run('oom-single', script, { memory_limit_in_bytes: String(limit), unified: { 'memory.oom.group': '0' } });
    const g = await waitFor(() => status(group), (s) => s.state === 'CONTAINER_EXITED', 120_000, 'the group to be killed');
    expect(g).toMatchObject(oomed(137));
    const s = await waitFor(() => status(single), (x) => x.state === 'CONTAINER_EXITED', 120_000, 'the single container to exit');
    // Only dd was killed: sh saw it die of SIGKILL and exited by itself; the kernel's oom_kill counts it all the same.
    expect(s).toMatchObject(oomed(7));
  });

  it('watches a running container\'s memory.events for OOM kills, and stops watching when it exits', async () => {
    const id = await run('oom-watch', 'while [ ! -e /tmp/go ]; do sleep 0.2; done', { memory_limit_in_bytes: String(32 * MiB) });
    const cg = await cgroupFiles(env.c, id);
    const events = join(cg.dir, 'memory.events');
    expect(await inotifyWatched(env.d.pid, events)).toBe(true);
    await env.c.call('ExecSync', { container_id: id, cmd: ['touch', '/tmp/go'], timeout: 60 });
    const st = await waitFor(() => status(id), (s) => s.state === 'CONTAINER_EXITED', 120_000, 'the container to exit');
    expect(st).toMatchObject({ exit_code: 0, reason: 'Completed' });
    // With cgroupfs the cgroup stays until StopContainer (runc delete): the watch is closed by fune, not by the kernel.
    if (driver === 'cgroupfs') {
      expect(await readFile(events, 'utf8')).toMatch(/oom_kill 0/);
      expect(await inotifyWatched(env.d.pid, events)).toBe(false);
    }
  });

  it('gives ContainerStats and ListContainerStats from the cgroup v2 files', async () => {
    const id = await run('stats', 'dd if=/dev/zero bs=8M count=1 2>/dev/null | sleep 100000', { memory_limit_in_bytes: String(48 * MiB) });
    const cg = await cgroupFiles(env.c, id);
    await waitFor(async () => Number(await cg.read('memory.current')), (n) => n > 8 * MiB, 60_000, 'the buffer to be charged');
    const files = async () => {
      const stat = Object.fromEntries((await cg.read('memory.stat')).split('\n').map((l) => l.split(' ')));
      const cpu = Object.fromEntries((await cg.read('cpu.stat')).split('\n').map((l) => l.split(' ')));
      const current = Number(await cg.read('memory.current'));
      return { usage: current, ws: current - Number(stat.inactive_file), rss: Number(stat.anon), pgfault: Number(stat.pgfault), pgmajfault: Number(stat.pgmajfault), cpu: Number(cpu.usage_usec) * 1000, swap: Number(await cg.read('memory.swap.current')) };
    };
    for (const ask of [
      async () => (await env.c.call('ContainerStats', { container_id: id })).stats,
      async () => ((await env.c.call('ListContainerStats', { filter: { id } })).stats as unknown[])[0],
    ]) {
      const before = await files();
      const s = (await ask()) as Record<string, Record<string, { value: string } | string>>;
      const after = await files();
      const v = (o: string, f: string) => Number((s[o]![f] as { value: string }).value);
      const between = (x: number, a: number, b: number) => expect(x >= Math.min(a, b) && x <= Math.max(a, b), `${x} between ${a} and ${b}`).toBe(true);
      between(v('cpu', 'usage_core_nano_seconds'), before.cpu, after.cpu);
      between(v('memory', 'usage_bytes'), before.usage, after.usage);
      between(v('memory', 'working_set_bytes'), before.ws, after.ws);
      between(v('memory', 'rss_bytes'), before.rss, after.rss);
      between(v('memory', 'page_faults'), before.pgfault, after.pgfault);
      between(v('memory', 'major_page_faults'), before.pgmajfault, after.pgmajfault);
      between(v('memory', 'available_bytes'), 48 * MiB - before.ws, 48 * MiB - after.ws);
      between(v('swap', 'swap_usage_bytes'), before.swap, after.swap);
      expect(v('swap', 'swap_available_bytes')).toBe(0); // no swap: memory.swap.max is 0
      expect(await containerPid(env.c, id)).toBeGreaterThan(0);
    }
  });
});

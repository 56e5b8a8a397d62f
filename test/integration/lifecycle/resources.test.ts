// UpdateContainerResources and OOM kills through the daemon, checked in the container's own cgroup v1 files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, removalsDone, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

async function runPod(name: string) {
  const config = podConfig(name, env.logDir);
  const { pod_sandbox_id } = await env.c.call('RunPodSandbox', { config });
  return { id: pod_sandbox_id as string, config };
}

async function runContainer(pod: { id: string; config: object }, name: string, script: string, extra: Record<string, unknown> = {}) {
  const { container_id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script, extra), sandbox_config: pod.config });
  await env.c.call('StartContainer', { container_id });
  return container_id as string;
}

/** cgroupOf gives a reader of the container's cgroup v1 files, from the cgroupsPath of its verbose status. */
async function cgroupOf(id: string): Promise<(ctrl: string, file: string) => Promise<string>> {
  const info = JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info);
  const path = info.runtimeSpec.linux.cgroupsPath as string;
  expect(path.startsWith('/')).toBe(true);
  return async (ctrl, file) => (await readFile(join('/sys/fs/cgroup', ctrl, path, file), 'utf8')).trim();
}

const resources = (r: Record<string, unknown>) => ({ cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0', ...r });

describe('UpdateContainerResources', () => {
  it('applies cpu, memory, swap and cpuset to the running container, and refuses bad input changing nothing', async () => {
    const pod = await runPod('upd');
    const id = await runContainer(pod, 'upd', 'exec sleep 1000', { linux: { resources: resources({ memory_limit_in_bytes: String(64 * MiB), cpu_shares: '256' }) } });
    const cg = await cgroupOf(id);
    expect(await cg('memory', 'memory.limit_in_bytes')).toBe(String(64 * MiB));
    expect(await cg('cpu', 'cpu.shares')).toBe('256');
    const pidsBefore = await cg('pids', 'pids.max');

    await env.c.call('UpdateContainerResources', {
      container_id: id,
      linux: resources({ cpu_shares: '512', cpu_period: '100000', cpu_quota: '50000', memory_limit_in_bytes: String(100 * MiB), memory_swap_limit_in_bytes: String(200 * MiB), cpuset_cpus: '0' }),
    });
    expect(await cg('cpu', 'cpu.shares')).toBe('512');
    expect(await cg('cpu', 'cpu.cfs_period_us')).toBe('100000');
    expect(await cg('cpu', 'cpu.cfs_quota_us')).toBe('50000');
    expect(await cg('memory', 'memory.limit_in_bytes')).toBe(String(100 * MiB));
    expect(await cg('memory', 'memory.memsw.limit_in_bytes')).toBe(String(200 * MiB));
    expect(await cg('cpuset', 'cpuset.cpus')).toBe('0');
    // CRI resources have no pids field: an update must leave the pids limit alone.
    expect(await cg('pids', 'pids.max')).toBe(pidsBefore);
    // The status reports what was applied.
    const st = (await env.c.call('ContainerStatus', { container_id: id })).status;
    expect(st.resources.linux).toMatchObject({ memory_limit_in_bytes: String(100 * MiB), cpu_quota: '50000', cpuset_cpus: '0' });

    // Lowering the limit below the current memsw value works too (runc orders the two writes).
    await env.c.call('UpdateContainerResources', { container_id: id, linux: resources({ memory_limit_in_bytes: String(32 * MiB) }) });
    expect(await cg('memory', 'memory.limit_in_bytes')).toBe(String(32 * MiB));
    expect(await cg('memory', 'memory.memsw.limit_in_bytes')).toBe(String(32 * MiB));

    const snapshot = async () => Promise.all([cg('cpu', 'cpu.shares'), cg('cpu', 'cpu.cfs_quota_us'), cg('memory', 'memory.limit_in_bytes'), cg('memory', 'memory.memsw.limit_in_bytes'), cg('cpuset', 'cpuset.cpus')]);
    const before = await snapshot();
    // An invalid cpuset: INVALID_ARGUMENT, nothing changed (the other fields of the same request are not applied).
    const bad = await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: resources({ cpu_shares: '1024', cpuset_cpus: '1--3' }) }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain('cpuset_cpus');
    // Swap below the memory limit: INVALID_ARGUMENT.
    const swap = await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: resources({ memory_limit_in_bytes: String(64 * MiB), memory_swap_limit_in_bytes: String(32 * MiB) }) }));
    expect(swap.code).toBe(grpc.status.INVALID_ARGUMENT);
    // The unified map needs cgroup v2: FAILED_PRECONDITION on this v1 host, nothing changed.
    const uni = await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: resources({ cpu_shares: '1024', unified: { 'memory.high': '1000000' } }) }));
    expect(uni.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(uni.details).toContain('cgroup v2');
    expect(await snapshot()).toEqual(before);
    // Absent container: NOT_FOUND; an exited one: FAILED_PRECONDITION.
    expect((await failure(env.c.call('UpdateContainerResources', { container_id: 'f'.repeat(64), linux: resources({}) }))).code).toBe(grpc.status.NOT_FOUND);
    await env.c.call('StopContainer', { container_id: id, timeout: 0 });
    expect((await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: resources({ cpu_shares: '100' }) }))).code).toBe(grpc.status.FAILED_PRECONDITION);
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});

describe('OOM kill', () => {
  it('reports OOMKilled with exit code 137 for a container that outgrows its memory limit', async () => {
    const pod = await runPod('oom');
    // 200 MiB of shell string in a 16 MiB cgroup without swap: the kernel's OOM killer ends it.
    const id = await runContainer(pod, 'hog', 'x=$(head -c 200m /dev/zero | tr "\\0" a); echo survived', {
      linux: { resources: resources({ memory_limit_in_bytes: String(16 * MiB) }) },
    });
    let st: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) {
      st = (await env.c.call('ContainerStatus', { container_id: id })).status;
      if (st.state === 'CONTAINER_EXITED') break;
      await sleep(50);
    }
    expect(st).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 137, reason: 'OOMKilled' });
    // A container that exits by itself with a limit is not reported as OOM-killed.
    const ok = await runContainer(pod, 'fine', 'exit 0', { linux: { resources: resources({ memory_limit_in_bytes: String(16 * MiB) }) } });
    for (let i = 0; i < 100; i++) {
      st = (await env.c.call('ContainerStatus', { container_id: ok })).status;
      if (st.state === 'CONTAINER_EXITED') break;
      await sleep(50);
    }
    expect(st).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 0, reason: 'Completed' });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});

describe('conmon placement', () => {
  const cgroupLine = async (pid: number, ctrl: string) => (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => l.split(':')[1] === ctrl)?.split(':')[2];
  const exists = (p: string) => access(p).then(() => true, () => false);

  it('moves each conmon into <pod cgroup>/conmon-<id> and removes that cgroup with the container', async () => {
    const parent = `/fune-test-${Math.random().toString(36).slice(2, 8)}`;
    const config = podConfig('mon', env.logDir, { linux: { cgroup_parent: parent } });
    const plain = await runPod('mon-default');
    const pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string, config };
    try {
      for (const [p, podCgroup] of [[pod, parent], [plain, `/fune/pod-${plain.id}`]] as const) {
        const id = await runContainer(p, 'c', 'exec sleep 1000');
        const conmonPid = Number((await readFile(join(env.d.state, 'containers', id, 'conmon.pid'), 'utf8')).trim());
        expect(conmonPid).toBeGreaterThan(0);
        const want = `${podCgroup}/conmon-${id}`;
        for (const ctrl of ['memory', 'cpu', 'pids']) expect(await cgroupLine(conmonPid, ctrl)).toBe(want);
        // the container itself is in its own cgroup beside it; the daemon is elsewhere
        const info = JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info as string) as { pid: number };
        expect(await cgroupLine(info.pid, 'memory')).toBe(`${podCgroup}/${id}`);
        expect(await cgroupLine(env.d.proc.pid!, 'memory')).not.toBe(want);
        await env.c.call('StopContainer', { container_id: id, timeout: 0 });
        await env.c.call('RemoveContainer', { container_id: id });
        await removalsDone(env); // conmon's cgroup goes after the answer
        for (const ctrl of ['memory', 'cpu', 'pids']) expect(await exists(join('/sys/fs/cgroup', ctrl, want))).toBe(false);
      }
      // Removing the pod removes conmon cgroups of containers still there, and fune's own pod cgroup.
      const id = await runContainer(plain, 'd', 'exec sleep 1000');
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: plain.id });
      expect(await exists(join('/sys/fs/cgroup/memory/fune', `pod-${plain.id}`, `conmon-${id}`))).toBe(false);
      expect(await exists(join('/sys/fs/cgroup/memory/fune', `pod-${plain.id}`))).toBe(false);
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: plain.id });
      // the kubelet's cgroup parent is the kubelet's to remove
      for (const ctrl of ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids', 'systemd', 'unified']) await rmdir(join('/sys/fs/cgroup', ctrl, parent)).catch(() => undefined);
    }
  });
});

describe('in-place resize', () => {
  const stat22 = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19];
  it('updates a running container again and again without restarting it, and reports the values in force', async () => {
    const pod = await runPod('resize');
    const id = await runContainer(pod, 'r', 'exec sleep 1000', { linux: { resources: resources({ cpu_shares: '256', memory_limit_in_bytes: String(64 * MiB) }) } });
    const cg = await cgroupOf(id);
    const info = async () => JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info as string) as { pid: number };
    const pid = (await info()).pid;
    const start = await stat22(pid);
    const started = (await env.c.call('ContainerStatus', { container_id: id })).status.started_at;
    // 100000000 is not a multiple of the page size: the cgroup keeps 99999744, the status says what was asked for.
    const steps = [
      resources({ cpu_shares: '512', cpu_period: '100000', cpu_quota: '50000', memory_limit_in_bytes: '100000000', memory_swap_limit_in_bytes: '100000000' }),
      resources({ cpu_shares: '512', cpu_period: '100000', cpu_quota: '50000', memory_limit_in_bytes: '100000000', memory_swap_limit_in_bytes: '100000000' }),
      resources({ cpu_shares: '128', cpu_period: '50000', cpu_quota: '100000', memory_limit_in_bytes: String(48 * MiB), memory_swap_limit_in_bytes: String(48 * MiB) }),
      resources({ cpu_shares: '1024', cpu_period: '100000', cpu_quota: '200000', memory_limit_in_bytes: String(128 * MiB), memory_swap_limit_in_bytes: String(128 * MiB) }),
    ];
    for (const r of steps) {
      await env.c.call('UpdateContainerResources', { container_id: id, linux: r });
      expect(await cg('cpu', 'cpu.shares')).toBe(r.cpu_shares);
      expect(await cg('cpu', 'cpu.cfs_quota_us')).toBe(r.cpu_quota);
      expect(BigInt(await cg('memory', 'memory.limit_in_bytes'))).toBe((BigInt(r.memory_limit_in_bytes) / 4096n) * 4096n);
      const st = (await env.c.call('ContainerStatus', { container_id: id })).status;
      expect(st.resources.linux).toMatchObject({ cpu_shares: r.cpu_shares, cpu_quota: r.cpu_quota, cpu_period: r.cpu_period, memory_limit_in_bytes: r.memory_limit_in_bytes });
      // Never restarted: the same process (pid and start time), still running since the same time.
      expect(st.state).toBe('CONTAINER_RUNNING');
      expect(st.started_at).toBe(started);
      expect((await info()).pid).toBe(pid);
      expect(await stat22(pid)).toBe(start);
    }
    // What the cgroup holds is what the status reports, even when it changed behind fune's back.
    const dir = JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info).runtimeSpec.linux.cgroupsPath as string;
    await writeFile(join('/sys/fs/cgroup/cpu', dir, 'cpu.shares'), '300');
    await writeFile(join('/sys/fs/cgroup/memory', dir, 'memory.memsw.limit_in_bytes'), String(150 * MiB));
    await writeFile(join('/sys/fs/cgroup/memory', dir, 'memory.limit_in_bytes'), String(150 * MiB));
    const st = (await env.c.call('ContainerStatus', { container_id: id })).status;
    expect(st.resources.linux).toMatchObject({ cpu_shares: '300', memory_limit_in_bytes: String(150 * MiB), memory_swap_limit_in_bytes: String(150 * MiB), cpu_quota: '200000' });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('UpdatePodSandboxResources applies resources plus overhead to a pod cgroup fune owns, and only records them when the kubelet owns it', async () => {
    const own = await runPod('podres');
    const podDir = (ctrl: string) => join('/sys/fs/cgroup', ctrl, 'fune', `pod-${own.id}`);
    const r = resources({ cpu_shares: '512', cpu_period: '100000', cpu_quota: '100000', memory_limit_in_bytes: String(256 * MiB) });
    const o = resources({ cpu_shares: '10', cpu_period: '100000', cpu_quota: '10000', memory_limit_in_bytes: String(16 * MiB) });
    await env.c.call('UpdatePodSandboxResources', { pod_sandbox_id: own.id, resources: r, overhead: o });
    expect((await readFile(join(podDir('cpu'), 'cpu.shares'), 'utf8')).trim()).toBe('522');
    expect((await readFile(join(podDir('cpu'), 'cpu.cfs_quota_us'), 'utf8')).trim()).toBe('110000');
    expect((await readFile(join(podDir('memory'), 'memory.limit_in_bytes'), 'utf8')).trim()).toBe(String(272 * MiB));
    const verbose = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: own.id, verbose: true })).info.info);
    expect(verbose.updatedResources.resources).toMatchObject({ cpu_shares: '512' });
    // Bad input changes nothing; an unknown pod is NOT_FOUND.
    const bad = await failure(env.c.call('UpdatePodSandboxResources', { pod_sandbox_id: own.id, resources: resources({ cpu_shares: '2', cpuset_cpus: '1--3' }) }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await readFile(join(podDir('cpu'), 'cpu.shares'), 'utf8')).trim()).toBe('522');
    expect((await failure(env.c.call('UpdatePodSandboxResources', { pod_sandbox_id: 'f'.repeat(64), resources: r }))).code).toBe(grpc.status.NOT_FOUND);

    // A kubelet-given cgroup parent is the kubelet's: accepted, recorded, its files left as they are.
    const parent = `/fune-test-${Math.random().toString(36).slice(2, 8)}`;
    const config = podConfig('podres-k', env.logDir, { linux: { cgroup_parent: parent } });
    const kid = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    try {
      const before = await readFile(join('/sys/fs/cgroup/cpu', parent, 'cpu.shares'), 'utf8');
      await env.c.call('UpdatePodSandboxResources', { pod_sandbox_id: kid, resources: r, overhead: o });
      expect(await readFile(join('/sys/fs/cgroup/cpu', parent, 'cpu.shares'), 'utf8')).toBe(before);
      const v = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: kid, verbose: true })).info.info);
      expect(v.updatedResources.overhead).toMatchObject({ cpu_shares: '10' });
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: kid });
      for (const ctrl of ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids', 'systemd', 'unified']) await rmdir(join('/sys/fs/cgroup', ctrl, parent)).catch(() => undefined);
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: own.id });
    }
  });
});

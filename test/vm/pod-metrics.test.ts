// ListPodSandboxMetrics on cgroup v2 (the guest): a container's rows against ContainerStats asked at the same
// moment, its limits against the kernel's cgroup v2 files, and the pressure (PSI) rows that only v2 has.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmEnv, IMAGE, type VmEnv } from './env.js';
import { cgroupFiles, DRIVERS } from './guest.js';

type Row = { name: string; label_values: string[]; value: { value: string } };
const MiB = 1024 * 1024;

function one(rows: Row[], name: string, extra: string[] = []): bigint {
  const r = rows.filter((x) => x.name === name && x.label_values.slice(5).join() === extra.join());
  expect(r, `${name}{${extra.join()}}`).toHaveLength(1);
  return BigInt(r[0]!.value.value);
}
/** psiSome gives the `some` total of a PSI file in whole seconds (undefined where the kernel keeps no PSI). */
const psiSome = async (dir: string, file: string) => {
  const t = await readFile(join(dir, file), 'utf8').catch(() => undefined);
  return t === undefined ? undefined : BigInt(/^some .*total=(\d+)/m.exec(t)![1]!) / 1_000_000n;
};

describe.each(DRIVERS)('CRI pod metrics on cgroup v2 (%s driver)', (driver) => {
  let env: VmEnv;
  beforeAll(async () => {
    env = await vmEnv(driver, 'pod-metrics');
  });
  afterAll(async () => env?.cleanup());

  it('agree with ContainerStats and the cgroup v2 files, with pressure rows', async () => {
    const pod = await env.runPod('metrics-v2');
    const id = await env.runContainer(pod, 'app', 'exec sleep 100000', { linux: { resources: { memory_limit_in_bytes: String(48 * MiB), cpu_period: '100000', cpu_quota: '50000' } } });
    const cg = await cgroupFiles(env.c, id);
    const before = { cpu: await psiSome(cg.dir, 'cpu.pressure'), mem: await psiSome(cg.dir, 'memory.pressure') };
    const [list, stats] = await Promise.all([env.c.call('ListPodSandboxMetrics', {}), env.c.call('ContainerStats', { container_id: id })]);
    const after = { cpu: await psiSome(cg.dir, 'cpu.pressure'), mem: await psiSome(cg.dir, 'memory.pressure') };
    const mine = (list.pod_metrics as { pod_sandbox_id: string; metrics: Row[]; container_metrics: { container_id: string; metrics: Row[] }[] }[]).find((p) => p.pod_sandbox_id === pod.id)!;
    const m = mine.container_metrics.find((c) => c.container_id === id)!.metrics;
    for (const r of m) expect(r.label_values.slice(0, 5)).toEqual([id, IMAGE, 'fune-test', 'metrics-v2', 'app']);
    const s = stats.stats;
    expect(one(m, 'container_memory_working_set_bytes')).toBe(BigInt(s.memory.working_set_bytes.value));
    expect(one(m, 'container_memory_usage_bytes')).toBe(BigInt(s.memory.usage_bytes.value));
    expect(one(m, 'container_memory_rss')).toBe(BigInt(s.memory.rss_bytes.value));
    expect(one(m, 'container_cpu_usage_seconds_total', ['total'])).toBe(BigInt(s.cpu.usage_core_nano_seconds.value) / 1_000_000_000n);
    expect(one(m, 'container_spec_memory_limit_bytes')).toBe(BigInt(await cg.read('memory.max')));
    expect(one(m, 'container_spec_cpu_quota')).toBe(BigInt((await cg.read('cpu.max')).split(' ')[0]!));
    expect(one(m, 'container_spec_cpu_period')).toBe(100000n);
    expect(one(m, 'container_processes')).toBe(BigInt((await cg.read('cgroup.procs')).split('\n').length));
    const pidsMax = await cg.read('pids.max');
    expect(one(m, 'container_threads_max')).toBe(pidsMax === 'max' ? 0n : BigInt(pidsMax));
    if (before.cpu === undefined) {
      // A kernel booted without PSI (psi=0) has no pressure files, and there are no pressure rows.
      expect(m.filter((r) => r.name.startsWith('container_pressure_'))).toEqual([]);
      return;
    }
    // PSI totals only grow: the row lies between the reads before and after.
    const cpu = one(m, 'container_pressure_cpu_waiting_seconds_total');
    expect(cpu >= before.cpu && cpu <= after.cpu!).toBe(true);
    const mem = one(m, 'container_pressure_memory_waiting_seconds_total');
    expect(mem >= before.mem! && mem <= after.mem!).toBe(true);
    for (const n of ['cpu_stalled', 'memory_stalled', 'io_waiting', 'io_stalled']) one(m, `container_pressure_${n}_seconds_total`);
  });
});

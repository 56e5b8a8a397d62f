 
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

describe('many pods at once, events and stats', () => {
  it('creates 20 pods with a container each concurrently, streams their events, reports stats, removes them, leaves nothing', async () => {
    const events: { container_id: string; container_event_type: string }[] = [];
    const call = (env.c.raw as any).GetContainerEvents({});
    call.on('data', (e: { container_id: string; container_event_type: string }) => events.push(e));
    call.on('error', () => undefined);
    const pods = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const config = podConfig(`p${i}`, env.logDir);
        const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
        const ctr = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('c', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
        await env.c.call('StartContainer', { container_id: ctr });
        return { pod, ctr };
      }),
    );
    expect((await env.c.call('ListPodSandbox', { filter: { state: { state: 'SANDBOX_READY' } } })).items).toHaveLength(20);
    expect((await env.c.call('ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers).toHaveLength(20);

    const cs = (await env.c.call('ContainerStats', { container_id: pods[0]!.ctr })).stats;
    expect(BigInt(cs.cpu.usage_core_nano_seconds.value)).toBeGreaterThan(0n);
    expect(BigInt(cs.memory.working_set_bytes.value)).toBeGreaterThan(0n);
    expect((await env.c.call('ListContainerStats', {})).stats).toHaveLength(20);
    const ps = (await env.c.call('PodSandboxStats', { pod_sandbox_id: pods[0]!.pod })).stats;
    expect(ps.linux.containers).toHaveLength(1);
    expect(BigInt(ps.linux.process.process_count.value)).toBeGreaterThanOrEqual(2n);
    expect((await env.c.call('ListPodSandboxStats', {})).stats).toHaveLength(20);

    await Promise.all(pods.map((p) => env.c.call('RemovePodSandbox', { pod_sandbox_id: p.pod })));
    const deleted = () => events.filter((e) => e.container_event_type === 'CONTAINER_DELETED_EVENT' && pods.some((p) => p.ctr === e.container_id)).length;
    for (let i = 0; i < 100 && deleted() < pods.length; i++) await new Promise((r) => setTimeout(r, 50));
    call.cancel();
    for (const p of pods) {
      const kinds = events.filter((e) => e.container_id === p.ctr).map((e) => e.container_event_type);
      expect(kinds).toEqual(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
    }
    expect((await env.c.call('ListPodSandbox', {})).items).toEqual([]);
    expect(await readdir(join(env.d.state, 'pods'))).toEqual([]);
    expect(await readdir(join(env.d.state, 'containers'))).toEqual([]);
    expect(await readdir(join(env.d.state, 'runc'))).toEqual([]);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(env.d.dir)).toBe(false);
    expect(await readdir(join(env.d.state, 'netns')).catch(() => [])).toEqual([]);
  });
});

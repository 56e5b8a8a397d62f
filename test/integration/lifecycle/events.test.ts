// GetContainerEvents as the kubelet's evented PLEG reads it (pkg/kubelet/pleg/evented.go): every event carries
// the pod's status with its metadata and the status of each container of the pod; pods have events of their own
// under the pod id; PodSandboxStatus carries the container statuses and a timestamp.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

interface Ev {
  container_id: string;
  container_event_type: string;
  created_at: string;
  pod_sandbox_status: { id: string; state: string; metadata: { uid: string; name: string; namespace: string } } | null;
  containers_statuses: { id: string; state: string; exit_code: number; started_at: string; finished_at: string; labels: Record<string, string>; metadata: { name: string } }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function subscribe(): { events: Ev[]; until(n: number): Promise<void>; cancel(): void } {
  const events: Ev[] = [];
  const call = (env.c.raw as any).GetContainerEvents({});
  call.on('data', (e: Ev) => events.push(e));
  call.on('error', () => undefined);
  return {
    events,
    async until(n) {
      for (let i = 0; i < 200 && events.length < n; i++) await sleep(25);
    },
    cancel: () => call.cancel(),
  };
}

describe('GetContainerEvents payloads', () => {
  it('sends pod and container events, each with the pod status and every container status of the pod', async () => {
    const sub = subscribe();
    await sleep(100); // the stream is open before the first event
    const config = podConfig('ev', env.logDir);
    const uid = (config.metadata as { uid: string }).uid;
    const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const ctr = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('c', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await env.c.call('StartContainer', { container_id: ctr });

    // PodSandboxStatus carries the statuses of the pod's containers and when they were read.
    const before = BigInt(Date.now()) * 1_000_000n;
    const ps = await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod });
    expect(BigInt(ps.timestamp)).toBeGreaterThanOrEqual(before - 1_000_000_000n);
    expect(ps.containers_statuses.map((c: { id: string; state: string }) => [c.id, c.state])).toEqual([[ctr, 'CONTAINER_RUNNING']]);

    await env.c.call('StopContainer', { container_id: ctr, timeout: 0 });
    await env.c.call('RemoveContainer', { container_id: ctr });
    await env.c.call('StopPodSandbox', { pod_sandbox_id: pod });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    await sub.until(8);
    sub.cancel();

    const seen = sub.events.map((e) => [e.container_id === pod ? 'pod' : e.container_id === ctr ? 'ctr' : e.container_id, e.container_event_type]);
    expect(seen).toEqual([
      ['pod', 'CONTAINER_CREATED_EVENT'],
      ['pod', 'CONTAINER_STARTED_EVENT'],
      ['ctr', 'CONTAINER_CREATED_EVENT'],
      ['ctr', 'CONTAINER_STARTED_EVENT'],
      ['ctr', 'CONTAINER_STOPPED_EVENT'],
      ['ctr', 'CONTAINER_DELETED_EVENT'],
      ['pod', 'CONTAINER_STOPPED_EVENT'],
      ['pod', 'CONTAINER_DELETED_EVENT'],
    ]);
    // Every event names the pod by its uid (the kubelet drops events without it), in time order.
    for (const e of sub.events) {
      expect(e.pod_sandbox_status?.id).toBe(pod);
      expect(e.pod_sandbox_status?.metadata).toMatchObject({ uid, name: 'ev', namespace: 'fune-test' });
    }
    const times = sub.events.map((e) => BigInt(e.created_at));
    expect(times.every((t, i) => t > 0n && (i === 0 || t >= times[i - 1]!))).toBe(true);

    const states = (e: Ev) => e.containers_statuses.map((c) => [c.id, c.state]);
    const [podCreated, podStarted, created, started, stopped, deleted, podStopped, podDeleted] = sub.events as [Ev, Ev, Ev, Ev, Ev, Ev, Ev, Ev];
    expect(podCreated.pod_sandbox_status?.state).toBe('SANDBOX_READY');
    expect(states(podCreated)).toEqual([]);
    expect(podStarted.pod_sandbox_status?.state).toBe('SANDBOX_READY');
    expect(states(created)).toEqual([[ctr, 'CONTAINER_CREATED']]);
    expect(created.containers_statuses[0]).toMatchObject({ metadata: { name: 'c' }, labels: { ctr: 'c' } });
    expect(states(started)).toEqual([[ctr, 'CONTAINER_RUNNING']]);
    expect(BigInt(started.containers_statuses[0]!.started_at)).toBeGreaterThan(0n);
    expect(states(stopped)).toEqual([[ctr, 'CONTAINER_EXITED']]);
    expect(stopped.containers_statuses[0]).toMatchObject({ exit_code: 137 });
    expect(BigInt(stopped.containers_statuses[0]!.finished_at)).toBeGreaterThan(0n);
    expect(states(deleted)).toEqual([]);
    expect(deleted.pod_sandbox_status?.state).toBe('SANDBOX_READY');
    expect(podStopped.pod_sandbox_status?.state).toBe('SANDBOX_NOTREADY');
    expect(podDeleted.pod_sandbox_status?.state).toBe('SANDBOX_NOTREADY');
    expect(states(podDeleted)).toEqual([]);
  });

  it('events of containers removed with their pod still carry the pod', async () => {
    const sub = subscribe();
    await sleep(100);
    const config = podConfig('ev2', env.logDir);
    const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const id = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(name, 'exec sleep 1000'), sandbox_config: config })).container_id as string;
      await env.c.call('StartContainer', { container_id: id });
      ids.push(id);
    }
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    await sub.until(2 + 4 + 2 + 2 + 2);
    sub.cancel();
    for (const id of ids) {
      const mine = sub.events.filter((e) => e.container_id === id);
      expect(mine.map((e) => e.container_event_type)).toEqual(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      for (const e of mine) expect(e.pod_sandbox_status?.id).toBe(pod);
    }
    // Both containers' stop events show both containers (the other one running or exited, never missing).
    const stops = sub.events.filter((e) => e.container_event_type === 'CONTAINER_STOPPED_EVENT' && ids.includes(e.container_id));
    for (const e of stops) expect(e.containers_statuses.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(sub.events.filter((e) => e.container_id === pod).map((e) => e.container_event_type)).toEqual([
      'CONTAINER_CREATED_EVENT',
      'CONTAINER_STARTED_EVENT',
      'CONTAINER_STOPPED_EVENT',
      'CONTAINER_DELETED_EVENT',
    ]);
  });
});

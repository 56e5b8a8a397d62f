 
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rename, access } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await sleep(50);
  }
}

async function runPod(name: string) {
  const config = podConfig(name, env.logDir);
  const { pod_sandbox_id } = await env.c.call('RunPodSandbox', { config });
  return { id: pod_sandbox_id as string, config };
}

async function runContainer(pod: { id: string; config: object }, name: string, script: string, extra: Record<string, unknown> = {}) {
  const { container_id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script, extra), sandbox_config: pod.config });
  return container_id as string;
}

const status = async (id: string, verbose = false) => env.c.call('ContainerStatus', { container_id: id, verbose });

describe('containers', () => {
  it('creates, starts, logs, stops and removes containers in a pod, with status, filters and clashes', async () => {
    const pod = await runPod('multi');
    try {
      const a = await runContainer(pod, 'a', 'echo hello World; echo oops >&2; printf partial; exec sleep 1000');
      const b = await runContainer(pod, 'b', 'exit 3');
      let st = (await status(a)).status;
      expect(st.state).toBe('CONTAINER_CREATED');
      expect(st.log_path).toBe(join(env.logDir, 'multi', 'a.log'));
      expect(st.image.image).toContain('busybox');
      // duplicate name in the pod: ALREADY_EXISTS, nothing changed
      const dup = await failure(env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('a', 'true'), sandbox_config: pod.config }));
      expect(dup.code).toBe(grpc.status.ALREADY_EXISTS);
      expect((await env.c.call('ListContainers', {})).containers).toHaveLength(2);

      await env.c.call('StartContainer', { container_id: a });
      await env.c.call('StartContainer', { container_id: b });
      st = (await status(a, true));
      expect(st.status.state).toBe('CONTAINER_RUNNING');
      expect(BigInt(st.status.started_at)).toBeGreaterThan(0n);
      const info = JSON.parse(st.info.info);
      expect(info.pid).toBeGreaterThan(0);
      expect(info.runtimeSpec.process.args).toEqual(['/bin/sh', '-c', 'echo hello World; echo oops >&2; printf partial; exec sleep 1000']);
      expect(info.sandboxID).toBe(pod.id);
      // starting again is FAILED_PRECONDITION
      expect((await failure(env.c.call('StartContainer', { container_id: a }))).code).toBe(grpc.status.FAILED_PRECONDITION);

      const sb = await until(() => status(b), (s) => s.status.state === 'CONTAINER_EXITED');
      expect(sb.status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 3, reason: 'Error' });
      expect(BigInt(sb.status.finished_at)).toBeGreaterThanOrEqual(BigInt(sb.status.started_at));

      const log = await until(() => readFile(join(env.logDir, 'multi', 'a.log'), 'utf8'), (t) => t.includes('partial'));
      const lines = log.trim().split('\n').map((l) => l.split(' '));
      expect(lines.find((l) => l[1] === 'stdout' && l[2] === 'F' && l.slice(3).join(' ') === 'hello World')).toBeTruthy();
      expect(lines.find((l) => l[1] === 'stderr' && l[2] === 'F' && l[3] === 'oops')).toBeTruthy();
      expect(lines.find((l) => l[1] === 'stdout' && l[2] === 'P' && l[3] === 'partial')).toBeTruthy();
      for (const l of lines) expect(Number.isNaN(Date.parse(l[0]!))).toBe(false);

      // filters
      const ids = async (filter: object) => (await env.c.call('ListContainers', { filter })).containers.map((c: { id: string }) => c.id).sort();
      expect(await ids({})).toEqual([a, b].sort());
      expect(await ids({ id: a.slice(0, 8) })).toEqual([a]);
      expect(await ids({ state: { state: 'CONTAINER_RUNNING' } })).toEqual([a]);
      expect(await ids({ state: { state: 'CONTAINER_EXITED' } })).toEqual([b]);
      expect(await ids({ pod_sandbox_id: pod.id })).toEqual([a, b].sort());
      expect(await ids({ pod_sandbox_id: 'ffff' })).toEqual([]);
      expect(await ids({ label_selector: { ctr: 'b' } })).toEqual([b]);

      // reopen after the kubelet moved the file
      await rename(join(env.logDir, 'multi', 'a.log'), join(env.logDir, 'multi', 'a.log.1'));
      await env.c.call('ReopenContainerLog', { container_id: a });
      await access(join(env.logDir, 'multi', 'a.log'));
      expect((await failure(env.c.call('ReopenContainerLog', { container_id: b }))).code).toBe(grpc.status.FAILED_PRECONDITION);

      const t0 = Date.now();
      await env.c.call('StopContainer', { container_id: a, timeout: 10 });
      expect(Date.now() - t0).toBeLessThan(5000); // sleep dies of SIGTERM at once
      st = (await status(a)).status;
      expect(st.state).toBe('CONTAINER_EXITED');
      expect(st.exit_code).toBe(143);
      await env.c.call('StopContainer', { container_id: a, timeout: 10 }); // no-op
      await env.c.call('RemoveContainer', { container_id: a });
      await env.c.call('RemoveContainer', { container_id: a });
      expect((await failure(status(a))).code).toBe(grpc.status.NOT_FOUND);
      expect((await failure(env.c.call('StartContainer', { container_id: a }))).code).toBe(grpc.status.NOT_FOUND);
      // the name is free again
      const a2 = await runContainer(pod, 'a', 'true');
      expect(a2).not.toBe(a);
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    }
    expect((await env.c.call('ListContainers', {})).containers).toEqual([]);
  });

  it('uses SIGKILL after the timeout for a container that ignores SIGTERM', async () => {
    const pod = await runPod('stubborn');
    try {
      const id = await runContainer(pod, 'c', "trap '' TERM; while true; do sleep 0.1; done");
      await env.c.call('StartContainer', { container_id: id });
      await sleep(300);
      const t0 = Date.now();
      await env.c.call('StopContainer', { container_id: id, timeout: 1 });
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
      expect((await status(id)).status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 137 });
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    }
  });

  it('refuses bad input and changes nothing', async () => {
    const pod = await runPod('bad');
    try {
      expect((await failure(env.c.call('CreateContainer', { pod_sandbox_id: 'f'.repeat(64), config: containerConfig('x', 'true') }))).code).toBe(grpc.status.NOT_FOUND);
      expect((await failure(env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: { ...containerConfig('x', 'true'), image: { image: 'nope/absent:1' } } }))).code).toBe(grpc.status.NOT_FOUND);
      expect((await env.c.call('ListContainers', {})).containers).toEqual([]);
      // A missing binary is found by `runc create`, which runs at StartContainer (as containerd's task create
      // does): the start fails with runc's message and leaves the container EXITED (StartError, 128), with no
      // conmon, runc state or rootfs mount behind it; it can still be removed.
      const y = await runContainer(pod, 'y', 'true', { command: ['/no/such/binary'] });
      expect((await status(y)).status.state).toBe('CONTAINER_CREATED');
      const bad = await failure(env.c.call('StartContainer', { container_id: y }));
      expect(bad.code).not.toBe(grpc.status.OK);
      expect(bad.details).toMatch(/no\/such\/binary/);
      const sy = (await status(y)).status;
      expect(sy).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 128, reason: 'StartError' });
      expect(sy.message).toMatch(/no\/such\/binary/);
      expect((await failure(env.c.call('StartContainer', { container_id: y }))).code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(await access(join(env.d.state, 'runc', y)).then(() => true, () => false)).toBe(false);
      expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(y)).toBe(false);
      await env.c.call('RemoveContainer', { container_id: y });
      expect((await env.c.call('ListContainers', {})).containers).toEqual([]);
      // the names were released
      await runContainer(pod, 'y', 'true');
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    }
  });
});

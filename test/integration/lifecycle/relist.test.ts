// The relist's answers (ListPodSandbox, ListContainers, ContainerStatus) come from cached encodings of each record
// (src/cri/entry-cache.ts) and from held /proc stat files of the infra processes (HeldProcesses): once a container's
// exit is on disk or a pod's infra process is gone, the very next answer must say so, on v1 and v1alpha2 alike,
// with the filters still selecting by the new state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criClient, type CriClient } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
let alpha: CriClient;
beforeAll(async () => {
  env = await startEnv();
  alpha = criClient(env.d.socket, 'v1alpha2');
});
afterAll(async () => {
  alpha?.close();
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(ok: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** heldStats lists the /proc/<pid>/stat files the daemon holds open. */
function heldStats(): string[] {
  const dir = `/proc/${env.d.proc.pid}/fd`;
  return readdirSync(dir)
    .map((fd) => {
      try {
        return readlinkSync(join(dir, fd));
      } catch {
        return '';
      }
    })
    .filter((l) => /^\/proc\/\d+\/stat$/.test(l));
}

/** relist asks what the kubelet's PLEG asks, on both API versions, so that every cache holds the current state. */
async function relist(): Promise<void> {
  for (const c of [env.c, alpha]) {
    await c.call('ListPodSandbox', {});
    const { containers } = await c.call('ListContainers', {});
    for (const k of containers) await c.call('ContainerStatus', { container_id: k.id });
  }
}

describe('relist answers', () => {
  it('show an exit on the very next ContainerStatus and ListContainers, both versions, filters included', async () => {
    const config = podConfig('relist-exit', env.logDir);
    const { pod_sandbox_id: pod } = await env.c.call('RunPodSandbox', { config });
    try {
      // `a` exits with 7 once the test writes /go into its rootfs; `b` keeps running
      const a = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('a', 'while [ ! -e /go ]; do sleep 0.02; done; exit 7'), sandbox_config: config })).container_id as string;
      const b = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('b', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
      // cached while CREATED, then the answers must follow the start
      await relist();
      await env.c.call('StartContainer', { container_id: a });
      await env.c.call('StartContainer', { container_id: b });
      for (const c of [env.c, alpha]) {
        expect((await c.call('ContainerStatus', { container_id: a })).status.state).toBe('CONTAINER_RUNNING');
        const listed = (await c.call('ListContainers', {})).containers as { id: string; state: string }[];
        expect(listed.map((k) => [k.id, k.state]).sort()).toEqual([[a, 'CONTAINER_RUNNING'], [b, 'CONTAINER_RUNNING']].sort());
      }
      for (let i = 0; i < 3; i++) await relist();

      const rootfs = JSON.parse((await env.c.call('ContainerStatus', { container_id: a, verbose: true })).info.info).runtimeSpec.root.path as string;
      const exitFile = join(env.d.state, 'exits', a);
      writeFileSync(join(rootfs, 'go'), '');
      await waitFor(() => existsSync(exitFile), 'the exit file');
      // conmon writes the file's content right after creating it: give it that moment, not the daemon's watch
      await sleep(20);

      // the very next answers, from caches that held RUNNING: v1alpha2 first, then v1
      for (const c of [alpha, env.c]) {
        const st = (await c.call('ContainerStatus', { container_id: a })).status;
        expect(st).toMatchObject({ id: a, state: 'CONTAINER_EXITED', exit_code: 7, reason: 'Error' });
        expect(BigInt(st.finished_at)).toBeGreaterThanOrEqual(BigInt(st.started_at));
        const listed = (await c.call('ListContainers', {})).containers as { id: string; state: string }[];
        expect(listed.find((k) => k.id === a)?.state).toBe('CONTAINER_EXITED');
        expect(listed.find((k) => k.id === b)?.state).toBe('CONTAINER_RUNNING');
        const ids = async (filter: object) => ((await c.call('ListContainers', { filter })).containers as { id: string }[]).map((k) => k.id).sort();
        expect(await ids({ state: { state: 'CONTAINER_RUNNING' } })).toEqual([b]);
        expect(await ids({ state: { state: 'CONTAINER_EXITED' } })).toEqual([a]);
        expect(await ids({ id: a.slice(0, 10) })).toEqual([a]);
        expect(await ids({ label_selector: { ctr: 'a' } })).toEqual([a]);
        expect(await ids({ pod_sandbox_id: pod, label_selector: { ctr: 'b' } })).toEqual([b]);
      }
      // removal: gone from both versions' answers at once
      await env.c.call('RemoveContainer', { container_id: a });
      for (const c of [alpha, env.c]) {
        expect(((await c.call('ListContainers', {})).containers as { id: string }[]).map((k) => k.id)).toEqual([b]);
        await expect(c.call('ContainerStatus', { container_id: a })).rejects.toMatchObject({ code: 5 });
      }
    } finally {
      await env.c.call('StopPodSandbox', { pod_sandbox_id: pod });
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    }
  });

  it('lists a pod NOTREADY on the very next ListPodSandbox once its infra process is gone, and lets go of its stat file', async () => {
    const configs = [podConfig('relist-pod-a', env.logDir), podConfig('relist-pod-b', env.logDir)];
    const pods: string[] = [];
    for (const config of configs) pods.push((await env.c.call('RunPodSandbox', { config })).pod_sandbox_id);
    const [p, q] = pods as [string, string];
    try {
      for (let i = 0; i < 3; i++) await relist();
      const pid = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: p, verbose: true })).info.info).pid as number;
      const qpid = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: q, verbose: true })).info.info).pid as number;
      expect(heldStats().sort()).toEqual([`/proc/${pid}/stat`, `/proc/${qpid}/stat`].sort());

      process.kill(pid, 'SIGKILL');
      // dead: reaped (its stat file gone) or a zombie until its parent reaps it
      const dead = () => {
        try {
          return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return true;
        }
      };
      await waitFor(dead, 'the infra process to die');
      for (const c of [alpha, env.c]) {
        const items = (await c.call('ListPodSandbox', {})).items as { id: string; state: string }[];
        expect(items.map((s) => [s.id, s.state]).sort()).toEqual([[p, 'SANDBOX_NOTREADY'], [q, 'SANDBOX_READY']].sort());
        const ids = async (filter: object) => ((await c.call('ListPodSandbox', { filter })).items as { id: string }[]).map((s) => s.id);
        expect(await ids({ state: { state: 'SANDBOX_READY' } })).toEqual([q]);
        expect(await ids({ state: { state: 'SANDBOX_NOTREADY' } })).toEqual([p]);
        expect(await ids({ label_selector: { app: 'relist-pod-b' } })).toEqual([q]);
        expect(await ids({ id: p.slice(0, 10) })).toEqual([p]);
      }
      expect((await env.c.call('PodSandboxStatus', { pod_sandbox_id: p })).status.state).toBe('SANDBOX_NOTREADY');
      expect(heldStats()).toEqual([`/proc/${qpid}/stat`]);

      // stopping the other pod lets go of its file; it is listed NOTREADY
      await env.c.call('StopPodSandbox', { pod_sandbox_id: q });
      expect(heldStats()).toEqual([]);
      for (const c of [alpha, env.c]) {
        expect(((await c.call('ListPodSandbox', {})).items as { state: string }[]).map((s) => s.state)).toEqual(['SANDBOX_NOTREADY', 'SANDBOX_NOTREADY']);
      }
    } finally {
      for (const id of pods) await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
    }
    expect(heldStats()).toEqual([]);
    for (const c of [alpha, env.c]) expect((await c.call('ListPodSandbox', {})).items).toEqual([]);
  });
});

// RemoveContainer answers once the container's record says `removing`; its writable layer, bundle, runtime
// leftovers and monitor cgroup go after the answer. These tests check that the normal case leaves nothing, that the
// CRI sees the container gone at the answer (and its name free), and that a daemon SIGKILLed in the middle of a
// removal finishes it at the next start. The fault is real: a file in the container's writable layer made
// immutable (chattr +i), which the removal cannot delete until the test clears the flag while fune is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv | undefined;
const stuck: string[] = [];

beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  for (const f of stuck) {
    try {
      execFileSync('chattr', ['-i', f], { stdio: 'ignore' });
    } catch {
      // moved or gone
    }
  }
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (p: string) => access(p).then(() => true, () => false);

/** named lists the paths under `dir` (to `depth` levels) whose name contains `id`. */
async function named(dir: string, id: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.name.includes(id)) out.push(p);
    else if (e.isDirectory() && depth > 0) out.push(...(await named(p, id, depth - 1)));
  }
  return out;
}

/** leftovers lists what container `id` still has on the host: files and directories, mounts, cgroups, its record. */
async function leftovers(e: LifecycleEnv, id: string): Promise<string[]> {
  const v2 = await exists('/sys/fs/cgroup/cgroup.controllers');
  const cgroupBases = v2 ? ['/sys/fs/cgroup/fune'] : (await readdir('/sys/fs/cgroup')).map((c) => join('/sys/fs/cgroup', c, 'fune'));
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(id)).map((l) => `mount ${l.split(' ')[4]}`);
  const files = [...(await named(e.d.root, id, 3)), ...(await named(e.d.state, id, 3))];
  const cgroups = (await Promise.all(cgroupBases.map((b) => named(b, id, 1)))).flat().map((c) => `cgroup ${c}`);
  return [...files, ...mounts, ...cgroups];
}

/** gone waits (up to 10 s) until container `id` has left nothing, and gives what is left then. */
async function gone(e: LifecycleEnv, id: string): Promise<string[]> {
  let left = await leftovers(e, id);
  for (let i = 0; i < 100 && left.length; i++) {
    await sleep(100);
    left = await leftovers(e, id);
  }
  return left;
}

async function runPod(e: LifecycleEnv, name: string): Promise<{ id: string; config: Record<string, unknown> }> {
  const config = podConfig(name, e.logDir);
  return { id: (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string, config };
}

async function runContainer(e: LifecycleEnv, pod: { id: string; config: Record<string, unknown> }, name: string, script: string): Promise<string> {
  const id = (await e.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script), sandbox_config: pod.config })).container_id as string;
  await e.c.call('StartContainer', { container_id: id });
  return id;
}

const listed = async (e: LifecycleEnv) => ((await e.c.call('ListContainers', {})).containers as { id: string }[]).map((c) => c.id);

describe('RemoveContainer', () => {
  it('removes a running container: gone for the CRI at the answer, its name free, and nothing of it left on the host', async () => {
    const e = env!;
    const pod = await runPod(e, 'rm-running');
    try {
      const id = await runContainer(e, pod, 'app', 'echo x > /written; exec sleep 1000');
      const pid = (JSON.parse((await e.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info as string) as { pid: number }).pid;
      expect(pid).toBeGreaterThan(0);
      expect(await leftovers(e, id)).not.toEqual([]);
      await e.c.call('RemoveContainer', { container_id: id });
      // At the answer: not listed, NotFound, its process dead, and its name free for a new container.
      expect(await listed(e)).not.toContain(id);
      expect((await failure(e.c.call('ContainerStatus', { container_id: id }))).code).toBe(grpc.status.NOT_FOUND);
      expect((await failure(e.c.call('StartContainer', { container_id: id }))).code).toBe(grpc.status.NOT_FOUND);
      expect(await exists(`/proc/${pid}/cmdline`).then(async (x) => x && !(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).includes(') Z'))).toBe(false);
      const again = await runContainer(e, pod, 'app', 'exec sleep 1000');
      expect(again).not.toBe(id);
      expect((await e.c.call('ContainerStatus', { container_id: again })).status.state).toBe('CONTAINER_RUNNING');
      // Removing it again, or an id never known, is fine (idempotent, as containerd answers).
      await e.c.call('RemoveContainer', { container_id: id });
      await e.c.call('RemoveContainer', { container_id: 'f'.repeat(64) });
      // Soon after: no mount, directory, record, exit file, runc state or cgroup names it.
      expect(await gone(e, id)).toEqual([]);
      // Concurrent removes of one container all succeed, and leave nothing.
      await Promise.all([1, 2, 3].map(() => e.c.call('RemoveContainer', { container_id: again })));
      expect(await listed(e)).toEqual([]);
      expect(await gone(e, again)).toEqual([]);
    } finally {
      await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    }
    expect((await e.c.call('ListPodSandbox', {})).items).toEqual([]);
  });

  it('lets RemovePodSandbox right after RemoveContainer remove the pod with all it had', async () => {
    const e = env!;
    const pod = await runPod(e, 'rm-then-pod');
    const ids = await Promise.all(['a', 'b', 'c'].map((n) => runContainer(e, pod, n, 'exec sleep 1000')));
    await Promise.all(ids.map((id) => e.c.call('RemoveContainer', { container_id: id })));
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect((await e.c.call('ListPodSandbox', {})).items).toEqual([]);
    for (const id of [...ids, pod.id]) expect(await leftovers(e, id)).toEqual([]);
  });

  it('finishes at the next start a removal that a SIGKILL of the daemon cut short', async () => {
    const e = env!;
    const pod = await runPod(e, 'rm-crash');
    const id = await runContainer(e, pod, 'app', 'echo x > /stuck; exec sleep 1000');
    const upper = join(e.d.root, 'image', 'rootfs', id, 'upper');
    for (let i = 0; i < 100 && !(await exists(join(upper, 'stuck'))); i++) await sleep(50);
    execFileSync('chattr', ['+i', join(upper, 'stuck')]);
    stuck.push(join(upper, 'stuck'));
    await e.c.call('RemoveContainer', { container_id: id });
    expect(await listed(e)).not.toContain(id);
    // After the answer the removal fails on the immutable file, and is tried again while fune runs.
    for (let i = 0; i < 100 && !/removing what container \w+ left failed/.test(e.d.logs()); i++) await sleep(50);
    expect(e.d.logs()).toMatch(new RegExp(`removing what container ${id} left failed`));
    const left = await leftovers(e, id);
    expect(left.some((p) => p.includes(join('root', 'containers', `${id}.json`)))).toBe(true); // the `removing` record
    expect(left.some((p) => p.includes(join('image', 'rootfs')))).toBe(true);
    // A container of the same name can be made meanwhile: the name went with the answer.
    const twin = await runContainer(e, pod, 'app', 'exec sleep 1000');
    await e.restart('SIGKILL', async () => {
      // The writable layer may have been renamed aside (image/rootfs/.tmp-rm-<id>.*) before the delete failed.
      for (const f of await named(join(e.d.root, 'image', 'rootfs'), id, 0)) {
        const p = join(f, 'upper', 'stuck');
        if (await exists(p)) {
          execFileSync('chattr', ['-i', p]);
          stuck.splice(0, stuck.length);
        }
      }
    });
    expect(stuck).toEqual([]);
    expect(e.d.logs()).toContain('recovery: finishing the removal of a container');
    expect(await listed(e)).toEqual([twin]);
    expect((await failure(e.c.call('ContainerStatus', { container_id: id }))).code).toBe(grpc.status.NOT_FOUND);
    expect(await leftovers(e, id)).toEqual([]);
    // The twin kept its name across the restart: a third container of that name is refused.
    const dup = await failure(e.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('app', 'true'), sandbox_config: pod.config }));
    expect(dup.code).toBe(grpc.status.ALREADY_EXISTS);
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect(await leftovers(e, twin)).toEqual([]);
    expect(await leftovers(e, pod.id)).toEqual([]);
  });

  it('leaves nothing whatever point of their removals a SIGKILL met', async () => {
    const e = env!;
    const pod = await runPod(e, 'rm-burst');
    const ids = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => runContainer(e, pod, n, 'exec sleep 1000')));
    await Promise.all(ids.map((id) => e.c.call('RemoveContainer', { container_id: id })));
    await e.restart('SIGKILL');
    expect(await listed(e)).toEqual([]);
    for (const id of ids) expect(await leftovers(e, id)).toEqual([]);
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect(await leftovers(e, pod.id)).toEqual([]);
  });
});

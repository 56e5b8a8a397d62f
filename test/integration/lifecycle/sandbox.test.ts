import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { podConfig, startEnv, type LifecycleEnv } from './env.js';

const require = createRequire(import.meta.url);
let env: LifecycleEnv;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const alive = (pid: number) => {
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string;
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
};

describe('pod cgroup parents (cgroupfs)', () => {
  it.each([
    ['a dot-dot element', '/kubepods/../../etc'],
    ['a colon (a systemd cgroupsPath)', 'kubepods.slice:fune:x'],
    ['the root cgroup', '/'],
  ])('refuses %s with INVALID_ARGUMENT and makes nothing', async (_what, parent) => {
    const cfg = podConfig('badparent', env.logDir, { linux: { cgroup_parent: parent } });
    const err = await failure(env.c.call('RunPodSandbox', { config: cfg }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('cgroup parent');
    expect((await env.c.call('ListPodSandbox', {})).items).toEqual([]);
    expect(await readdir(join(env.d.state, 'pods')).catch(() => [])).toEqual([]);
    expect(await readdir(join(env.d.state, 'netns')).catch(() => [])).toEqual([]);
    // The name was not kept: the same pod with a good parent runs.
    const good = `/fune-test-parent-${process.pid}`;
    const { pod_sandbox_id: id } = await env.c.call('RunPodSandbox', { config: { ...cfg, linux: { cgroup_parent: good } } });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
    // The parent is the "kubelet's": fune leaves it, so the test removes it.
    for (const ctrl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) await rmdir(join('/sys/fs/cgroup', ctrl, good)).catch(() => undefined);
  });
});

describe('pod sandboxes', () => {
  it('runs a pod with a catatonit infra process, reports and lists it, stops and removes it idempotently', async () => {
    const cfg = podConfig('web', env.logDir, { dns_config: { servers: ['10.0.0.10'], searches: ['svc.local'], options: ['ndots:5'] } });
    const { pod_sandbox_id: id } = await env.c.call('RunPodSandbox', { config: cfg });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const st = await env.c.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    expect(st.status.state).toBe('SANDBOX_READY');
    expect(st.status.metadata.name).toBe('web');
    expect(st.status.labels).toEqual({ app: 'web', tier: 'test' });
    const info = JSON.parse(st.info.info);
    expect(info.pid).toBeGreaterThan(0);
    expect(info.runtimeSpec.process.args).toEqual(['/catatonit', '-P']);
    expect(alive(info.pid)).toBe(true);
    expect(await readFile(`/proc/${info.pid}/comm`, 'utf8')).toMatch(/catatonit/);
    const podDir = join(env.d.state, 'pods', id);
    expect(await readFile(join(podDir, 'resolv.conf'), 'utf8')).toBe('search svc.local\nnameserver 10.0.0.10\noptions ndots:5\n');
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(join(podDir, 'shm'))).toBe(true);
    // its own network namespace
    const nsPod = await import('node:fs/promises').then((f) => f.readlink(`/proc/${info.pid}/ns/net`));
    expect(nsPod).not.toBe(await import('node:fs/promises').then((f) => f.readlink('/proc/self/ns/net')));

    // prefix lookups and filters
    expect((await env.c.call('PodSandboxStatus', { pod_sandbox_id: id.slice(0, 12) })).status.id).toBe(id);
    const all = (await env.c.call('ListPodSandbox', {})).items.map((x: { id: string }) => x.id);
    expect(all).toContain(id);
    expect((await env.c.call('ListPodSandbox', { filter: { id: id.slice(0, 10) } })).items).toHaveLength(1);
    expect((await env.c.call('ListPodSandbox', { filter: { label_selector: { app: 'web' } } })).items.map((x: { id: string }) => x.id)).toEqual([id]);
    expect((await env.c.call('ListPodSandbox', { filter: { label_selector: { app: 'nope' } } })).items).toEqual([]);
    expect((await env.c.call('ListPodSandbox', { filter: { state: { state: 'SANDBOX_NOTREADY' } } })).items).toEqual([]);

    // duplicate name: ALREADY_EXISTS and nothing changed
    const dup = await failure(env.c.call('RunPodSandbox', { config: cfg }));
    expect(dup.code).toBe(grpc.status.ALREADY_EXISTS);
    expect((await env.c.call('ListPodSandbox', {})).items).toHaveLength(all.length);

    await env.c.call('StopPodSandbox', { pod_sandbox_id: id });
    await env.c.call('StopPodSandbox', { pod_sandbox_id: id });
    expect((await env.c.call('PodSandboxStatus', { pod_sandbox_id: id })).status.state).toBe('SANDBOX_NOTREADY');
    expect(alive(info.pid)).toBe(false);
    expect((await env.c.call('ListPodSandbox', { filter: { state: { state: 'SANDBOX_NOTREADY' } } })).items.map((x: { id: string }) => x.id)).toEqual([id]);
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
    expect((await failure(env.c.call('PodSandboxStatus', { pod_sandbox_id: id }))).code).toBe(grpc.status.NOT_FOUND);
    await expect(access(podDir)).rejects.toThrow();
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(podDir)).toBe(false);
    expect(await readdir(join(env.d.state, 'runc')).catch(() => [])).toEqual([]);
  });

  it('runs a host-network pod in the host namespace with the host hostname', async () => {
    const cfg = podConfig('hostnet', env.logDir, { linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } });
    const { pod_sandbox_id: id } = await env.c.call('RunPodSandbox', { config: cfg });
    try {
      const info = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true })).info.info);
      const fs = await import('node:fs/promises');
      expect(await fs.readlink(`/proc/${info.pid}/ns/net`)).toBe(await fs.readlink('/proc/self/ns/net'));
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
    }
  });

  it('answers NOT_FOUND for absent pods, OK for stopping or removing them, and INVALID_ARGUMENT for a config without metadata', async () => {
    expect((await failure(env.c.call('PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }))).code).toBe(grpc.status.NOT_FOUND);
    // Stop and Remove of an id that does not exist succeed (critest v1.32 "Idempotence"; containerd 1.6.35+, CRI-O 1.31).
    for (const id of ['f'.repeat(64), 'c3b2e1d0-5a6f-4e7d-8c9b-0a1b2c3d4e5f', 'abc']) {
      await env.c.call('StopPodSandbox', { pod_sandbox_id: id });
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
      await env.c.call('StopContainer', { container_id: id, timeout: 0 });
      await env.c.call('RemoveContainer', { container_id: id });
    }
    // an empty id is still bad input
    expect((await failure(env.c.call('StopPodSandbox', { pod_sandbox_id: '' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(env.c.call('StopContainer', { container_id: '' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failure(env.c.call('RunPodSandbox', { config: { metadata: { name: 'x' } } }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await env.c.call('ListPodSandbox', {})).items).toEqual([]);
  });
});

// Resources StartContainer would fail on (cpusets beyond the host's online CPUs and memory nodes, memory limits
// below what runc needs) are refused by CreateContainer and UpdateContainerResources through the real daemon:
// INVALID_ARGUMENT naming the field and the host's range, and nothing made or changed (no record, bundle, rootfs,
// mount or reserved name; an update leaves the record, the bundle's spec and the kernel's cgroup files alone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, footprint, footprintDiff, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';

const MiB = 1024 * 1024;
const onlineCpus = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
const onlineMems = readFileSync('/sys/devices/system/node/online', 'utf8').trim();
const lastId = (list: string) => Math.max(...list.split(/[,-]/).map(Number));
/** a CPU and a memory node this host does not have. */
const noCpu = lastId(onlineCpus) + 98;
const noMem = lastId(onlineMems) + 3;

let env: LifecycleEnv;
let pod: { id: string; config: Record<string, unknown> };
let seq = 0;

beforeAll(async () => {
  env = await startEnv();
  const config = podConfig('limits', env.logDir);
  pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id, config };
});
afterAll(async () => {
  if (pod) await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch(() => undefined);
  await env?.cleanup();
});

const create = async (name: string, script: string, resources: Record<string, unknown>) =>
  (await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script, { linux: { resources } }), sandbox_config: pod.config })).container_id as string;

/** BAD are resources the host cannot give, with what the error must say. */
const BAD: [string, Record<string, unknown>, RegExp][] = [
  [`cpuset_cpus ${onlineCpus},${noCpu}`, { cpuset_cpus: `${onlineCpus},${noCpu}` }, new RegExp(`cpuset_cpus: CPUs ${noCpu} of .* not online on this host \\(online: ${onlineCpus}\\)`)],
  [`cpuset_cpus ${noCpu}-${noCpu + 1}`, { cpuset_cpus: `${noCpu}-${noCpu + 1}` }, new RegExp(`cpuset_cpus: CPUs ${noCpu}-${noCpu + 1} .*online: ${onlineCpus}`)],
  [`cpuset_mems ${noMem}`, { cpuset_mems: String(noMem) }, new RegExp(`cpuset_mems: memory nodes ${noMem} .*online: ${onlineMems}`)],
  ['memory 1 byte', { memory_limit_in_bytes: '1' }, /memory_limit_in_bytes: 1 is below the minimum of 6291456 bytes/],
  ['memory 2 MiB', { memory_limit_in_bytes: String(2 * MiB) }, /memory_limit_in_bytes: 2097152 is below the minimum/],
  ['memory 6 MiB - 1', { memory_limit_in_bytes: String(6 * MiB - 1) }, /memory_limit_in_bytes: 6291455 is below the minimum/],
];

describe('CreateContainer refuses resources the host cannot give, and makes nothing', () => {
  it.each(BAD)('%s', async (_what, resources, message) => {
    const name = `bad${++seq}`;
    const before = await footprint(env);
    const f = await failure(create(name, 'true', resources));
    expect(f.code, f.details).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.details).toMatch(message);
    expect((await env.c.call('ListContainers', {})).containers.filter((c: { metadata: { name: string } }) => c.metadata.name === name)).toEqual([]);
    expect(footprintDiff(before, await footprint(env))).toEqual([]);
    // the name was not kept: the same name with resources the host has works
    const id = await create(name, 'true', { cpuset_cpus: onlineCpus, memory_limit_in_bytes: String(6 * MiB) });
    await env.c.call('RemoveContainer', { container_id: id });
  });
});

describe('UpdateContainerResources refuses them and changes nothing', () => {
  it.each(BAD)('%s, on a created and on a running container', async (_what, resources, message) => {
    const good = { cpuset_cpus: '0', cpuset_mems: '0', memory_limit_in_bytes: String(32 * MiB) };
    const created = await create(`upd-created${++seq}`, 'sleep 1000', good);
    const running = await create(`upd-running${seq}`, 'exec sleep 1000', good);
    await env.c.call('StartContainer', { container_id: running });
    const info = JSON.parse((await env.c.call('ContainerStatus', { container_id: running, verbose: true })).info.info);
    const cg = (ctrl: string, file: string) => readFile(join('/sys/fs/cgroup', ctrl, info.runtimeSpec.linux.cgroupsPath, file), 'utf8');
    const kernelBefore = [await cg('cpuset', 'cpuset.cpus'), await cg('memory', 'memory.limit_in_bytes')];
    for (const id of [created, running]) {
      const statusBefore = (await env.c.call('ContainerStatus', { container_id: id })).status.resources;
      const bundle = join(env.d.state, 'containers', id, 'config.json');
      const specBefore = await readFile(bundle, 'utf8');
      const f = await failure(env.c.call('UpdateContainerResources', { container_id: id, linux: resources }));
      expect(f.code, f.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(f.details).toMatch(message);
      expect((await env.c.call('ContainerStatus', { container_id: id })).status.resources).toEqual(statusBefore);
      expect(await readFile(bundle, 'utf8')).toBe(specBefore);
    }
    expect([await cg('cpuset', 'cpuset.cpus'), await cg('memory', 'memory.limit_in_bytes')]).toEqual(kernelBefore);
    expect(kernelBefore).toEqual(['0\n', `${32 * MiB}\n`]);
    for (const id of [created, running]) await env.c.call('RemoveContainer', { container_id: id });
  });
});

describe('limits the host can give still start', () => {
  it('all online CPUs and memory nodes, and the 6 MiB floor itself', async () => {
    const id = await create(`ok${++seq}`, 'cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.limit_in_bytes', { cpuset_cpus: onlineCpus, cpuset_mems: onlineMems, memory_limit_in_bytes: String(6 * MiB) });
    await env.c.call('StartContainer', { container_id: id });
    let st;
    for (let i = 0; i < 200; i++) {
      st = (await env.c.call('ContainerStatus', { container_id: id })).status;
      if (st.state === 'CONTAINER_EXITED') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(st.state).toBe('CONTAINER_EXITED');
    expect(st.exit_code, st.message).toBe(0);
    const log = await readFile(st.log_path, 'utf8');
    expect(log).toContain(` stdout F ${onlineCpus}`);
    expect(log).toContain(` stdout F ${6 * MiB}`);
    await env.c.call('RemoveContainer', { container_id: id });
  });
});

// The features Status advertises, and that they are delivered: recursive read-only mounts (runc's `rro`, checked
// by writing into a submount from inside the container and by the container's mountinfo read from the host) and
// SupplementalGroupsPolicy Merge/Strict (ContainerStatus.user against what the kernel gave the process, in
// /proc/<pid>/status and `id -G`, for the first process and an exec'd one). Refused requests leave nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, grpc } from '../../helpers/daemon.js';
import { busyboxImage, makeTar, ociArchive } from '../../../hack/test-images.js';
import { containerConfig, footprint, footprintDiff, importImage, logText, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';

/** GROUP_IMAGE is critest's test-image-predefined-group: default-user (1000) is a member of group 50000. */
const GROUP_IMAGE = 'registry.fune.test/fune/predefined-group:latest';

let env: LifecycleEnv;
let pod: { id: string; config: Record<string, unknown> };
let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function groupImageArchive(): Promise<Buffer> {
  const layer = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\n' },
    { name: 'etc/group', body: 'root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' },
  ]);
  return ociArchive([{ ref: GROUP_IMAGE, image: await busyboxImage({ layers: [layer], user: '1000' }) }]);
}

async function create(config: Record<string, unknown>): Promise<string> {
  const { container_id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
  return container_id as string;
}

async function started(config: Record<string, unknown>): Promise<{ id: string; pid: number }> {
  const id = await create(config);
  await env.c.call('StartContainer', { container_id: id });
  const info = JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info);
  return { id, pid: info.pid as number };
}

async function execOut(id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const r = await env.c.call('ExecSync', { container_id: id, cmd, timeout: '10' });
  return { code: r.exit_code as number, out: Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString() };
}

beforeAll(async () => {
  env = await startEnv();
  await importImage(env.d.state, await groupImageArchive());
  const config = podConfig('features', env.logDir);
  pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string, config };
});

afterAll(async () => {
  if (pod) await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch(() => undefined);
  await env?.cleanup();
});

describe('Status', () => {
  it('lists the runc handler under its name and as "", with the features this node has', async () => {
    const st = await env.c.call('Status', {});
    expect(st.runtime_handlers.map((h: { name: string }) => h.name)).toEqual(['runc', '']);
    for (const h of st.runtime_handlers) {
      // Debian 12's runc 1.1.5 lists rro in `runc features`, and the kernel is past 5.12.
      expect(h.features.recursive_read_only_mounts).toBe(true);
    }
    expect(st.features.supplemental_groups_policy).toBe(true);
  });
});

describe('recursive read-only mounts', () => {
  let host: string;
  beforeAll(async () => {
    // critest's layout: a host directory with a tmpfs mounted at <dir>/tmpfs.
    host = await mkdtemp('/tmp/fune-rro-');
    execFileSync('mkdir', ['-p', join(host, 'tmpfs')]);
    execFileSync('mount', ['-t', 'tmpfs', 'none', join(host, 'tmpfs')]);
  });
  afterAll(async () => {
    if (!host) return;
    execFileSync('umount', ['-l', join(host, 'tmpfs')]);
    await rm(host, { recursive: true, force: true });
  });
  const mount = (over: Record<string, unknown>) => ({ host_path: host, container_path: '/mnt', readonly: true, selinux_relabel: true, ...over });

  it.each([
    ['recursive', true, /Read-only file system/],
    ['not recursive', false, /^written$/],
  ])('%s: the submount read-only inside (as the kernel reports): %s', async (_name, rro, touch) => {
    const { id, pid } = await started(containerConfig(`rro${++seq}`, 'sleep 1000', { mounts: [mount({ recursive_read_only: rro })] }));
    try {
      const st = (await env.c.call('ContainerStatus', { container_id: id })).status;
      expect(st.mounts).toHaveLength(1);
      expect(st.mounts[0]).toMatchObject({ container_path: '/mnt', readonly: true, recursive_read_only: rro });
      expect((await execOut(id, ['sh', '-c', 'touch /mnt/top 2>&1'])).out).toMatch(/Read-only file system/);
      expect((await execOut(id, ['sh', '-c', 'touch /mnt/tmpfs/foo 2>&1 && echo written'])).out.trim()).toMatch(touch);
      // From the host: the container's own mount table has /mnt/tmpfs read-only exactly when rro was asked for.
      const line = (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).split('\n').find((l) => l.split(' ')[4] === '/mnt/tmpfs');
      expect(line, 'the tmpfs submount is in the container').toBeDefined();
      expect(line!.split(' ')[5]!.split(',').includes('ro')).toBe(rro);
    } finally {
      await env.c.call('RemoveContainer', { container_id: id });
    }
  });

  it.each([
    ['readonly false', { readonly: false }, /needs readonly/],
    ['PROPAGATION_HOST_TO_CONTAINER', { propagation: 'PROPAGATION_HOST_TO_CONTAINER' }, /needs PROPAGATION_PRIVATE/],
    ['PROPAGATION_BIDIRECTIONAL', { propagation: 'PROPAGATION_BIDIRECTIONAL' }, /needs PROPAGATION_PRIVATE/],
  ])('%s is INVALID_ARGUMENT and leaves nothing behind', async (_name, over, message) => {
    const before = await footprint(env);
    const absent = join(host, `never-made-${++seq}`);
    const f = await failure(create(containerConfig(`bad${seq}`, 'true', { mounts: [mount({ recursive_read_only: true, ...over }), { host_path: absent, container_path: '/x' }] })));
    expect(f.code, f.details).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.details).toMatch(message);
    expect(footprintDiff(before, await footprint(env))).toEqual([]);
    // not even the missing hostPath of another mount was made
    expect(existsSync(absent)).toBe(false);
    expect((await env.c.call('ListContainers', {})).containers).toEqual([]);
  });
});

describe('SupplementalGroupsPolicy', () => {
  it.each([
    ['Merge', ['1000', '1234', '50000']],
    ['Strict', ['1000', '1234']],
  ])('%s: ContainerStatus.user is what the kernel gave the process', async (policy, groups) => {
    const config = containerConfig(`groups${++seq}`, 'id -G; sleep 1000', {
      image: { image: GROUP_IMAGE },
      linux: { security_context: { run_as_user: { value: '1000' }, supplemental_groups: ['1234'], supplemental_groups_policy: policy } },
    });
    const { id, pid } = await started(config);
    try {
      const user = (await env.c.call('ContainerStatus', { container_id: id })).status.user.linux;
      expect({ ...user, supplemental_groups: [...user.supplemental_groups].sort() }).toEqual({ uid: '1000', gid: '1000', supplemental_groups: groups });
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('1000');
      expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).toBe('1000');
      expect(/^Groups:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).sort()).toEqual(groups);
      const want = `${groups.join(' ')}\n`;
      for (let i = 0; i < 100 && !(await logText(env, id)).includes('\n'); i++) await sleep(30);
      expect(await logText(env, id)).toBe(want);
      expect((await execOut(id, ['id', '-G'])).out).toBe(want);
    } finally {
      await env.c.call('RemoveContainer', { container_id: id });
    }
  });
});

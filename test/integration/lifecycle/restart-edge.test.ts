// Restart edge cases: a pod whose infra process died while fune was down, and a StartContainer cut short by a
// daemon crash (runc create hangs in a wrapper; SIGKILL the daemon; restart): what the start left is removed
// (processes, runc state, cgroups) and the container is CREATED again, ready to start; and a CreateContainer cut
// short before its record was written leaves nothing behind after a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, chmod, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

const HANG_SECONDS = '31536017';
let env: LifecycleEnv | undefined;
let wrapDir = '';

/** processesWith lists pids whose command line contains `needle`. */
async function processesWith(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const cmd = await readFile(`/proc/${n}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').join(' ').includes(needle)) out.push(Number(n));
  }
  return out;
}

beforeAll(async () => {
  wrapDir = await mkdtemp(join(tmpdir(), 'fune-runcwrap-'));
  // A runc that hangs in `create` while <wrapDir>/hang exists, after saying so in <wrapDir>/entered. While
  // <wrapDir>/hidefifo exists, `create` hides the new container's exec FIFO (renamed beside it), so that fune's
  // in-process start finds none and runs `runc start`, which hangs while <wrapDir>/hangstart exists (after
  // <wrapDir>/entered-start), then puts the FIFO back and starts.
  const w = wrapDir;
  const wrapper = `#!/bin/sh
root=; prev=; last=
for a in "$@"; do
  case "$a" in --root=*) root="\${a#--root=}";; esac
  [ "$prev" = --root ] && root="$a"
  prev="$a"; last="$a"
done
for a in "$@"; do
  if [ "$a" = create ] && [ -e ${w}/hang ]; then touch ${w}/entered; exec sleep ${HANG_SECONDS}; fi
  if [ "$a" = create ] && [ -e ${w}/hidefifo ]; then /usr/sbin/runc "$@" || exit $?; mv "$root/$last/exec.fifo" "$root/$last/exec.fifo.hidden"; exit 0; fi
  if [ "$a" = start ] && [ -e ${w}/hangstart ]; then
    touch ${w}/entered-start
    while [ -e ${w}/hangstart ]; do sleep 0.05; done
    mv "$root/$last/exec.fifo.hidden" "$root/$last/exec.fifo"
    exec /usr/sbin/runc "$@"
  fi
done
exec /usr/sbin/runc "$@"
`;
  await writeFile(join(wrapDir, 'runc'), wrapper);
  await chmod(join(wrapDir, 'runc'), 0o755);
  env = await startEnv(`[runtime]\nrunc_path = "${join(wrapDir, 'runc')}"\n`);
});
afterAll(async () => {
  await env?.cleanup();
  for (const pid of await processesWith(`sleep ${HANG_SECONDS}`)) process.kill(pid, 'SIGKILL');
  if (wrapDir) await rm(wrapDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (p: string) => access(p).then(() => true, () => false);

describe('restart edge cases', () => {
  it('reports a pod whose infra process died while fune was down NOTREADY, and still stops and removes it', async () => {
    const e = env!;
    const config = podConfig('orphaned', e.logDir);
    const pod = (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const ctr = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('app', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await e.c.call('StartContainer', { container_id: ctr });
    const infraPid = (JSON.parse((await e.c.call('PodSandboxStatus', { pod_sandbox_id: pod, verbose: true })).info.info as string) as { pid: number }).pid;
    expect(infraPid).toBeGreaterThan(0);
    await e.restart('SIGKILL', async () => {
      process.kill(infraPid, 'SIGKILL');
      for (let i = 0; i < 100 && (await exists(`/proc/${infraPid}/stat`)) && !(await readFile(`/proc/${infraPid}/stat`, 'utf8').catch(() => '')).includes(') Z'); i++) await sleep(20);
    });
    expect((await e.c.call('PodSandboxStatus', { pod_sandbox_id: pod })).status.state).toBe('SANDBOX_NOTREADY');
    const ready = await e.c.call('ListPodSandbox', { filter: { state: { state: 'SANDBOX_READY' } } });
    expect(ready.items.map((p: { id: string }) => p.id)).not.toContain(pod);
    // The infra process was the init of the pod's pid namespace: the container died with it, and conmon's exit
    // file, read at recovery, says so.
    expect((await e.c.call('ContainerStatus', { container_id: ctr })).status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 137 });
    // No new containers in a pod that is not ready.
    const refused = await failure(e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('late', 'true'), sandbox_config: config }));
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    await e.c.call('StopPodSandbox', { pod_sandbox_id: pod });
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    expect((await e.c.call('ListPodSandbox', {})).items).toEqual([]);
    expect(await readdir(join(e.d.state, 'pods')).catch(() => [])).toEqual([]);
  });

  it('cleans up a StartContainer cut short by a daemon crash: the container stays CREATED, nothing of the start is left, and it starts again', async () => {
    const e = env!;
    const config = podConfig('interrupted', e.logDir);
    const pod = (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    // CreateContainer runs no runc (containerd-like): the hang is in StartContainer's `runc create`.
    const half = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('half', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await writeFile(join(wrapDir, 'hang'), '');
    const pending = failure(e.c.call('StartContainer', { container_id: half }));
    for (let i = 0; i < 200 && !(await exists(join(wrapDir, 'entered'))); i++) await sleep(25);
    expect(await exists(join(wrapDir, 'entered'))).toBe(true);
    expect(await processesWith(join(e.d.state, 'containers', half))).not.toEqual([]);
    await e.restart('SIGKILL', async () => {
      expect((await pending).code).toBe(grpc.status.UNAVAILABLE);
      await rm(join(wrapDir, 'hang'));
    });
    // Recovery removed what the start left (runc state, monitor, hung runc, conmon's cgroup); the container is CREATED.
    const list = (await e.c.call('ListContainers', {})).containers as { id: string; state: string }[];
    expect(list.map((c) => [c.id, c.state])).toEqual([[half, 'CONTAINER_CREATED']]);
    expect(await exists(join(e.d.state, 'runc', half))).toBe(false);
    expect(await exists(join(e.d.state, 'exits', half))).toBe(false);
    expect(await processesWith(join(e.d.state, 'containers', half))).toEqual([]);
    expect(await processesWith(`sleep ${HANG_SECONDS}`)).toEqual([]);
    expect(await exists(join('/sys/fs/cgroup/memory/fune', `pod-${pod}`, `conmon-${half}`))).toBe(false);
    expect(e.d.logs()).toContain('never started');
    // It starts now, and once removed its name is free again.
    await e.c.call('StartContainer', { container_id: half });
    expect((await e.c.call('ContainerStatus', { container_id: half })).status.state).toBe('CONTAINER_RUNNING');
    await e.c.call('RemoveContainer', { container_id: half });
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(half));
    expect(mounts).toEqual([]);
    const again = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('half', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await e.c.call('StartContainer', { container_id: again });
    expect((await e.c.call('ContainerStatus', { container_id: again })).status.state).toBe('CONTAINER_RUNNING');
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    expect((await e.c.call('ListPodSandbox', {})).items).toEqual([]);
  });

  it('recovers a container whose RUNNING record was written while runc start ran when the daemon crashed: CREATED again, and it starts', async () => {
    const e = env!;
    const config = podConfig('start-racing', e.logDir);
    const pod = (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const ctr = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('racing', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await writeFile(join(wrapDir, 'hidefifo'), '');
    await writeFile(join(wrapDir, 'hangstart'), '');
    const pending = failure(e.c.call('StartContainer', { container_id: ctr }));
    for (let i = 0; i < 400 && !(await exists(join(wrapDir, 'entered-start'))); i++) await sleep(25);
    expect(await exists(join(wrapDir, 'entered-start'))).toBe(true);
    // StartContainer writes the RUNNING record while runc start runs (here: hangs).
    const record = join(e.d.root, 'containers', `${ctr}.json`);
    const recorded = async () => (JSON.parse(await readFile(record, 'utf8')) as { data: { state: string; pid: number } }).data;
    for (let i = 0; i < 200 && (await recorded()).state !== 'CONTAINER_RUNNING'; i++) await sleep(25);
    expect(await recorded()).toMatchObject({ state: 'CONTAINER_RUNNING', pid: expect.any(Number) as number });
    await e.restart('SIGKILL', async () => {
      expect((await pending).code).toBe(grpc.status.UNAVAILABLE);
      // The crash took the start with it: the hung `runc start` goes, and runc's container is `created` again.
      for (const pid of await processesWith(`${join(wrapDir, 'runc')}\0`)) process.kill(pid, 'SIGKILL');
      for (const pid of await processesWith(' start ')) if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(wrapDir)) process.kill(pid, 'SIGKILL');
      await rm(join(wrapDir, 'hangstart'));
      await rm(join(wrapDir, 'hidefifo'));
      const fifo = join(e.d.state, 'runc', ctr, 'exec.fifo');
      await rename(`${fifo}.hidden`, fifo);
    });
    // Recovery goes by runc's state: the record says RUNNING, runc says created, so the container is CREATED.
    expect((await e.c.call('ContainerStatus', { container_id: ctr })).status.state).toBe('CONTAINER_CREATED');
    expect(await recorded()).toMatchObject({ state: 'CONTAINER_CREATED' });
    // and StartContainer finishes the start (runc create is not run again: the process is the one created before).
    const pid = (await recorded()).pid;
    await e.c.call('StartContainer', { container_id: ctr });
    expect((await e.c.call('ContainerStatus', { container_id: ctr })).status.state).toBe('CONTAINER_RUNNING');
    // (the start answers once runc's init has its go-ahead; the exec of the command follows at once)
    const command = async () => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0];
    for (let i = 0; i < 200 && (await command()) !== 'sleep'; i++) await sleep(25);
    expect(await command()).toBe('sleep');
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
  });

  it('removes the bundle, rootfs mount and writable layer of a CreateContainer that crashed before its record was written', async () => {
    const e = env!;
    const config = podConfig('crashed-create', e.logDir);
    const pod = (await e.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const ctr = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('lost', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    const layer = join(e.d.root, 'image', 'rootfs', ctr);
    expect(await exists(layer)).toBe(true);
    // CreateContainer writes the container's one record last; a crash just before it leaves everything else.
    await e.restart('SIGKILL', () => rm(join(e.d.root, 'containers', `${ctr}.json`)));
    expect((await e.c.call('ListContainers', {})).containers.map((c: { id: string }) => c.id)).not.toContain(ctr);
    expect(await exists(join(e.d.state, 'containers', ctr))).toBe(false);
    expect(await exists(layer)).toBe(false);
    expect(await exists(join(e.d.root, 'image', 'rootfs-records', `${ctr}.json`))).toBe(false);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(ctr)).toBe(false);
    // The name is free again, and the pod works.
    const again = (await e.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('lost', 'exec sleep 1000'), sandbox_config: config })).container_id as string;
    await e.c.call('StartContainer', { container_id: again });
    expect((await e.c.call('ContainerStatus', { container_id: again })).status.state).toBe('CONTAINER_RUNNING');
    await e.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
  });
});

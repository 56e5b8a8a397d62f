// CheckpointContainer through runc checkpoint and CRIU (Debian's criu), into the archive at the requested location
// in CRI-O's format. Where CRIU cannot work on this kernel (`criu check` fails, as Debian 12's criu 3.17.1 does on
// kernel 6.18: "Unexpected rt vDSO area bounds"), the call is FAILED_PRECONDITION with CRIU's reason, the container
// runs on and no archive is left. The test asks `criu check` itself and expects whichever of the two this host gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
let out: string;
const criu = spawnSync('criu', ['check'], { encoding: 'utf8' });
const criuWorks = criu.status === 0;
const firstError = (criu.stderr ?? '').split('\n').find((l) => /error/i.test(l)) ?? '';

beforeAll(async () => {
  env = await startEnv();
  out = await mkdtemp('/tmp/fune-ckpt-');
});
afterAll(async () => {
  await env?.cleanup();
  await rm(out, { recursive: true, force: true });
});

const exists = (p: string) => access(p).then(() => true, () => false);

describe('CheckpointContainer', () => {
  it('checkpoints a running container into the archive, or says why CRIU cannot, leaving the container running', async () => {
    const config = podConfig('ckpt', env.logDir);
    const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const { container_id: id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig('c', 'echo state > /tmp/s; exec sleep 1000'), sandbox_config: config });
    await env.c.call('StartContainer', { container_id: id });
    const pidOf = async () => JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info as string).pid as number;
    const pid = await pidOf();
    const location = join(out, 'checkpoint-c.tar');
    if (criuWorks) {
      await env.c.call('CheckpointContainer', { container_id: id, location, timeout: 60 });
      const list = spawnSync('tar', ['-tf', location], { encoding: 'utf8' }).stdout.split('\n');
      expect(list).toEqual(expect.arrayContaining(['config.dump', 'spec.dump', 'rootfs-diff.tar', 'checkpoint/inventory.img']));
    } else {
      const f = await failure(env.c.call('CheckpointContainer', { container_id: id, location, timeout: 60 }));
      expect(f.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(f.details).toContain('criu check');
      expect(f.details).toContain(firstError.replace(/^Error \([^)]*\): /, '').trim());
      expect(await exists(location)).toBe(false);
    }
    expect(await readdir(out).then((n) => n.filter((x) => x.startsWith('.checkpoint-')))).toEqual([]);
    expect((await env.c.call('ContainerStatus', { container_id: id })).status.state).toBe('CONTAINER_RUNNING');
    expect(await pidOf()).toBe(pid);

    // Bad requests, checked before CRIU is asked.
    const cases: [string, Record<string, unknown>, number][] = [
      ['unknown container', { container_id: 'f'.repeat(64), location }, grpc.status.NOT_FOUND],
      ['no location', { container_id: id, location: '' }, grpc.status.INVALID_ARGUMENT],
      ['relative location', { container_id: id, location: 'ckpt.tar' }, grpc.status.INVALID_ARGUMENT],
      ['location with ..', { container_id: id, location: `${out}/../x.tar` }, grpc.status.INVALID_ARGUMENT],
      ['location is a directory', { container_id: id, location: out }, grpc.status.INVALID_ARGUMENT],
    ];
    for (const [what, req, code] of cases) expect([what, (await failure(env.c.call('CheckpointContainer', req))).code]).toEqual([what, code]);
    await env.c.call('StopContainer', { container_id: id, timeout: 0 });
    expect((await failure(env.c.call('CheckpointContainer', { container_id: id, location }))).code).toBe(grpc.status.FAILED_PRECONDITION);
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
  });
});

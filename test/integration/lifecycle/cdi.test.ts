// CDI devices (ContainerConfig.CDI_devices) from spec files this test writes into two spec directories, applied to
// a real container: device nodes (numbers from the host), their cgroup permissions, env, a bind mount, additional
// gids, and a hook that runc really runs; unknown and broken devices refused with nothing created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from './env.js';

let env: LifecycleEnv;
let dir: string;
let pod: { id: string; config: Record<string, unknown> };

beforeAll(async () => {
  dir = await mkdtemp('/tmp/fune-cdi-');
  const [etc, run, drv] = [join(dir, 'etc-cdi'), join(dir, 'run-cdi'), join(dir, 'drv')];
  for (const d of [etc, run, drv]) await mkdir(d, { recursive: true });
  await writeFile(join(drv, 'marker'), 'driver files\n');
  await writeFile(
    join(etc, 'vendor-gpu.yaml'),
    `cdiVersion: "0.7.0"
kind: vendor.test/gpu
containerEdits:
  env: [VENDOR=fune]
  hooks:
    - hookName: createRuntime
      path: /bin/sh
      args: [sh, -c, "cat >> ${join(dir, 'hook.log')}"]
devices:
  - name: gpu0
    containerEdits:
      env: [GPU=0]
      deviceNodes:
        - path: /dev/fune-gpu0
          hostPath: /dev/null
      mounts:
        - hostPath: ${drv}
          containerPath: /usr/local/drv
          options: [ro, rbind]
      additionalGids: [4242]
`,
  );
  await writeFile(join(run, 'vendor-blk.json'), JSON.stringify({ cdiVersion: '1.0.0', kind: 'vendor.test/blk', devices: [{ name: '0', containerEdits: { deviceNodes: [{ path: '/dev/fune-zero', type: 'c', major: 1, minor: 5 }, { path: '/dev/fune-loop', hostPath: '/dev/loop0', permissions: 'r' }] } }] }));
  await writeFile(join(run, 'broken.json'), JSON.stringify({ cdiVersion: '0.3.0', kind: 'vendor.test/bad', surprise: true, devices: [{ name: 'x', containerEdits: { env: ['A=1'] } }] }));
  await writeFile(join(run, 'ghost.yaml'), 'cdiVersion: 0.3.0\nkind: vendor.test/ghost\ndevices: [{name: g, containerEdits: {deviceNodes: [{path: /dev/fune-does-not-exist}]}}]\n');
  env = await startEnv(`[runtime]\ncdi_spec_dirs = ["${etc}", "${run}"]\n`);
  const config = podConfig('cdi', env.logDir);
  pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id, config };
});
afterAll(async () => {
  await env?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const sh = async (id: string, script: string) => {
  const r = await env.c.call('ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 10 });
  return { code: r.exit_code as number, out: (r.stdout as Buffer).toString(), err: (r.stderr as Buffer).toString() };
};

describe('CDI devices', () => {
  it('applies the spec and device edits of the requested devices inside the container', async () => {
    const config = containerConfig('gpu', 'exec sleep 1000', { CDI_devices: [{ name: 'vendor.test/gpu=gpu0' }, { name: 'vendor.test/blk=0' }] });
    const { container_id: id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
    await env.c.call('StartContainer', { container_id: id });
    // Numbers from the host node (/dev/null 1:3, /dev/loop0 7:0) or as the spec gave them (1:5).
    expect((await sh(id, 'stat -c "%F %t:%T" /dev/fune-gpu0 /dev/fune-zero /dev/fune-loop')).out).toBe('character special file 1:3\ncharacter special file 1:5\nblock special file 7:0\n');
    expect((await sh(id, 'echo hi > /dev/fune-gpu0 && echo ok')).out).toBe('ok\n');
    expect((await sh(id, 'head -c 3 /dev/fune-zero | od -An -tx1')).out.trim()).toBe('00 00 00');
    // The device cgroup lets the loop device be opened for reading only ("permissions: r").
    const read = await sh(id, 'dd if=/dev/fune-loop of=/dev/null bs=512 count=1 2>&1; true');
    expect(read.out).not.toContain('Operation not permitted');
    const write = await sh(id, 'echo x > /dev/fune-loop');
    expect(write.code).not.toBe(0);
    expect(write.err).toContain('Operation not permitted');
    expect((await sh(id, 'echo $VENDOR $GPU')).out).toBe('fune 0\n');
    expect((await sh(id, 'cat /usr/local/drv/marker; touch /usr/local/drv/x 2>&1 || true')).out).toMatch(/^driver files\n.*Read-only file system/);
    expect((await sh(id, 'grep ^Groups: /proc/$(pidof sleep)/status')).out.split(/\s+/)).toContain('4242');
    // The createRuntime hook ran (runc hands it the container state on stdin).
    expect(await readFile(join(dir, 'hook.log'), 'utf8')).toContain(id);
    // A container without CDI devices gets none of it.
    const { container_id: plain } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('plain', 'exec sleep 1000'), sandbox_config: pod.config });
    await env.c.call('StartContainer', { container_id: plain });
    expect((await sh(plain, 'ls /dev/fune-gpu0 2>&1; echo "[$VENDOR]"')).out).toContain('No such file');
    expect((await sh(plain, 'echo "[$VENDOR]"')).out).toBe('[]\n');
    for (const c of [id, plain]) await env.c.call('RemoveContainer', { container_id: c });
  });

  it('refuses unknown, malformed and broken devices with nothing created', async () => {
    const cases: [string, string, number, string][] = [
      ['unknown device', 'vendor.test/gpu=gpu9', grpc.status.INVALID_ARGUMENT, 'unresolvable CDI devices vendor.test/gpu=gpu9'],
      ['unknown vendor', 'other.test/gpu=gpu0', grpc.status.INVALID_ARGUMENT, 'unresolvable'],
      ['unqualified', 'gpu0', grpc.status.INVALID_ARGUMENT, 'missing vendor'],
      ['a path', '/dev/null', grpc.status.INVALID_ARGUMENT, 'missing vendor'],
      ['bad device name', 'vendor.test/gpu=-x', grpc.status.INVALID_ARGUMENT, 'should start and end'],
      ['a device of a spec that did not load', 'vendor.test/bad=x', grpc.status.INVALID_ARGUMENT, 'broken.json: unknown field "surprise"'],
      ['a host node that is missing', 'vendor.test/ghost=g', grpc.status.FAILED_PRECONDITION, '/dev/fune-does-not-exist'],
    ];
    const before = (await env.c.call('ListContainers', {})).containers.length;
    for (const [what, name, code, text] of cases) {
      const f = await failure(env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('bad', 'true', { CDI_devices: [{ name: 'vendor.test/blk=0' }, { name }] }), sandbox_config: pod.config }));
      expect([what, f.code]).toEqual([what, code]);
      expect(f.details).toContain(text);
    }
    // The annotation form is read too (and refused the same way).
    const ann = await failure(env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('bad', 'true', { annotations: { 'cdi.k8s.io/plugin_dev': 'vendor.test/gpu=nope' } }), sandbox_config: pod.config }));
    expect(ann.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await env.c.call('ListContainers', {})).containers.length).toBe(before);
    expect(await readdir(join(env.d.state, 'containers'))).toEqual([]);
  });
});

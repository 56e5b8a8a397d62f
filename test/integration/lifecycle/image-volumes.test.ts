// Image volumes (CRI Mount.image and image_sub_path, KEP-4639): an image's filesystem mounted read-only (and
// noexec) into a real container, sub paths resolved inside the image only, the image pinned while a container
// has it, and bad requests refused with nothing made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage, makeTar, ociArchive } from '../../../hack/test-images.js';
import { criClient, failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, importImage, podConfig, startEnv, type LifecycleEnv } from './env.js';

const VOLUME = 'registry.fune.test/fune/data:1';
let env: LifecycleEnv;
let pod: { id: string; config: Record<string, unknown> };

beforeAll(async () => {
  env = await startEnv();
  const lower = await makeTar([
    { name: 'data/', type: 'directory' },
    { name: 'data/file', body: 'one\n' },
    { name: 'tool.sh', body: '#!/bin/sh\necho ran\n', mode: 0o755 },
    { name: 'file.txt', body: 'not a directory\n' },
    { name: 'rel', type: 'symlink', linkname: 'data' },
    { name: 'chain', type: 'symlink', linkname: 'rel/' },
    { name: 'abs', type: 'symlink', linkname: '/etc' },
    { name: 'up', type: 'symlink', linkname: 'data/../..' },
  ]);
  const upper = await makeTar([{ name: 'data/file2', body: 'two\n' }]);
  await importImage(env.d.state, await ociArchive([{ ref: VOLUME, image: buildImage({ layers: [lower, upper] }) }]));
  const config = podConfig('iv', env.logDir);
  pod = { id: (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id, config };
});
afterAll(async () => {
  await env?.cleanup();
});

const imageMount = (containerPath: string, sub = '', extra: Record<string, unknown> = {}) => ({ container_path: containerPath, readonly: true, image: { image: VOLUME }, image_sub_path: sub, ...extra });
const exec = async (id: string, cmd: string[]) => env.c.call('ExecSync', { container_id: id, cmd, timeout: 10 });
const images = () => criClient(env.d.socket, 'v1', 'ImageService');
const out = (r: { stdout: Buffer }) => r.stdout.toString();

describe('image volumes', () => {
  it('mounts the image read-only and noexec, a sub path alone, reports them, and pins the image', async () => {
    const mounts = [imageMount('/vol'), imageMount('/sub', 'chain'), imageMount('/deep', 'data/')];
    const { container_id: id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig('c', 'exec sleep 1000', { mounts }), sandbox_config: pod.config });
    await env.c.call('StartContainer', { container_id: id });
    // Both layers merged; the sub path (a symlink to a symlink to data/) shows data/ only.
    expect(out(await exec(id, ['cat', '/vol/data/file', '/vol/data/file2']))).toBe('one\ntwo\n');
    expect(out(await exec(id, ['ls', '/sub']))).toBe('file\nfile2\n');
    expect(out(await exec(id, ['cat', '/deep/file']))).toBe('one\n');
    // Read-only, and noexec: the script reads but does not run.
    const touch = await exec(id, ['touch', '/vol/new']);
    expect(touch.exit_code).not.toBe(0);
    expect(touch.stderr.toString()).toContain('Read-only file system');
    // (runc refuses to exec a file on a noexec mount: the call fails rather than exiting 126)
    const run = await exec(id, ['/vol/tool.sh']).then((r) => `exit ${r.exit_code}: ${r.stderr.toString()}`, (e: Error) => e.message);
    expect(run.toLowerCase()).toContain('permission denied');
    expect(out(await exec(id, ['sh', '/vol/tool.sh']))).toBe('ran\n');
    // What the kernel applied, from the container's own mount table.
    const line = out(await exec(id, ['cat', '/proc/self/mountinfo'])).split('\n').find((l) => l.split(' ')[4] === '/vol')!;
    expect(line.split(' ')[5]!.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));

    const st = (await env.c.call('ContainerStatus', { container_id: id })).status;
    const byPath = Object.fromEntries(st.mounts.map((m: { container_path: string }) => [m.container_path, m]));
    expect(byPath['/vol']).toMatchObject({ readonly: true, image: { image: VOLUME }, image_sub_path: '' });
    expect(byPath['/sub']).toMatchObject({ image_sub_path: 'chain' });
    expect(byPath['/sub'].host_path).toMatch(/\/volumes\/1\/data$/);
    expect(await readFile(join(byPath['/vol'].host_path, 'data/file2'), 'utf8')).toBe('two\n');

    // Pinned: RemoveImage refuses while a container (running, then exited) has the image, and works after.
    const ic = images();
    for (const stop of [false, true]) {
      if (stop) await env.c.call('StopContainer', { container_id: id, timeout: 0 });
      const refused = await failure(ic.call('RemoveImage', { image: { image: VOLUME } }));
      expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(refused.details).toContain(id);
      expect((await ic.call('ImageStatus', { image: { image: VOLUME } })).image).not.toBeNull();
    }
    await env.c.call('RemoveContainer', { container_id: id });
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(join(env.d.state, 'containers', id))).toBe(false);
    await ic.call('RemoveImage', { image: { image: VOLUME } });
    expect((await ic.call('ImageStatus', { image: { image: VOLUME } })).image).toBeNull();
    ic.close();
  });

  it('refuses bad image mounts and sub paths with nothing created', async () => {
    // (the image was removed above: pull it back in)
    const lower = await makeTar([{ name: 'data/', type: 'directory' }, { name: 'data/file', body: 'one\n' }, { name: 'file.txt', body: 'x' }, { name: 'abs', type: 'symlink', linkname: '/etc' }, { name: 'up', type: 'symlink', linkname: 'data/../..' }, { name: 'loop', type: 'symlink', linkname: 'loop' }]);
    await importImage(env.d.state, await ociArchive([{ ref: VOLUME, image: buildImage({ layers: [lower] }) }]));
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['absolute sub path', imageMount('/v', '/data'), grpc.status.INVALID_ARGUMENT, 'must be relative'],
      ['.. in the sub path', imageMount('/v', 'data/../..'), grpc.status.INVALID_ARGUMENT, '".."'],
      ['a plain ..', imageMount('/v', '..'), grpc.status.INVALID_ARGUMENT, '".."'],
      ['absolute symlink', imageMount('/v', 'abs'), grpc.status.INVALID_ARGUMENT, 'points outside the image'],
      ['symlink climbing out', imageMount('/v', 'up'), grpc.status.INVALID_ARGUMENT, 'points outside the image'],
      ['symlink loop', imageMount('/v', 'loop'), grpc.status.INVALID_ARGUMENT, 'too many levels'],
      ['missing sub path', imageMount('/v', 'missing'), grpc.status.INVALID_ARGUMENT, 'does not exist in image volume'],
      ['through a file', imageMount('/v', 'file.txt/x'), grpc.status.INVALID_ARGUMENT, 'does not exist in image volume'],
      ['a file sub path', imageMount('/v', 'file.txt'), grpc.status.INVALID_ARGUMENT, 'only directory sub paths'],
      ['writable', imageMount('/v', '', { readonly: false }), grpc.status.INVALID_ARGUMENT, 'must be read-only'],
      ['with a host path', imageMount('/v', '', { host_path: '/tmp' }), grpc.status.INVALID_ARGUMENT, 'may not have a host_path'],
      ['unknown image', { ...imageMount('/v'), image: { image: 'registry.fune.test/none:1' } }, grpc.status.NOT_FOUND, 'pull it first'],
    ];
    const listed = async () => (await env.c.call('ListContainers', {})).containers.length;
    const before = await listed();
    for (const [what, mount, code, text] of cases) {
      const f = await failure(env.c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(`bad-${cases.findIndex((c) => c[0] === what)}`, 'true', { mounts: [mount] }), sandbox_config: pod.config }));
      expect([what, f.code]).toEqual([what, code]);
      expect(f.details).toContain('ImageVolumeMountFailed');
      expect(f.details).toContain(text);
    }
    expect(await listed()).toBe(before);
    expect(await readdir(join(env.d.state, 'containers'))).toEqual([]);
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(join(env.d.state, 'containers'))).toBe(false);
    // The image is not pinned by a refused create.
    const ic = images();
    await ic.call('RemoveImage', { image: { image: VOLUME } });
    ic.close();
  });
});

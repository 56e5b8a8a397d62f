// CheckpointContainer where CRIU works (the guest's kernel 6.1; on the host's 6.18 Debian 12's criu 3.17.1 cannot,
// test/integration/lifecycle/checkpoint.test.ts): the archive has CRI-O's layout, the container runs on, and the
// archive is restorable: its checkpoint/ restored by `runc restore` (in a runc root of the test's own, on a rootfs of
// the image's layers with the archive's rootfs-diff.tar) gives a process whose counter carries on from the saved one.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmEnv, type VmEnv } from './env.js';
import { DRIVERS, waitFor } from './guest.js';

const RESTORED = 'fune-vm-ckpt-restored';

/** run runs a command to its exit (not to the close of its pipes, which a detached restored process keeps open). */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      p.stdout.destroy();
      p.stderr.destroy();
      resolve({ code, out });
    });
  });
}
const ok = async (cmd: string, args: string[]) => {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${String(r.code)}: ${r.out}`);
  return r.out;
};

describe('CheckpointContainer with CRIU', () => {
  let env: VmEnv;
  let dir: string;
  const runcRoot = () => join(dir, 'runc');
  beforeAll(async () => {
    env = await vmEnv(DRIVERS[0]!, 'checkpoint');
    dir = await mkdtemp(join(tmpdir(), 'fune-vm-ckpt-'));
  });
  afterAll(async () => {
    try {
      if (dir) {
        spawnSync('runc', ['--root', runcRoot(), 'delete', '-f', RESTORED]);
        spawnSync('umount', [join(dir, 'bundle', 'rootfs')]);
      }
      await env?.cleanup();
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes the archive with the container running on, and runc restores a counter from it where it was', async () => {
    expect(spawnSync('criu', ['check'], { encoding: 'utf8' }).status).toBe(0);
    const pod = await env.runPod('ckpt');
    const id = await env.runContainer(pod, 'counter', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.2; done', {
      // A pid namespace of its own, as a kubelet asks by default: in the pod's, the restored pids would be taken.
      linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    });
    const counter = async () => Number(Buffer.from((await env.c.call('ExecSync', { container_id: id, cmd: ['cat', '/tmp/n'], timeout: 120 })).stdout).toString().trim() || '0');
    await waitFor(counter, (n) => n >= 20, 240_000, 'the counter to reach 20');

    const location = join(dir, 'ckpt.tar');
    await env.c.call('CheckpointContainer', { container_id: id, location, timeout: 300 });
    // The counter as the checkpoint saved it: the writable layer is packed after the dump, so it is at least that.
    const list = (await ok('tar', ['-tf', location])).split('\n');
    expect(list).toEqual(expect.arrayContaining(['checkpoint/', 'checkpoint/inventory.img', 'config.dump', 'spec.dump', 'rootfs-diff.tar']));
    expect((await env.c.call('ContainerStatus', { container_id: id })).status.state).toBe('CONTAINER_RUNNING');
    const after = await counter();

    // Unpack, and make a bundle of the container's own config.json: a rootfs of its image layers with the archive's
    // writable layer (not the running container's), and a cgroup of its own (the original's still has processes).
    const img = join(dir, 'img');
    await mkdir(img);
    await ok('tar', ['-xf', location, '-C', img]);
    const saved = Number((await ok('tar', ['-xOf', join(img, 'rootfs-diff.tar'), './tmp/n'])).trim());
    expect(saved).toBeGreaterThanOrEqual(20);
    expect(saved).toBeLessThanOrEqual(after);
    const bundle = join(dir, 'bundle');
    const own = join(env.d.state, 'containers', id);
    const spec = JSON.parse(await readFile(join(own, 'config.json'), 'utf8')) as { root: { path: string }; linux: { cgroupsPath?: string } };
    // fune mounts with short layer names relative to the layer store's l/ (links to the layers): make them absolute.
    const short = /lowerdir=([^,]+)/.exec(await ok('findmnt', ['-no', 'OPTIONS', join(own, 'rootfs')]))![1]!.split(':');
    const links = (await ok('find', [env.d.root, '-maxdepth', '4', '-path', `*/l/${short[0]!}`])).trim().split('\n')[0]!.replace(/\/[^/]+$/, '');
    const lower = short.map((n) => join(links, n)).join(':');
    await Promise.all(['rootfs', 'upper', 'work'].map((d) => mkdir(join(bundle, d), { recursive: true })));
    await ok('tar', ['--xattrs', '--numeric-owner', '-xf', join(img, 'rootfs-diff.tar'), '-C', join(bundle, 'upper')]);
    await ok('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(bundle, 'upper')},workdir=${join(bundle, 'work')}`, join(bundle, 'rootfs')]);
    spec.root.path = join(bundle, 'rootfs');
    spec.linux.cgroupsPath = DRIVERS[0] === 'systemd' ? `system.slice:fune-vm:${RESTORED}` : `/${RESTORED}`;
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));

    // runc hands its own stdout and stderr to the restored process for the conmon pipes it had: they must be pipes
    // (node's are sockets, which CRIU cannot reopen), so a FIFO, held open for reading while runc runs.
    const fifo = join(dir, 'stdio');
    await ok('mkfifo', [fifo]);
    const args = ['--root', runcRoot(), '--log', join(dir, 'runc.log'), 'restore', '--image-path', join(img, 'checkpoint'), '--work-path', join(dir, 'work'), '--bundle', bundle, '--detach', RESTORED];
    const restore = await run('sh', ['-c', 'exec 3<>"$0"; exec runc "$@" >"$0" 2>&1', fifo, ...args]);
    if (restore.code !== 0) {
      const log = (f: string) => readFile(join(dir, f), 'utf8').catch(() => '');
      const errors = `${await log('runc.log')}\n${await log('work/restore.log')}`.split('\n').filter((l) => /error/i.test(l));
      throw new Error(`runc restore: exit ${String(restore.code)}\n${errors.slice(-12).join('\n')}`);
    }
    const state = JSON.parse(await ok('runc', ['--root', runcRoot(), 'state', RESTORED])) as { status: string };
    expect(state.status).toBe('running');
    // The restored loop goes on from its saved i: a value above the saved one, not a count from 1 again.
    // Every reading is at least the saved value; a loop started again would count up from 1 past readings below it.
    const seen: number[] = [];
    // (An empty reading is the moment between the shell's truncation of /tmp/n and its write: skipped.)
    await waitFor(
      async () => {
        const t = (await ok('runc', ['--root', runcRoot(), 'exec', RESTORED, 'cat', '/tmp/n'])).trim();
        if (t !== '') seen.push(Number(t));
        return seen.at(-1) ?? 0;
      }, (n) => n > saved, 180_000, 'the restored counter to move');
    expect(seen.every((n) => n >= saved), `readings ${seen.join()} against saved ${saved}`).toBe(true);
    expect((await env.c.call('ContainerStatus', { container_id: id })).status.state).toBe('CONTAINER_RUNNING');
  }, 900_000);
});

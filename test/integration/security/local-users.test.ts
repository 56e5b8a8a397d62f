// Local users get nothing: a throwaway user made by this test (useradd, removed afterwards) cannot list or
// traverse anything under the daemon's root and state dirs, cannot read a bundle's config.json (the container's
// environment), a record, an image blob or image record, and cannot execute an image's setuid-root program from
// the host (containerd's CVE-2021-41103 class). The directories above root and state are made 0755 here, as
// /var/lib and /run are, so that only fune's own modes stand in the way. Containers running as a non-root uid
// still work. A tree an older fune left 0755/0644 is tightened at the next start, and recovery keeps it so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, copyFile, lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxImage, ociArchive, setuidLayer } from '../../../hack/test-images.js';
import { containerConfig, importImage, logText, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';

const SUID_IMAGE = 'registry.fune.test/fune/busybox-suid:latest';
const USER = `fune-t${process.pid % 100000}`;
const SECRET = `s3cret-${Math.random().toString(36).slice(2)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: LifecycleEnv;
let podId = '';
let ctrId = '';
let layerDiff = '';

/** as runs a program as the throwaway user, and gives its exit status and output. */
function as(cmd: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('runuser', ['-u', USER, '--', cmd, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** denied checks that the user's command failed with EACCES ("Permission denied"). */
function expectDenied(r: { code: number; out: string; err: string }, what: string): void {
  expect(r.code, `${what}: ${r.out}${r.err}`).not.toBe(0);
  expect(r.err, what).toMatch(/Permission denied/);
  expect(r.out, what).not.toContain(SECRET);
}

/** CONTENT are the places whose modes are the container's or another tool's (see src/services/private-state.ts). */
const CONTENT: RegExp[] = [/^root\/image\/layers\/[^/]+\/diff$/, /^root\/image\/rootfs\/[^/]+\/(upper|work)$/, /^root\/image\/empty$/, /^state\/containers\/[^/]+\/(rootfs|volumes)$/, /^state\/pods\/[^/]+\/(rootfs|shm)$/, /^state\/runc\/[^/]+$/, /^state\/userns\/[^/]+$/];
const SHARED_FILES = /^state\/pods\/[^/]+\/(hosts|resolv\.conf|hostname)$/;
/** TOOL_FILES are files conmon and runc create with their own modes (pid files, runc's logs), in 0700 directories. */
const TOOL_FILES = /^state\/(containers\/[^/]+\/(conmon\.pid|pidfile)|pods\/[^/]+\/pidfile|runc-logs\/[^/]+\.log)$/;

/**
 * entries lists every directory and regular file under root and state that fune owns the mode of: not into
 * content, not into another filesystem below the first level, with its mode; `visit` may change it.
 */
async function entries(visit?: (path: string, rel: string, dir: boolean) => Promise<void>): Promise<{ rel: string; mode: number; dir: boolean }[]> {
  const out: { rel: string; mode: number; dir: boolean }[] = [];
  const walk = async (abs: string, rel: string, dev: number, depth: number): Promise<void> => {
    for (const name of await readdir(abs).catch(() => [] as string[])) {
      const p = join(abs, name);
      const r = `${rel}/${name}`;
      if (CONTENT.some((c) => c.test(r))) continue;
      const st = await lstat(p).catch(() => undefined);
      if (!st || !(st.isDirectory() || st.isFile())) continue;
      if (depth > 0 && st.dev !== dev) continue;
      await visit?.(p, r, st.isDirectory());
      out.push({ rel: r, mode: (await lstat(p)).mode & 0o7777, dir: st.isDirectory() });
      if (st.isDirectory()) await walk(p, r, st.dev, depth + 1);
    }
  };
  for (const top of ['root', 'state']) {
    const abs = join(env.d.dir, top);
    await visit?.(abs, top, true);
    out.push({ rel: top, mode: (await lstat(abs)).mode & 0o7777, dir: true });
    await walk(abs, top, (await lstat(abs)).dev, 0);
  }
  return out;
}

/** audit gives every entry whose mode lets another user in, but for the named exceptions. */
async function audit(): Promise<string[]> {
  const bad: string[] = [];
  for (const e of await entries()) {
    const allowed = e.rel === 'state' || e.rel === 'state/userns' ? 0o711 : SHARED_FILES.test(e.rel) || TOOL_FILES.test(e.rel) ? 0o644 : e.dir ? 0o700 : 0o600;
    if ((e.mode & 0o077 & ~allowed) !== 0) bad.push(`${e.rel} ${e.mode.toString(8)}`);
  }
  return bad;
}

/** paths are the places a user would go for: a rootfs, a bundle, a layer, the store. */
function paths() {
  const { root, state } = env.d;
  const bundle = join(state, 'containers', ctrId);
  return {
    // stat needs only the parent's search bit: each of these is inside a directory the user must not pass
    traverse: [
      bundle, join(bundle, 'rootfs'), join(bundle, 'rootfs', 'bin'), join(state, 'pods', podId), join(state, 'pods', podId, 'resolv.conf'), join(root, 'image'),
      join(root, 'containers'), layerDiff, join(root, 'image', 'rootfs', ctrId, 'upper'), join(state, 'runc', ctrId), join(state, 'netns', podId), join(state, 'runc-logs', `${ctrId}.log`),
    ],
    // and none of the state dir's directories can be listed
    list: ['containers', 'pods', 'runc', 'runc-logs', 'exits', 'netns', 's'].map((d) => join(state, d)),
    read: async () => [
      join(bundle, 'config.json'), join(state, 'pods', podId, 'config.json'), join(root, 'containers', `${ctrId}.json`), join(root, 'sandboxes', `${podId}.json`),
      join(state, 'fune.lock'),
      ...(await readdir(join(root, 'image', 'content', 'blobs', 'sha256'))).map((b) => join(root, 'image', 'content', 'blobs', 'sha256', b)),
      ...(await readdir(join(root, 'image', 'images'))).map((b) => join(root, 'image', 'images', b)),
      ...(await readdir(join(root, 'image', 'rootfs-records'))).map((b) => join(root, 'image', 'rootfs-records', b)),
    ],
    suid: [join(bundle, 'rootfs', 'bin', 'suid-id'), join(layerDiff, 'bin', 'suid-id')],
  };
}

async function expectLockedOut(): Promise<void> {
  const p = paths();
  for (const path of p.traverse) {
    await lstat(path); // it is there, for root
    expectDenied(as('stat', path), `stat ${path}`);
  }
  for (const dir of p.list) expectDenied(as('ls', dir), `ls ${dir}`);
  const files = await p.read();
  expect(files.length).toBeGreaterThan(8);
  expect(await readFile(files[0]!, 'utf8')).toContain(SECRET); // the bundle's spec holds the environment
  for (const f of files) expectDenied(as('cat', f), `cat ${f}`);
  for (const s of p.suid) {
    expect(((await lstat(s)).mode & 0o7777).toString(8)).toBe('4755');
    expectDenied(as(s, '-u'), `exec ${s}`);
  }
  // listing finds only the two top directories
  const find = as('find', env.d.root, env.d.state);
  expect(find.out.trim().split('\n').sort()).toEqual([env.d.root, env.d.state].sort());
}

beforeAll(async () => {
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', USER]);
  env = await startEnv();
  await chmod(env.d.dir, 0o755);
  await importImage(env.d.state, await ociArchive([{ ref: SUID_IMAGE, image: await busyboxImage({ cmd: ['sh'], layers: [await setuidLayer()] }) }]));
  const config = podConfig('users', env.logDir);
  podId = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id;
  const c = containerConfig('suid', 'exec sleep 1000', { image: { image: SUID_IMAGE }, envs: [{ key: 'SECRET', value: Buffer.from(SECRET) }] });
  ctrId = (await env.c.call('CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: config })).container_id;
  await env.c.call('StartContainer', { container_id: ctrId });
  const layers = join(env.d.root, 'image', 'layers');
  for (const l of await readdir(layers)) {
    if ((await lstat(join(layers, l, 'diff', 'bin', 'suid-id')).catch(() => undefined)) !== undefined) layerDiff = join(layers, l, 'diff');
  }
  expect(layerDiff).not.toBe('');
});

afterAll(async () => {
  if (podId) await env?.c.call('RemovePodSandbox', { pod_sandbox_id: podId }).catch(() => undefined);
  await env?.cleanup();
  spawnSync('userdel', [USER]);
});

describe('a local user', () => {
  it('cannot traverse to a rootfs, a bundle or a layer, read a spec, record or blob, or run an image\'s setuid program', async () => {
    await expectLockedOut();
  });

  it('would be root with that program if it could reach it (the control: the same file, copied where the user can go)', async () => {
    const dir = await mkdtemp('/tmp/fune-suid-');
    try {
      await chmod(dir, 0o755);
      await copyFile(join(layerDiff, 'bin', 'suid-id'), join(dir, 'suid-id'));
      await chmod(join(dir, 'suid-id'), 0o4755);
      const r = as(join(dir, 'suid-id'), '-u');
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe('0');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the CRI socket is 0660, the admin socket 0600, root 0700, state 0711; nothing else lets another user in', async () => {
    const mode = async (p: string) => ((await lstat(p)).mode & 0o7777).toString(8);
    expect(await mode(env.d.socket)).toBe('660');
    expect(await mode(join(env.d.state, 'fune-admin.sock'))).toBe('600');
    expect(await mode(env.d.root)).toBe('700');
    expect(await mode(env.d.state)).toBe('711');
    expect(await audit()).toEqual([]);
  });
});

describe('containers as a non-root uid', () => {
  it('read their pod files, write /dev/shm and /tmp, and exec as that uid, under the 0700 directories', async () => {
    const config = podConfig('users-nonroot', env.logDir);
    const pod = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id;
    try {
      const script = 'id -u; cat /etc/hostname /etc/resolv.conf /etc/hosts >/dev/null && echo shm > /dev/shm/x && cat /dev/shm/x && touch /tmp/y && ls / >/dev/null && exec sleep 1000';
      const c = containerConfig('nonroot', script, { linux: { security_context: { run_as_user: { value: '65534' } } } });
      const id = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: c, sandbox_config: config })).container_id;
      await env.c.call('StartContainer', { container_id: id });
      let out = '';
      for (let i = 0; i < 100 && !(out = await logText(env, id)).includes('shm'); i++) await sleep(50);
      expect(out.split('\n').slice(0, 2)).toEqual(['65534', 'shm']);
      expect((await env.c.call('ContainerStatus', { container_id: id })).status.state).toBe('CONTAINER_RUNNING');
      const r = await env.c.call('ExecSync', { container_id: id, cmd: ['sh', '-c', 'id -u && cat /etc/hostname'], timeout: 10 });
      expect(r.exit_code).toBe(0);
      expect(Buffer.from(r.stdout).toString()).toBe('65534\nusers-nonroot\n');
      expect(await audit()).toEqual([]);
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    }
  });
});

describe('the upgrade path', () => {
  it('a tree an older fune left 0755/0644 is tightened at start; the running container is recovered and still works', async () => {
    await env.restart('SIGTERM', async () => {
      // what an older fune made: every directory 0755 (root and state 0711 or 0755), every file 0644
      await entries(async (p, _rel, dir) => chmod(p, dir ? 0o755 : 0o644));
      expect((await audit()).length).toBeGreaterThan(20);
      const reach = as('stat', join(env.d.state, 'containers', ctrId, 'config.json'));
      expect(reach.code, reach.err).toBe(0); // while it was so, the user could reach a bundle
      expect(as('cat', join(env.d.state, 'containers', ctrId, 'config.json')).out).toContain(SECRET);
      expect(as(paths().suid[0]!, '-u').out.trim()).toBe('0'); // ... and run the image's setuid program as root
    });
    expect(env.d.logs()).toMatch(/tightened permissions under root and state/);
    expect(await audit()).toEqual([]);
    await expectLockedOut();
    expect((await env.c.call('ContainerStatus', { container_id: ctrId })).status.state).toBe('CONTAINER_RUNNING');
    const r = await env.c.call('ExecSync', { container_id: ctrId, cmd: ['sh', '-c', 'echo $SECRET'], timeout: 10 });
    expect(Buffer.from(r.stdout).toString().trim()).toBe(SECRET);
    // recovery and new work keep it so
    const id = (await env.c.call('CreateContainer', { pod_sandbox_id: podId, config: containerConfig('after', 'exec sleep 1000'), sandbox_config: podConfig('users', env.logDir) })).container_id;
    await env.c.call('StartContainer', { container_id: id });
    expect(await audit()).toEqual([]);
  });
});

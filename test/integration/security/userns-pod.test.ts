// User namespaces of mode POD on the real kernel, with Debian's runc 1.1.5 (no idmapped mounts of its own): fune
// pins the pod's user namespace, makes the network namespace inside it, stacks the image layers as idmapped views
// under the overlay (and under an image volume) and idmaps the volumes (native/idmap). Read back from the kernel: the infra's and the
// container's /proc/<pid>/uid_map and gid_map and their host uid, the namespaces they share, a network sysctl the
// pod's root could set only in a network namespace its user namespace owns, file ownership inside (stat in the
// container) and outside (what the writable layer and the idmapped volume store), and that another local user cannot pass
// to the pod's directory. After removal nothing is left: no pin, no mount, no directory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { containerConfig, IMAGE, logText, podConfig, removalsDone, startEnv, type LifecycleEnv } from '../lifecycle/env.js';
import { failure, grpc } from '../../helpers/daemon.js';

const HOST = 300000;
// Idmapped tmpfs came with kernel 6.3: before it fune does not offer POD mode (and these specs cannot run).
const [major, minor] = release().split('.').map(Number) as [number, number];
const capable = major > 6 || (major === 6 && minor >= 3);
const SIZE = 65536;
let env: LifecycleEnv;
let vol = '';
let prop = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mountsUnder = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === p || m.startsWith(p + '/'));
const mapping = (host_id: number) => [{ container_id: 0, host_id, length: SIZE }];
const podUserns = (host_id: number, extra: Record<string, unknown> = {}) => ({
  linux: { security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD', userns_options: { mode: 'POD', uids: mapping(host_id), gids: mapping(host_id) } } }, ...extra },
});
const mapText = (pid: number, f: string) => readFileSync(`/proc/${pid}/${f}`, 'utf8').trim().split(/\s+/).map(Number);

beforeAll(async () => {
  env = await startEnv();
  // As /run is: the pod's root must pass the directories above the state dir (mkdtemp made this one 0700, and
  // fune's probe at start-up then offers no POD mode): passable, not listable, and started again.
  chmodSync(env.d.dir, 0o711);
  await env.restart('SIGTERM');
  vol = mkdtempSync('/tmp/fune-userns-vol-');
  chmodSync(vol, 0o755);
  writeFileSync(join(vol, 'owned'), 'x');
  chownSync(join(vol, 'owned'), 5, 6);
  prop = mkdtempSync('/tmp/fune-userns-prop-');
  chmodSync(prop, 0o755);
  mkdirSync(join(prop, 'sub'));
  execFileSync('mount', ['--bind', prop, prop]); // shared, as critest's propagation specs make their host path
  execFileSync('mount', ['--make-shared', prop]);
});
afterAll(async () => {
  await env?.cleanup();
  if (vol) rmSync(vol, { recursive: true, force: true });
  if (prop) {
    spawnSync('umount', ['-R', '-l', prop]);
    rmSync(prop, { recursive: true, force: true });
  }
});

describe('user namespace mode POD', () => {
  it('is advertised where the kernel has idmapped mounts for directories, tmpfs and overlayfs layers (6.3+)', async () => {
    const st = await env.c.call('Status', { verbose: false });
    const handlers = st.runtime_handlers as { name: string; features: { user_namespaces: boolean } }[];
    expect(handlers.map((h) => [h.name, h.features.user_namespaces])).toEqual([['runc', capable], ['', capable]]);
  });

  it.skipIf(!capable)('runs the pod and its container in the pod user namespace, with idmapped layers and volumes', async () => {
    const config = podConfig('usernspod', env.logDir, podUserns(HOST, { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' } }));
    const podId = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const usernsDir = join(env.d.state, 'userns', podId);
    const pin = join(env.d.state, 'userns', 'ns', podId);
    try {
      const pst = await env.c.call('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
      expect(pst.status.linux.namespaces.options.userns_options.mode).toBe('POD');
      const infra = (JSON.parse(pst.info.info) as { pid: number }).pid;
      // the infra process: in the pinned user namespace, with the mapping asked for
      expect(mapText(infra, 'uid_map')).toEqual([0, HOST, SIZE]);
      expect(mapText(infra, 'gid_map')).toEqual([0, HOST, SIZE]);
      expect(readlinkSync(`/proc/${infra}/ns/user`)).not.toBe(readlinkSync('/proc/self/ns/user'));
      expect(execFileSync('nsenter', [`--user=${pin}`, 'readlink', '/proc/self/ns/user']).toString().trim()).toBe(readlinkSync(`/proc/${infra}/ns/user`));
      // the pod's network sysctl was set by runc as the pod's root: its user namespace owns the network namespace
      const netns = join(env.d.state, 'netns', podId);
      expect(execFileSync('nsenter', [`--net=${netns}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']).toString().trim()).toBe('80');
      // the pod's directory is its root's alone
      const st = statSync(usernsDir);
      expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([HOST, HOST, '700']);

      const script = 'cat /proc/self/uid_map; id -u; stat -c %u:%g /bin/busybox /vol/owned /img/bin/busybox; (touch /ro/x 2>/dev/null && echo rw) || echo ro; echo hi > /written; echo v > /vol/new; ls -ln /dev/shm >/dev/null && echo shm > /dev/shm/x && cat /dev/shm/x; exec sleep 1000';
      const c = containerConfig('usernsctr', script, {
        mounts: [
          { container_path: '/vol', host_path: vol, readonly: false, propagation: 'PROPAGATION_PRIVATE' },
          { container_path: '/img', image: { image: IMAGE }, readonly: true },
          { container_path: '/ro', host_path: vol, readonly: true, propagation: 'PROPAGATION_PRIVATE' },
          { container_path: '/prop', host_path: prop, readonly: false, propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
        ],
        linux: { security_context: { namespace_options: podUserns(HOST).linux.security_context.namespace_options } },
      });
      const ctrId = (await env.c.call('CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: config })).container_id as string;
      await env.c.call('StartContainer', { container_id: ctrId });
      let out = '';
      for (let i = 0; i < 100 && !(out = await logText(env, ctrId)).includes('shm'); i++) await sleep(50);
      const lines = out.trim().split('\n');
      expect(lines[0]!.trim().split(/\s+/).map(Number)).toEqual([0, HOST, SIZE]);
      expect(lines.slice(1)).toEqual(['0', '0:0', '5:6', '0:0', 'ro', 'shm']); // the image volume's layers are idmapped too; a readonly volume stays so
      const cst = await env.c.call('ContainerStatus', { container_id: ctrId, verbose: true });
      expect(cst.status.state).toBe('CONTAINER_RUNNING');
      const pid = (JSON.parse(cst.info.info) as { pid: number }).pid;
      // from the host: the container's process runs as the pod's root on the host, in the pod's namespaces
      expect(mapText(pid, 'uid_map')).toEqual([0, HOST, SIZE]);
      expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]).toBe(String(HOST));
      for (const ns of ['user', 'net', 'ipc', 'uts', 'pid']) expect(readlinkSync(`/proc/${pid}/ns/${ns}`), ns).toBe(readlinkSync(`/proc/${infra}/ns/${ns}`));
      // what the container wrote: in its writable layer stored with host ids (the pod's root is host uid HOST); in
      // the idmapped volume with the ids the container sees (its root writes 0:0, a file stored 5:6 shows as 5:6)
      const upper = join(env.d.root, 'image', 'rootfs', ctrId, 'upper');
      expect([statSync(join(upper, 'written')).uid, statSync(join(upper, 'written')).gid]).toEqual([HOST, HOST]);
      expect([statSync(join(vol, 'new')).uid, statSync(join(vol, 'new')).gid]).toEqual([0, 0]);
      // exec joins the same namespaces
      const r = await env.c.call('ExecSync', { container_id: ctrId, cmd: ['sh', '-c', 'id -u; cat /proc/self/gid_map'], timeout: 10 });
      expect(Buffer.from(r.stdout).toString().split('\n')[0]).toBe('0');
      expect(Buffer.from(r.stdout).toString().split('\n')[1]!.trim().split(/\s+/).map(Number)).toEqual([0, HOST, SIZE]);
      // a volume with HOST_TO_CONTAINER propagation: its idmapped copy (open_tree clones a shared mount into the
      // source's peer group) still receives what is mounted on the host afterwards
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(prop, 'sub')]);
      writeFileSync(join(prop, 'sub', 'f'), 'propagated');
      const pr = await env.c.call('ExecSync', { container_id: ctrId, cmd: ['cat', '/prop/sub/f'], timeout: 10 });
      expect(Buffer.from(pr.stdout).toString()).toBe('propagated');
      // another local user (nobody) cannot pass to the pod's directory, where the container's rootfs is mounted
      const other = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'stat', join(usernsDir, ctrId, 'bin')], { encoding: 'utf8' });
      expect(other.status).not.toBe(0);
      expect(other.stderr).toMatch(/Permission denied/);

      await env.c.call('StopContainer', { container_id: ctrId, timeout: 0 });
      await env.c.call('RemoveContainer', { container_id: ctrId });
      expect(mountsUnder(join(usernsDir, ctrId))).toEqual([]);
      // the directories go after the answer, with the rest of the removal
      await removalsDone(env);
      expect(existsSync(join(usernsDir, ctrId))).toBe(false);
      expect(existsSync(join(usernsDir, `${ctrId}.m0`))).toBe(false);
      expect(existsSync(join(usernsDir, `${ctrId}.m1`))).toBe(false);
      expect(existsSync(join(usernsDir, `${ctrId}.volumes`))).toBe(false);
    } finally {
      spawnSync('umount', ['-l', join(prop, 'sub')]);
      await env.c.call('StopPodSandbox', { pod_sandbox_id: podId });
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: podId });
    }
    expect(mountsUnder(usernsDir)).toEqual([]);
    expect(mountsUnder(pin)).toEqual([]);
    expect(existsSync(usernsDir)).toBe(false);
    expect(existsSync(pin)).toBe(false);
  });

  it.skipIf(!capable)('survives a daemon restart: the pod keeps its namespaces, a new container joins them; what no pod owns is swept', async () => {
    const config = podConfig('usernsrestart', env.logDir, podUserns(HOST + SIZE));
    const podId = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id as string;
    const orphan = join(env.d.state, 'userns', 'f'.repeat(64));
    try {
      const infra = (JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true })).info.info) as { pid: number }).pid;
      await env.restart('SIGKILL', async () => {
        execFileSync('mkdir', ['-p', join(orphan, 'rootfs')]); // what a crash in RunPodSandbox could leave
      });
      expect(existsSync(orphan)).toBe(false);
      expect((await env.c.call('PodSandboxStatus', { pod_sandbox_id: podId })).status.state).toBe('SANDBOX_READY');
      const c = containerConfig('afterrestart', 'cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; exec sleep 1000', {
        linux: { security_context: { namespace_options: podUserns(HOST + SIZE).linux.security_context.namespace_options } },
      });
      const ctrId = (await env.c.call('CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: config })).container_id as string;
      await env.c.call('StartContainer', { container_id: ctrId });
      let out = '';
      for (let i = 0; i < 100 && !(out = await logText(env, ctrId)).includes(':'); i++) await sleep(50);
      const lines = out.trim().split('\n');
      expect(lines[0]!.trim().split(/\s+/).map(Number)).toEqual([0, HOST + SIZE, SIZE]);
      expect(lines[1]).toBe('0:0');
      const pid = (JSON.parse((await env.c.call('ContainerStatus', { container_id: ctrId, verbose: true })).info.info) as { pid: number }).pid;
      expect(readlinkSync(`/proc/${pid}/ns/user`)).toBe(readlinkSync(`/proc/${infra}/ns/user`));
    } finally {
      await env.c.call('StopPodSandbox', { pod_sandbox_id: podId });
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: podId });
    }
    expect(mountsUnder(join(env.d.state, 'userns', podId))).toEqual([]);
    expect(existsSync(join(env.d.state, 'userns', 'ns', podId))).toBe(false);
  });

  it.skipIf(!capable).each<[string, Record<string, unknown>, RegExp]>([
    ['the host network', { network: 'NODE' }, /host's network namespace is not supported/],
    ['the host PID namespace', { pid: 'NODE' }, /host's pid namespace is not supported/],
    ['the host IPC namespace', { ipc: 'NODE' }, /host's ipc namespace is not supported/],
  ])('with %s is FAILED_PRECONDITION and makes nothing', async (_what, ns, message) => {
    const base = podUserns(HOST).linux.security_context.namespace_options;
    const ours = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(env.d.dir)); // other programs mount too
    const before = ours();
    const f = await failure(env.c.call('RunPodSandbox', { config: podConfig('usernsbad', env.logDir, { linux: { security_context: { namespace_options: { ...base, ...ns } } } }) }));
    expect(f.code, f.details).toBe(grpc.status.FAILED_PRECONDITION);
    expect(f.details).toMatch(message);
    expect((await env.c.call('ListPodSandbox', {})).items).toHaveLength(0);
    expect(ours()).toEqual(before);
    expect(existsSync(join(env.d.state, 'userns', 'ns')) ? execFileSync('ls', [join(env.d.state, 'userns', 'ns')]).toString() : '').toBe('');
  });
});

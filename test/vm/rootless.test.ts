// Rootless fune in the VM tier's guest: the non-root user `fune` (uid 1000, subordinate ids 100000-165535, a
// systemd --user manager with cpu cpuset io memory pids delegated) runs `fune daemon --rootless` through the shipped
// user unit systemd/fune-rootless.service. fune re-executes itself under rootlesskit (user, mount and network
// namespaces, slirp4netns) and serves /run/user/1000/fune/fune.sock; this test (as the guest's root) talks CRI to
// it and reads back from the kernel what it made: the user namespace of the containers (/proc/<pid>/uid_map), their
// cgroups in the user's delegated subtree with the memory limit applied, oom_score_adj clamped, no AppArmor, exec and
// logs, image layers written as overlayfs in a user namespace reads them (user.overlay.opaque, whiteouts, device
// nodes skipped), host devices bind-mounted for a privileged container, and the refusals a rootless node makes.
// The bridge network makes the tier's rootless file take about 3.5 minutes instead of 1 at a quiet host (restarting
// the unit for fuse-overlayfs is about a minute of it under TCG).
// Networking: pods join the default bridge network (fune0, host-local, portmap) inside RootlessKit's network
// namespace; a hostPort answers busybox nc in the guest's own namespace through RootlessKit's builtin port driver;
// crictl exec, attach -i and port-forward work as the user from the guest's own namespace (the streaming server's
// port is exposed there the same way). Last, the unit is restarted with runtime.overlay_mounter = "fuse-overlayfs"
// (the guest's kernel 6.1 mounts overlayfs in a user namespace, so the fallback is forced) and a container runs on it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, failure, grpc, ROOT, type CriClient } from '../helpers/daemon.js';
import { containerConfig, importImage, podConfig } from '../integration/lifecycle/env.js';
import { busyboxEntries, buildImage, makeTar, ociArchive } from '../../hack/test-images.js';
import { waitServing } from './guest.js';

const inGuest = process.env.FUNE_VM_GUEST === '1' && existsSync('/run/systemd/system') && existsSync('/home/fune');
const UID = 1000;
const HOME = '/home/fune';
const RUN = `/run/user/${UID}`;
const STATE = `${RUN}/fune`;
const SOCKET = `${STATE}/fune.sock`;
const DATA = `${HOME}/.local/share/fune`;
const UNIT_DIR = `${HOME}/.config/systemd/user`;
const CONF_DIR = `${HOME}/.config/fune`;
const LOGS = `${HOME}/fune-vm-logs`;
const MANAGER = `/user.slice/user-${UID}.slice/user@${UID}.service`;
const T = 20 * 60_000;
const LAYERED = 'registry.fune.test/fune/rootless-layers:1';
const CRICTL = '/opt/cri-tools/bin/crictl';
const HOST_PORT = 18080;
const SUBNET = '10.85.0.0/16';

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
/** STARTED bounds the journal read to this file's run (a guest that ran other rootless work has far more). */
const STARTED = Math.floor(Date.now() / 1000);
const userctl = (...args: string[]): string => sh('systemctl', ['--user', `--machine=fune@.host`, ...args]);
const journal = (): string => sh('journalctl', [`_UID=${UID}`, `--since=@${STARTED}`, '--no-pager', '-o', 'cat', '-q']);

let c: CriClient;

/** asUser runs a command as the user fune in the guest's own namespaces (not RootlessKit's), with its status and output. */
function asUser(cmd: string[], input?: string, timeoutMs = 180_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('runuser', ['-u', 'fune', '--', 'env', `XDG_RUNTIME_DIR=${RUN}`, ...cmd], { encoding: 'utf8', input, timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const crictl = (args: string[], input?: string) => asUser([CRICTL, '--runtime-endpoint', `unix://${SOCKET}`, '--timeout', '120s', ...args], input);

/** nc sends an HTTP GET to 127.0.0.1:port in the guest's own network namespace with busybox nc, as the user. */
const nc = (port: number) => asUser(['busybox', 'nc', '-w', '10', '127.0.0.1', String(port)], 'GET / HTTP/1.0\r\n\r\n', 30_000);

/** listeners gives the TCP listeners on `port` in the guest's own namespace (ss), as `address:port process`. */
const listeners = (port: number): string => sh('ss', ['-Hltnp', `sport = :${port}`]);

async function until<T>(what: string, fn: () => T | undefined, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const waitReady = (): Promise<void> => waitServing(SOCKET, 1200, () => `fune-rootless.service did not become ready:\n${userctl('status', 'fune-rootless', '--no-pager', '-l')}\n${journal().slice(-4000)}`);

/** own writes a file as the user's (the unit and configuration live in the user's home). */
async function own(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  for (let p = path; p.startsWith(`${HOME}/`); p = dirname(p)) await chown(p, UID, UID);
}

async function removeAll(): Promise<void> {
  for (const p of (await c.call('ListPodSandbox', {})).items as { id: string }[]) {
    await c.call('StopPodSandbox', { pod_sandbox_id: p.id }, { deadlineMs: 300_000 });
    await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }, { deadlineMs: 300_000 });
  }
}

async function pidOf(ctr: string): Promise<number> {
  return JSON.parse((await c.call('ContainerStatus', { container_id: ctr, verbose: true })).info.info).pid as number;
}

const uidSuffix = () => Math.random().toString(16).slice(2, 10);

async function runPod(name: string, extra: Record<string, unknown> = {}) {
  const config = podConfig(`${name}-${uidSuffix()}`, LOGS, extra);
  await mkdir(config.log_directory as string, { recursive: true });
  await chown(config.log_directory as string, UID, UID);
  const { pod_sandbox_id: id } = await c.call('RunPodSandbox', { config }, { deadlineMs: 300_000 });
  return { id: id as string, config };
}

async function runContainer(pod: { id: string; config: object }, name: string, script: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { container_id: id } = await c.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(name, script, extra), sandbox_config: pod.config }, { deadlineMs: 300_000 });
  await c.call('StartContainer', { container_id: id }, { deadlineMs: 300_000 });
  return id as string;
}

async function execSync(ctr: string, cmd: string[]): Promise<{ stdout: string; stderr: string; exit_code: number }> {
  const r = await c.call('ExecSync', { container_id: ctr, cmd, timeout: 120 }, { deadlineMs: 300_000 });
  return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exit_code: r.exit_code };
}

describe.skipIf(!inGuest)('rootless fune: `fune daemon --rootless` as the user fune, under the shipped user unit', () => {
  beforeAll(async () => {
    // The shipped unit, with ExecStart pointing at this checkout instead of /opt/fune.
    const unit = readFileSync(join(ROOT, 'systemd', 'fune-rootless.service'), 'utf8').replaceAll('/opt/fune/', `${ROOT}/`);
    await own(join(UNIT_DIR, 'fune-rootless.service'), unit);
    // The default pod network, as set-up installs it: bridge fune0, host-local, portmap (in RootlessKit's namespace).
    await own(join(CONF_DIR, 'cni', '10-fune.conflist'), readFileSync(join(ROOT, 'hack', 'cni', '10-fune.conflist'), 'utf8').replace('@DEFAULT_SUBNET@', SUBNET));
    await own(join(CONF_DIR, 'config.toml'), `[cni]\nconf_dir = "${join(CONF_DIR, 'cni')}"\n`);
    await mkdir(LOGS, { recursive: true });
    await chown(LOGS, UID, UID);
    userctl('daemon-reload');
    userctl('start', 'fune-rootless');
    await waitReady();
    c = criClient(SOCKET);
    await importImage(STATE);
    // A second image over busybox: a lower layer with /d/{a,b}, /x, a device and a fifo; an upper one that makes
    // /d opaque (only /d/c shows), whites out /x, and has a device node of its own.
    const lower = await makeTar([
      { name: 'd/', type: 'directory' }, { name: 'd/a', body: 'a' }, { name: 'd/b', body: 'b' }, { name: 'x', body: 'x' },
      { name: 'nulldev', type: 'character-device', devmajor: 1, devminor: 3 }, { name: 'pipe', type: 'fifo' },
    ]);
    const upper = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'd/.wh..wh..opq' }, { name: 'd/c', body: 'c' }, { name: '.wh.x' }, { name: 'zerodev', type: 'character-device', devmajor: 1, devminor: 5 }]);
    const image = buildImage({ layers: [await makeTar(busyboxEntries()), lower, upper], cmd: ['sh'] });
    await importImage(STATE, await ociArchive([{ ref: LAYERED, image }]));
  }, T);

  afterAll(async () => {
    try {
      if (c) await removeAll();
    } finally {
      c?.close();
      try {
        userctl('stop', 'fune-rootless');
      } catch {
        // not running
      }
      await rm(join(UNIT_DIR, 'fune-rootless.service'), { force: true });
      userctl('daemon-reload');
      // The user's files: root may remove them; nothing of fune's is left mounted (its mount namespace is gone).
      await rm(CONF_DIR, { recursive: true, force: true });
      await rm(DATA, { recursive: true, force: true });
      await rm(STATE, { recursive: true, force: true });
      await rm(LOGS, { recursive: true, force: true });
      await rm(`${RUN}/fune-rootlesskit`, { recursive: true, force: true });
    }
  }, T);

  it('runs under rootlesskit in a user namespace of the user\'s subordinate ids, with its state and root in the user\'s directories', async () => {
    const main = Number(userctl('show', '-P', 'MainPID', 'fune-rootless').trim());
    expect(main).toBeGreaterThan(0);
    // The unit's processes: fune (the user's), rootlesskit and slirp4netns, and fune again inside as "root".
    const procs = readFileSync(`/sys/fs/cgroup${MANAGER}/app.slice/fune-rootless.service/cgroup.procs`, 'utf8').trim().split('\n').map(Number);
    const comm = procs.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    expect(comm).toEqual(expect.arrayContaining(['rootlesskit', 'slirp4netns']));
    const inner = procs.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('main.js') && readFileSync(`/proc/${p}/uid_map`, 'utf8').trim() !== readFileSync('/proc/self/uid_map', 'utf8').trim());
    expect(inner).toBeDefined();
    expect(readFileSync(`/proc/${inner}/uid_map`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number))).toEqual([[0, UID, 1], [1, 100000, 65536]]);
    expect(readFileSync(`/proc/${inner}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${UID}\\s`, 'm'));
    expect(existsSync(join(DATA, 'image'))).toBe(true);
    const st = await c.call('Status', { verbose: true });
    const node = JSON.parse(st.info.node);
    expect(node.user.inUserNamespace).toBe(true);
    expect(node.cgroup).toMatchObject({ mode: 'v2', driver: 'systemd', userManager: MANAGER });
    // The start-up probe mounted overlayfs in the user namespace: the kernel's is used.
    expect(node.overlay).toEqual({ mounter: 'kernel', reason: 'a probe mount of overlayfs in this user namespace worked' });
    const conds = Object.fromEntries((st.status.conditions as { type: string; status: boolean; message: string }[]).map((x) => [x.type, x]));
    expect(conds.RuntimeReady!.status).toBe(true);
    // The guest delegates cpu cpuset io memory pids to user managers: nothing is missing.
    expect(conds.CgroupControllersDelegated).toMatchObject({ status: true });
    expect(conds.CgroupControllersDelegated!.message).toContain('memory');
  }, T);

  it('runs a pod and a container in the user namespace, in scopes of the user\'s manager with the memory limit applied; exec and logs work', async () => {
    const pod = await runPod('rl-basic');
    const ctr = await runContainer(pod, 'main', 'echo hello-rootless; touch /made-inside; sleep 100000', { linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024, oom_score_adj: -500 } } });
    const pid = await pidOf(ctr);
    expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number))).toEqual([[0, UID, 1], [1, 100000, 65536]]);
    // The container's root is the user on the host.
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s`, 'm'));
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().replace(/^0::/, '');
    expect(cg).toBe(`${MANAGER}/fune.slice/fune-pod${pod.id}.slice/fune-${ctr}.scope`);
    expect(readFileSync(`/sys/fs/cgroup${cg}/memory.max`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    // oom_score_adj -500 is below what the user may set: clamped to fune's own score, not refused.
    const inner = Number(readFileSync(join(STATE, 'containers', ctr, 'conmon.pid'), 'utf8').trim());
    const conmonScore = Number(readFileSync(`/proc/${inner}/oom_score_adj`, 'utf8').trim());
    expect(Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim())).toBe(conmonScore);
    expect(conmonScore).toBeGreaterThan(-500);
    // AppArmor is on in the guest, and not applied from inside a user namespace.
    expect(readFileSync(`/proc/${pid}/attr/current`, 'utf8').trim()).toBe('unconfined');
    const id = await execSync(ctr, ['sh', '-c', 'id -u; cat /proc/self/uid_map']);
    expect(id.exit_code).toBe(0);
    expect(id.stdout.split('\n')[0]).toBe('0');
    expect(id.stdout).toMatch(/^\s*0\s+1000\s+1\s*$/m);
    const made = await stat(`/proc/${pid}/root/made-inside`);
    expect(made.uid).toBe(UID);
    const log = await readFile(join(pod.config.log_directory as string, 'main.log'), 'utf8');
    expect(log).toMatch(/^\S+ stdout F hello-rootless$/m);
    await c.call('StopPodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
    await c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
    expect(existsSync(`/sys/fs/cgroup${cg}`)).toBe(false);
  }, T);

  it('writes layers as overlayfs in a user namespace reads them: opaque directory, whiteout, fifo; device nodes skipped and counted', async () => {
    const pod = await runPod('rl-layers');
    const ctr = await runContainer(pod, 'layers', 'sleep 100000', { image: { image: LAYERED } });
    const ls = await execSync(ctr, ['sh', '-c', 'ls /d; test -e /x && echo x-present; test -p /pipe && echo fifo; test -e /nulldev || echo no-nulldev; test -e /zerodev || echo no-zerodev']);
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['c', 'fifo', 'no-nulldev', 'no-zerodev']);
    // The opaque mark is a user xattr on the upper layer's d/ (trusted.* cannot be set in a user namespace).
    const mounts = readFileSync(`/proc/${await pidOf(ctr)}/mountinfo`, 'utf8').split('\n').find((l) => / \/ \/ .* - overlay /.test(l) || / - overlay overlay /.test(l)) ?? '';
    expect(mounts).toContain('userxattr');
    const j = journal();
    expect(j).toMatch(/1 device node\(s\) of layer sha256:[0-9a-f]{64} skipped/);
  }, T);

  it('bind-mounts the host\'s devices into a privileged container instead of making nodes', async () => {
    const pod = await runPod('rl-priv', { linux: { security_context: { privileged: true } } });
    const ctr = await runContainer(pod, 'priv', 'sleep 100000', { linux: { security_context: { privileged: true } } });
    const info = readFileSync(`/proc/${await pidOf(ctr)}/mountinfo`, 'utf8');
    // /dev/vda (the guest's disk) reaches the container as a bind mount of the host's node.
    expect(info).toMatch(/ \/dev\/vda [^\n]*nosuid[^\n]*noexec/);
    const r = await execSync(ctr, ['sh', '-c', 'test -b /dev/vda && echo block']);
    expect(r.stdout.trim()).toBe('block');
  }, T);

  it.each([
    ['net.core.somaxconn', 'hidden from a network namespace a user namespace owns'],
    ['net.netfilter.nf_conntrack_max', 'netfilter\'s, hidden there too'],
  ])('refuses sysctl %s (%s) with INVALID_ARGUMENT before making anything', async (name) => {
    const before = ((await c.call('ListPodSandbox', {})).items as unknown[]).length;
    const f = await failure(c.call('RunPodSandbox', { config: podConfig(`rl-sysctl-${uidSuffix()}`, LOGS, { linux: { sysctls: { [name]: '1' } } }) }));
    expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.details).toContain(`sysctl ${name} cannot be set on this rootless node`);
    expect(((await c.call('ListPodSandbox', {})).items as unknown[]).length).toBe(before);
  }, T);

  it('sets a sysctl the kernel offers there (net.ipv4.ping_group_range) in the pod', async () => {
    const pod = await runPod('rl-sysctl-ok', { linux: { sysctls: { 'net.ipv4.ping_group_range': '0 1000' } } });
    const ctr = await runContainer(pod, 's', 'sleep 100000');
    expect((await execSync(ctr, ['cat', '/proc/sys/net/ipv4/ping_group_range'])).stdout.trim().split(/\s+/)).toEqual(['0', '1000']);
  }, T);

  describe('pod networking in RootlessKit\'s network namespace, reached from the guest\'s own', () => {
    let web: { id: string; config: Record<string, unknown> };
    let webCtr: string;

    it('puts a pod on the bridge network and answers its hostPort in the guest\'s own namespace through RootlessKit', async () => {
      web = await runPod('rl-web', { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: HOST_PORT }] });
      webCtr = await runContainer(web, 'web', 'mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www');
      const st = await c.call('PodSandboxStatus', { pod_sandbox_id: web.id });
      const ip = st.status.network.ip as string;
      expect(ip).toMatch(/^10\.85\.\d+\.\d+$/);
      // The pod's eth0 in its own namespace holds that address (read from the kernel, inside the container).
      expect((await execSync(webCtr, ['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${ip}/16`);
      // In the guest's own namespace RootlessKit (as the user) listens on the host port.
      expect(listeners(HOST_PORT)).toMatch(/rootlesskit/);
      const r = await until('the pod to answer on its hostPort', () => {
        const x = nc(HOST_PORT);
        return x.stdout.includes('hello-from-pod') ? x : undefined;
      });
      expect(r.stdout).toMatch(/^HTTP\/1\.[01] 200/);
    }, T);

    it('refuses a host port already taken with FAILED_PRECONDITION, leaving nothing', async () => {
      const before = ((await c.call('ListPodSandbox', {})).items as unknown[]).length;
      const f = await failure(c.call('RunPodSandbox', { config: podConfig(`rl-taken-${uidSuffix()}`, LOGS, { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: HOST_PORT }] }) }, { deadlineMs: 300_000 }));
      expect(f.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(f.details).toContain(`host port 0.0.0.0:${HOST_PORT}/tcp cannot be exposed on this rootless node`);
      expect(((await c.call('ListPodSandbox', {})).items as unknown[]).length).toBe(before);
      // The first pod still has its port.
      expect(nc(HOST_PORT).stdout).toContain('hello-from-pod');
    }, T);

    it('crictl exec and port-forward work as the user from the guest\'s own namespace', async () => {
      const ex = crictl(['exec', webCtr, 'sh', '-c', 'echo exec-ok; hostname']);
      expect(ex, ex.stderr).toMatchObject({ status: 0 });
      expect(ex.stdout.split('\n').slice(0, 2)).toEqual(['exec-ok', web.config.hostname]);
      // port-forward 18081 -> the pod's 8080: crictl listens in the guest's own namespace and dials fune's streaming
      // server there, which RootlessKit takes into fune's namespace.
      const pf = spawn('runuser', ['-u', 'fune', '--', CRICTL, '--runtime-endpoint', `unix://${SOCKET}`, 'port-forward', web.id, '18081:8080'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let pfErr = '';
      pf.stderr.on('data', (b: Buffer) => (pfErr += b.toString()));
      try {
        const r = await until('port-forward to answer', () => {
          const x = nc(18081);
          return x.stdout.includes('hello-from-pod') ? x : undefined;
        });
        expect(r.stdout).toMatch(/^HTTP\/1\.[01] 200/);
      } catch (e) {
        throw new Error(`${(e as Error).message}; crictl port-forward said: ${pfErr}`, { cause: e });
      } finally {
        pf.kill('SIGTERM');
      }
    }, T);

    it('crictl attach -i as the user reaches a container whose attach socket path is too long for sockaddr_un', async () => {
      const ctr = await runContainer(web, 'reader', 'read line; echo "got:$line"', { stdin: true, stdin_once: true });
      // The socket's real path is under RootlessKit's copy of /run (/run/.ro<random>/user/1000/fune/s/<id>/attach),
      // 107 bytes when the random part has 10 digits (most of the time): over what the connect call takes (106 and
      // a NUL, test/unit/sys/seqpacket.test.ts), so fune connects through the directory (this was ENAMETOOLONG).
      const conmon = Number(readFileSync(join(STATE, 'containers', ctr, 'conmon.pid'), 'utf8').trim());
      const argv = readFileSync(`/proc/${conmon}/cmdline`, 'utf8').split('\0');
      const socketDir = argv[argv.indexOf('--socket-dir-path') + 1]!;
      expect(socketDir).toMatch(/^\/run\/\.ro/);
      expect(Buffer.byteLength(`${socketDir}/${ctr}/attach`)).toBeGreaterThan(100);
      const at = crictl(['attach', '-i', ctr], 'hello-attach\n');
      expect(at, at.stderr).toMatchObject({ status: 0 });
      expect(at.stdout).toContain('got:hello-attach');
    }, T);

    it('StopPodSandbox takes the host port away', async () => {
      await c.call('StopPodSandbox', { pod_sandbox_id: web.id }, { deadlineMs: 300_000 });
      expect(listeners(HOST_PORT)).toBe('');
      expect(nc(HOST_PORT).stdout).not.toContain('hello-from-pod');
      await c.call('RemovePodSandbox', { pod_sandbox_id: web.id }, { deadlineMs: 300_000 });
    }, T);
  });

  it('with runtime.overlay_mounter = "fuse-overlayfs" (forced: this kernel mounts overlayfs in a user namespace) runs containers on fuse-overlayfs mounts of the same layers', async () => {
    await removeAll();
    c.close();
    userctl('stop', 'fune-rootless');
    await own(join(CONF_DIR, 'config.toml'), `[cni]\nconf_dir = "${join(CONF_DIR, 'cni')}"\n[runtime]\noverlay_mounter = "fuse-overlayfs"\n`);
    userctl('start', 'fune-rootless');
    await waitReady();
    c = criClient(SOCKET);
    const node = JSON.parse((await c.call('Status', { verbose: true })).info.node);
    expect(node.overlay).toEqual({ mounter: 'fuse-overlayfs', reason: 'runtime.overlay_mounter = "fuse-overlayfs"' });
    const pod = await runPod('rl-fuse');
    const ctr = await runContainer(pod, 'layers', 'sleep 100000', { image: { image: LAYERED } });
    const root = readFileSync(`/proc/${await pidOf(ctr)}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/') ?? '';
    expect(root).toMatch(/ - fuse\.fuse-overlayfs /);
    // The same layers read the same through fuse-overlayfs: the opaque d/ (user.overlay.opaque), the whiteout of /x.
    const ls = await execSync(ctr, ['sh', '-c', 'ls /d; test -e /x && echo x-present; test -p /pipe && echo fifo; echo written > /new && cat /new']);
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['c', 'fifo', 'written']);
    await c.call('StopPodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
    await c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
  }, T);
});

// Rootless fune in the VM tier's guest: the non-root user `fune` (uid 1000, subordinate ids 100000-165535, a
// systemd --user manager with cpu cpuset io memory pids delegated) runs `fune daemon --rootless` through the shipped
// user unit systemd/fune-rootless.service. fune re-executes itself under rootlesskit (user, mount and network
// namespaces, slirp4netns) and serves /run/user/1000/fune/fune.sock; this test (as the guest's root) talks CRI to
// it and reads back from the kernel what it made: the user namespace of the containers (/proc/<pid>/uid_map), their
// cgroups in the user's delegated subtree with the memory limit applied, oom_score_adj clamped, no AppArmor, exec and
// logs, image layers written as overlayfs in a user namespace reads them (user.overlay.opaque, whiteouts, device
// nodes skipped), host devices bind-mounted for a privileged container, and the refusals a rootless node makes.
// Networking, with the shipped default conflist (hack/cni/10-fune.conflist: bridge, host-local, portmap) as the
// user's: pod addresses on the bridge inside RootlessKit's network namespace, pod to pod, a hostPort reachable on the
// guest's own 127.0.0.1 through RootlessKit's port driver and gone with its pod, and crictl exec, attach and
// port-forward run as the user from the guest's namespaces (outside RootlessKit's).
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
const CRICTL = '/opt/cri-tools-v1.32/bin/crictl';
const API = `${RUN}/fune-rootlesskit/api.sock`;
const HTTPD = 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www';

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const userctl = (...args: string[]): string => sh('systemctl', ['--user', `--machine=fune@.host`, ...args]);
const journal = (): string => sh('journalctl', [`_UID=${UID}`, '--no-pager', '-o', 'cat', '-q']);

let c: CriClient;

/** crictl runs crictl as the user fune, from the guest's own namespaces, against the rootless socket. */
const crictl = (args: string[], input?: string) =>
  spawnSync('runuser', ['-u', 'fune', '--', CRICTL, '--runtime-endpoint', `unix://${SOCKET}`, '--timeout', '300s', ...args], { encoding: 'utf8', input, timeout: 600_000 });

/** curl fetches a URL from the guest's own network namespace (or from inside pid's with `nsPid`). */
const curl = (url: string, nsPid?: number) =>
  spawnSync(nsPid ? 'nsenter' : 'curl', [...(nsPid ? ['-t', String(nsPid), '-n', 'curl'] : []), '-sS', '--max-time', '120', url], { encoding: 'utf8', timeout: 200_000 });

/** innerPid is fune's process inside RootlessKit's namespaces. */
function innerPid(): number {
  const procs = readFileSync(`/sys/fs/cgroup${MANAGER}/app.slice/fune-rootless.service/cgroup.procs`, 'utf8').trim().split('\n').map(Number);
  const inner = procs.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('main.js') && readFileSync(`/proc/${p}/uid_map`, 'utf8').trim() !== readFileSync('/proc/self/uid_map', 'utf8').trim());
  if (!inner) throw new Error('no fune process inside RootlessKit');
  return inner;
}

/** rootlesskitPorts lists RootlessKit's exposed ports, read from its API as the user. */
function rootlesskitPorts(): { id: number; spec: { proto: string; parentIP: string; parentPort: number; childPort: number } }[] {
  return JSON.parse(sh('runuser', ['-u', 'fune', '--', 'curl', '-sS', '--unix-socket', API, 'http://rootlesskit/v1/ports'])) ?? [];
}

/** listeners gives `ss -ltnp` of the guest's own namespace. */
const listeners = () => sh('ss', ['-Hltnp']);

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
    await own(join(CONF_DIR, 'config.toml'), `[cni]\nconf_dir = "${join(CONF_DIR, 'cni')}"\n`);
    // The default pod network, installed by set-up's installer as the user into the user's conf dir: bridge fune0
    // on 10.85.0.0/16, host-local, portmap.
    sh('runuser', ['-u', 'fune', '--', process.execPath, join(ROOT, 'dist', 'hack', 'cni', 'install-default.js'), '--config', join(CONF_DIR, 'config.toml')]);
    expect(JSON.parse(readFileSync(join(CONF_DIR, 'cni', '10-fune.conflist'), 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.85.0.0/16' }]]);
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

  it('fuse-overlayfs (the fallback where the kernel refuses overlay) mounts the layers fune wrote, as the user in fune\'s namespaces', async () => {
    const pod = await runPod('rl-fuse');
    const ctr = await runContainer(pod, 'layers', 'sleep 100000', { image: { image: LAYERED } });
    // The lower layers of the container's kernel overlay, as fune mounted them (names relative to <root>/image/l).
    const root = readFileSync(`/proc/${await pidOf(ctr)}/mountinfo`, 'utf8').split('\n').find((l) => / \/ \/ /.test(l) && / - overlay /.test(l)) ?? '';
    const lower = /lowerdir=([^,]+)/.exec(root)?.[1];
    expect(lower).toBeDefined();
    const dir = join(DATA, 'fuse-check');
    for (const d of ['upper', 'work', 'merged']) await mkdir(join(dir, d), { recursive: true });
    for (const d of [dir, ...['upper', 'work', 'merged'].map((x) => join(dir, x))]) await chown(d, UID, UID);
    // As the user: into fune's user and mount namespaces (the user owns them), then fuse-overlayfs as fune's
    // fallback runs it (sys/overlay-fallback.ts), from the links directory.
    const script = [
      `cd ${join(DATA, 'image', 'l')}`,
      `fuse-overlayfs -o lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work ${dir}/merged`,
      `grep " ${dir}/merged " /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1`,
      `ls ${dir}/merged/d`,
      `test -e ${dir}/merged/x || echo no-x`,
      `test -p ${dir}/merged/pipe && echo fifo`,
      `echo new > ${dir}/merged/d/new && cat ${dir}/upper/d/new`,
      `umount ${dir}/merged`,
    ].join(' && ');
    const r = spawnSync('runuser', ['-u', 'fune', '--', 'nsenter', '-t', String(innerPid()), '-U', '-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 300_000 });
    // fuse-overlayfs 1.10 warns about an option libfuse no longer has; nothing else may go to stderr.
    expect(r.stderr.replace(/^unknown argument ignored: lazytime\n/m, '')).toBe('');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['fuse.fuse-overlayfs', 'c', 'no-x', 'fifo', 'new']);
    expect(r.status).toBe(0);
    await rm(dir, { recursive: true, force: true });
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

  it('gives each pod its own network namespace with an address on the bridge inside RootlessKit\'s namespace; pods reach each other and the node reaches them', async () => {
    const inner = innerPid();
    const a = await runPod('rl-net-a');
    const actr = await runContainer(a, 'httpd', HTTPD);
    const b = await runPod('rl-net-b');
    const bctr = await runContainer(b, 'client', 'sleep 100000');
    const ipOf = async (id: string) => (await c.call('PodSandboxStatus', { pod_sandbox_id: id })).status.network.ip as string;
    const [aip, bip] = [await ipOf(a.id), await ipOf(b.id)];
    expect(aip).toMatch(/^10\.85\.\d+\.\d+$/);
    expect(bip).toMatch(/^10\.85\.\d+\.\d+$/);
    expect(aip).not.toBe(bip);
    // What the kernel has: each pod's eth0 carries its address in a namespace of its own, not fune's (RootlessKit's
    // child namespace), and that one has the bridge with the gateway address.
    const apid = await pidOf(actr);
    const bpid = await pidOf(bctr);
    const netnsOf = (pid: number) => sh('readlink', [`/proc/${pid}/ns/net`]).trim();
    expect(new Set([netnsOf(apid), netnsOf(bpid), netnsOf(inner), netnsOf(process.pid)]).size).toBe(4);
    expect(sh('nsenter', ['-t', String(apid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${aip}/16`);
    expect(sh('nsenter', ['-t', String(bpid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${bip}/16`);
    expect(sh('nsenter', ['-t', String(inner), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'fune0'])).toContain('inet 10.85.0.1/16');
    // The pod's veth peer is a port of the bridge there.
    expect(sh('nsenter', ['-t', String(inner), '-n', 'ip', '-o', 'link', 'show', 'master', 'fune0'])).toMatch(/veth/);
    // Pod to pod, and fune's namespace (the node's, from CNI's point of view) to the pod.
    // httpd may still be starting (TCG): ask again for a while.
    const got = await execSync(bctr, ['sh', '-c', `for i in $(seq 1 60); do wget -qO- -T 30 http://${aip}/ && exit 0; sleep 2; done; exit 1`]);
    expect(got.stdout.trim()).toBe(`hello from ${a.config.hostname as string}`);
    const fromNode = curl(`http://${aip}/`, inner);
    expect(fromNode.stdout.trim()).toBe(`hello from ${a.config.hostname as string}`);
    // The guest's own namespace has no route into RootlessKit's bridge (the pod network is the child's alone).
    expect(sh('ip', ['-o', 'addr'])).not.toContain(`${aip}/`);
    await removeAll();
  }, T);

  it('exposes a hostPort on the guest\'s own 127.0.0.1 through RootlessKit\'s port driver, and removes it with the pod', async () => {
    const hostPort = 18000 + Math.floor(Math.random() * 1000);
    const pod = await runPod('rl-hostport', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort, host_ip: '' }] });
    await runContainer(pod, 'httpd', HTTPD);
    // RootlessKit listens on the real host and dials 127.0.0.1:<hostPort> in its child namespace, where portmap
    // takes it to the pod.
    expect(rootlesskitPorts().filter((p) => p.spec.parentPort === hostPort)).toEqual([
      expect.objectContaining({ spec: expect.objectContaining({ proto: 'tcp', parentIP: '0.0.0.0', parentPort: hostPort, childPort: hostPort }) }),
    ]);
    expect(listeners()).toMatch(new RegExp(`:${hostPort}\\s[^\\n]*"rootlesskit"`));
    const r = curl(`http://127.0.0.1:${hostPort}/`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`hello from ${pod.config.hostname as string}`);
    // StopPodSandbox takes the port away on the host as well; RemovePodSandbox after it changes nothing more.
    await c.call('StopPodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
    expect(rootlesskitPorts().filter((p) => p.spec.parentPort === hostPort)).toEqual([]);
    expect(listeners()).not.toMatch(new RegExp(`:${hostPort}\\s`));
    const gone = curl(`http://127.0.0.1:${hostPort}/`);
    expect(gone.status).toBe(7); // curl: could not connect
    await c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }, { deadlineMs: 300_000 });
    expect(rootlesskitPorts().filter((p) => p.spec.parentPort === hostPort)).toEqual([]);
  }, T);

  it('refuses a hostPort the host already uses, with FAILED_PRECONDITION, and leaves no pod, port or namespace', async () => {
    // A listener of the guest's own (outside RootlessKit) holds the port.
    const hostPort = 19000 + Math.floor(Math.random() * 1000);
    const holder = spawn('python3', ['-c', `import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',${hostPort}))\ns.listen()\nprint('ok',flush=True)\ntime.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const before = ((await c.call('ListPodSandbox', {})).items as unknown[]).length;
      const portsBefore = rootlesskitPorts().length;
      const netnsBefore = sh('ls', [join(STATE, 'netns')]);
      const config = podConfig(`rl-taken-${uidSuffix()}`, LOGS, { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort, host_ip: '' }] });
      const f = await failure(c.call('RunPodSandbox', { config }, { deadlineMs: 300_000 }));
      expect(f.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(f.details).toContain(`hostPort 0.0.0.0:${hostPort}/tcp cannot be exposed on the host through RootlessKit's port driver`);
      expect(((await c.call('ListPodSandbox', {})).items as unknown[]).length).toBe(before);
      expect(rootlesskitPorts().length).toBe(portsBefore);
      expect(sh('ls', [join(STATE, 'netns')])).toBe(netnsBefore);
    } finally {
      holder.kill('SIGKILL');
    }
  }, T);

  it('serves crictl exec, attach and port-forward to the user outside the namespaces: the streaming port is exposed on the host', async () => {
    const hostPort = 17000 + Math.floor(Math.random() * 1000);
    const pod = await runPod('rl-stream');
    const web = await runContainer(pod, 'httpd', HTTPD);
    // The streaming server's URL works from the guest's own namespace: RootlessKit listens there on the same port.
    const url = (await c.call('Exec', { container_id: web, cmd: ['true'], stdout: true })).url as string;
    const port = Number(new URL(url).port);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(rootlesskitPorts()).toEqual(expect.arrayContaining([expect.objectContaining({ spec: expect.objectContaining({ parentIP: '127.0.0.1', parentPort: port, childPort: port }) })]));
    expect(listeners()).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}\\s[^\\n]*"rootlesskit"`));
    const ex = crictl(['exec', web, 'sh', '-c', 'echo exec-$((6*7)); id -u']);
    expect(ex.stderr.replace(/^time=.*level=warning.*\n/gm, '')).toBe('');
    expect(ex.stdout.split('\n').slice(0, 2)).toEqual(['exec-42', '0']);
    expect(ex.status).toBe(0);
    // attach: the container reads a line from its stdin and answers it, then exits, which ends the attach.
    const reader = await runContainer(pod, 'reader', 'read line; echo got:$line', { stdin: true, stdin_once: true });
    const at = crictl(['attach', '-i', reader], 'hello-attach\n');
    expect(at.stdout, `crictl attach: status ${at.status}, stderr ${at.stderr}`).toContain('got:hello-attach');
    // port-forward: crictl listens on the guest's 127.0.0.1 and forwards into the pod's namespace.
    const pf = spawn('runuser', ['-u', 'fune', '--', CRICTL, '--runtime-endpoint', `unix://${SOCKET}`, 'port-forward', pod.id, `${hostPort}:80`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const on = (b: Buffer) => ((out += b.toString()), out.includes('Forwarding from') && resolve());
        pf.stdout.on('data', on);
        pf.stderr.on('data', on);
        pf.once('exit', (code) => reject(new Error(`crictl port-forward exited (${code}): ${out}`)));
      });
      const r = curl(`http://127.0.0.1:${hostPort}/`);
      expect(r.stdout.trim()).toBe(`hello from ${pod.config.hostname as string}`);
    } finally {
      pf.kill('SIGTERM');
    }
    await removeAll();
  }, T);
});

// Security contexts and resources through the whole daemon: CRI requests to a real fune (test/helpers/daemon.ts)
// with the busybox test image, containers run by conmon and runc, and what the kernel enforces read back from
// inside the container (its log) or from the host (/proc, the cgroup files). Bad input must be refused with the
// right code before anything is left behind: no record, no bundle, no mount, and the name free again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { containerConfig, footprint, footprintDiff, logText, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';

const MiB = 1024 * 1024;
/** the cgroup v1 "unlimited" of memory files: LONG_MAX rounded down to the page size. */
const V1_UNLIMITED = 9223372036854771712n;
const CAP_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
];
/** cgroup v1 (or hybrid): memory.memsw files exist and a unified map is refused. */
const V1 = !existsSync('/sys/fs/cgroup/cgroup.controllers');
const bit = (name: string): bigint => 1n << BigInt(CAP_NAMES.indexOf(name));

let env: LifecycleEnv;
let pod: { id: string; config: Record<string, unknown> };
let profiles: string;
let seq = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runPod(name: string, linux: Record<string, unknown> = {}) {
  const config = podConfig(name, env.logDir, { linux });
  const { pod_sandbox_id } = await env.c.call('RunPodSandbox', { config });
  return { id: pod_sandbox_id as string, config };
}

/** create makes a container (not started) with the given CRI `linux` section; `name` defaults to a fresh one. */
async function create(p: typeof pod, script: string, linux: Record<string, unknown>, name = `c${++seq}`): Promise<string> {
  const { container_id } = await env.c.call('CreateContainer', { pod_sandbox_id: p.id, config: containerConfig(name, script, { linux }), sandbox_config: p.config });
  return container_id as string;
}

/** run creates and starts a container running `script` under sh -c, waits for its exit, and gives its code and output. */
async function run(script: string, linux: Record<string, unknown> = {}, p = pod): Promise<{ code: number; out: string }> {
  const id = await create(p, script, linux);
  await env.c.call('StartContainer', { container_id: id });
  const end = Date.now() + 20_000;
  for (;;) {
    const { status } = await env.c.call('ContainerStatus', { container_id: id });
    if (status.state === 'CONTAINER_EXITED') {
      const out = await logText(env, id);
      await env.c.call('RemoveContainer', { container_id: id });
      return { code: status.exit_code as number, out };
    }
    if (Date.now() > end) throw new Error(`container ${id} (${script}) did not exit`);
    await sleep(30);
  }
}

const sec = (securityContext: Record<string, unknown>, resources?: Record<string, unknown>) => ({ security_context: securityContext, ...(resources ? { resources } : {}) });
const caps = (add: string[], drop: string[] = []) => ({ capabilities: { add_capabilities: add, drop_capabilities: drop, add_ambient_capabilities: [] } });
const capField = (out: string, field: string): bigint => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(out)?.[1] ?? 'x'}`);

/** refused checks that a CreateContainer fails with `code`, leaves nothing behind and frees the name. */
async function refusedContainer(linux: Record<string, unknown>, code: number, match: RegExp): Promise<void> {
  const name = `refused${++seq}`;
  const before = await footprint(env);
  const containers = (await env.c.call('ListContainers', {})).containers.length;
  const f = await failure(create(pod, 'true', linux, name));
  expect(f.code, f.details).toBe(code);
  expect(f.details).toMatch(match);
  expect((await env.c.call('ListContainers', {})).containers).toHaveLength(containers);
  expect(footprintDiff(before, await footprint(env))).toEqual([]);
  // the name was released: the same name with a plain config works
  const id = await create(pod, 'true', {}, name);
  await env.c.call('RemoveContainer', { container_id: id });
}

beforeAll(async () => {
  env = await startEnv();
  profiles = join(env.d.dir, 'seccomp');
  await mkdir(profiles);
  // sethostname fails with EACCES (not the EPERM of a missing capability), so the profile is seen to be the cause
  await writeFile(join(profiles, 'no-hostname.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
  pod = await runPod('sec');
});

afterAll(async () => {
  if (pod) await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch(() => undefined);
  await env?.cleanup();
});

describe('security contexts through the daemon', () => {
  it.skipIf(!V1)('swap limit in memory.memsw.limit_in_bytes: unset = the memory limit, -1 = unlimited, larger = as given', async () => {
    const cases: [string, bigint][] = [['0', 64n * BigInt(MiB)], ['-1', V1_UNLIMITED], [String(96 * MiB), 96n * BigInt(MiB)]];
    for (const [swap, want] of cases) {
      const id = await create(pod, 'sleep 1000', { resources: { memory_limit_in_bytes: String(64 * MiB), memory_swap_limit_in_bytes: swap } });
      // The container's cgroup exists once runc has created it, which fune does at StartContainer (as containerd).
      await env.c.call('StartContainer', { container_id: id });
      const info = JSON.parse((await env.c.call('ContainerStatus', { container_id: id, verbose: true })).info.info);
      const dir = join('/sys/fs/cgroup/memory', info.runtimeSpec.linux.cgroupsPath);
      expect((await readFile(join(dir, 'memory.limit_in_bytes'), 'utf8')).trim()).toBe(String(64 * MiB));
      expect(BigInt((await readFile(join(dir, 'memory.memsw.limit_in_bytes'), 'utf8')).trim()), `swap ${swap}`).toBe(want);
      await env.c.call('StopContainer', { container_id: id, timeout: 0 });
      await env.c.call('RemoveContainer', { container_id: id });
    }
    // and from inside: the container's own memory cgroup
    const r = await run('cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes', { resources: { memory_limit_in_bytes: String(32 * MiB) } });
    expect(r.out.trim()).toBe(String(32 * MiB));
  });

  it('RuntimeDefault blocks sethostname without CAP_SYS_ADMIN and allows it with it', async () => {
    const runtimeDefault = { seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } };
    const blocked = await run('grep ^Seccomp: /proc/self/status; hostname fune-blocked', sec(runtimeDefault));
    expect(blocked.out).toMatch(/Seccomp:\s+2/);
    expect(blocked.code).not.toBe(0);
    expect(blocked.out).toMatch(/Operation not permitted/);
    const allowed = await run('grep ^Seccomp: /proc/self/status; hostname fune-allowed && hostname', sec({ ...runtimeDefault, ...caps(['SYS_ADMIN']) }));
    expect(allowed.out).toMatch(/Seccomp:\s+2/);
    expect(allowed.code, allowed.out).toBe(0);
    expect(allowed.out).toContain('fune-allowed');
  });

  it('a Localhost profile is enforced; a missing one is INVALID_ARGUMENT and nothing is created', async () => {
    const path = join(profiles, 'no-hostname.json');
    const blocked = await run('hostname fune-local', sec({ ...caps(['SYS_ADMIN']), seccomp: { profile_type: 'Localhost', localhost_ref: path } }));
    expect(blocked.code).not.toBe(0);
    expect(blocked.out).toMatch(/Permission denied/); // the profile's EACCES
    const legacy = await run('hostname fune-local', sec({ ...caps(['SYS_ADMIN']), seccomp_profile_path: `localhost/${path}` }));
    expect(legacy.out).toMatch(/Permission denied/);
    const unconfined = await run('hostname fune-free && grep ^Seccomp: /proc/self/status', sec({ ...caps(['SYS_ADMIN']), seccomp: { profile_type: 'Unconfined', localhost_ref: '' } }));
    expect(unconfined.code, unconfined.out).toBe(0);
    expect(unconfined.out).toMatch(/Seccomp:\s+0/);

    const missing = join(profiles, 'absent.json');
    await refusedContainer(sec({ seccomp: { profile_type: 'Localhost', localhost_ref: missing } }), grpc.status.INVALID_ARGUMENT, /absent\.json/);
    // the same name again with the valid profile
    const name = 'again';
    const f = await failure(create(pod, 'true', sec({ seccomp: { profile_type: 'Localhost', localhost_ref: missing } }), name));
    expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    const id = await create(pod, 'true', sec({ seccomp: { profile_type: 'Localhost', localhost_ref: path } }), name);
    await env.c.call('RemoveContainer', { container_id: id });
  });

  it('capabilities: add, drop, ALL on either side; an unknown name is INVALID_ARGUMENT', async () => {
    const read = 'grep -E "^Cap(Eff|Bnd):" /proc/self/status';
    const dflt = await run(read);
    const base = capField(dflt.out, 'CapBnd');
    expect(base & bit('CHOWN')).not.toBe(0n);
    expect(base & bit('NET_ADMIN')).toBe(0n);
    expect(base & bit('SYS_ADMIN')).toBe(0n);
    const changed = await run(read, sec(caps(['NET_ADMIN', 'CAP_SYS_TIME'], ['CHOWN', 'CAP_KILL'])));
    expect(capField(changed.out, 'CapBnd')).toBe((base | bit('NET_ADMIN') | bit('SYS_TIME')) & ~bit('CHOWN') & ~bit('KILL'));
    expect(capField(changed.out, 'CapEff')).toBe(capField(changed.out, 'CapBnd'));
    const none = await run(read, sec(caps([], ['ALL'])));
    expect(capField(none.out, 'CapBnd')).toBe(0n);
    expect(capField(none.out, 'CapEff')).toBe(0n);
    const only = await run(read, sec(caps(['NET_RAW'], ['ALL'])));
    expect(capField(only.out, 'CapBnd')).toBe(bit('NET_RAW'));
    const fune = capField(await readFile(`/proc/${env.d.proc.pid}/status`, 'utf8'), 'CapBnd');
    const all = await run(read, sec(caps(['ALL'])));
    expect(capField(all.out, 'CapBnd')).toBe(fune);
    const allButOne = await run(read, sec(caps(['ALL'], ['NET_ADMIN'])));
    expect(capField(allButOne.out, 'CapBnd')).toBe(fune & ~bit('NET_ADMIN'));

    await refusedContainer(sec(caps(['CAP_NOT_A_THING'])), grpc.status.INVALID_ARGUMENT, /NOT_A_THING/);
    await refusedContainer(sec(caps([], ['BOGUS'])), grpc.status.INVALID_ARGUMENT, /BOGUS/);
  });

  it('read-only rootfs, masked and read-only paths, and CRI masked paths replacing the defaults', async () => {
    const ro = await run('touch /newfile; echo shm > /dev/shm/x && cat /dev/shm/x', sec({ readonly_rootfs: true }));
    expect(ro.out).toMatch(/newfile: Read-only file system/);
    expect(ro.out).toContain('shm');
    const rw = await run('touch /newfile && echo made', sec({ readonly_rootfs: false }));
    expect(rw.out).toContain('made');

    // (this kernel has no /proc/kcore or /proc/sysrq-trigger; runc masks only paths that exist)
    const probe = 'stat -c %F /proc/keys /proc/timer_list; echo acpi=$(ls /proc/acpi | wc -l) firmware=$(ls /sys/firmware | wc -l); echo 1 > /proc/sys/kernel/domainname; awk \'$5 == "/proc/bus" { print "bus=" substr($6, 1, 3) }\' /proc/self/mountinfo';
    const dflt = await run(probe);
    expect(dflt.out).toMatch(/^character special file\ncharacter special file$/m); // /dev/null over the files
    expect(dflt.out).toContain('acpi=0 firmware=0'); // an empty read-only tmpfs over the directories
    expect(dflt.out).toMatch(/domainname: Read-only file system/);
    expect(dflt.out).toMatch(/^bus=ro,$/m); // a read-only bind of /proc/bus
    // the CRI's lists replace the defaults: /etc/group masked and /etc/passwd read-only, /proc/keys not masked
    const custom = await run('stat -c %F /proc/keys; echo group=$(wc -c < /etc/group); touch /etc/passwd', sec({ masked_paths: ['/etc/group'], readonly_paths: ['/etc/passwd'] }));
    expect(custom.out).toMatch(/^regular( empty)? file$/m);
    expect(custom.out).toContain('group=0');
    expect(custom.out).toMatch(/passwd: Read-only file system/);
  });

  it('run_as_user, run_as_username, run_as_group and supplemental groups show in id; run_as_group alone is INVALID_ARGUMENT', async () => {
    const r = await run('id -u; id -g; id -G', sec({ run_as_user: { value: 1000 }, run_as_group: { value: 2000 }, supplemental_groups: [3000, 4000] }));
    const [uid, gid, groups] = r.out.trim().split('\n');
    expect(uid).toBe('1000');
    expect(gid).toBe('2000');
    expect(groups!.split(' ')).toEqual(expect.arrayContaining(['2000', '3000', '4000']));
    const named = await run('id', sec({ run_as_username: 'www-data' }));
    expect(named.out).toMatch(/^uid=33\(www-data\) gid=33\(www-data\)/);
    await refusedContainer(sec({ run_as_group: { value: 2000 } }), grpc.status.INVALID_ARGUMENT, /run_as_group|RunAsGroup/i);
  });

  it('no_new_privs sets NoNewPrivs in /proc/self/status', async () => {
    expect((await run('grep ^NoNewPrivs: /proc/self/status', sec({ no_new_privs: true }))).out).toMatch(/NoNewPrivs:\s+1/);
    expect((await run('grep ^NoNewPrivs: /proc/self/status', sec({ no_new_privs: false }))).out).toMatch(/NoNewPrivs:\s+0/);
  });

  it('privileged: fune\'s own bounding set, host devices, no seccomp, no masks; not in an unprivileged pod', async () => {
    const ppod = await runPod('sec-priv', { security_context: { privileged: true } });
    try {
      const fune = capField(await readFile(`/proc/${env.d.proc.pid}/status`, 'utf8'), 'CapBnd');
      const r = await run('grep -E "^(Cap(Eff|Bnd)|Seccomp):" /proc/self/status; test -b /dev/loop0 && echo has-loop0; test -c /dev/kmsg && echo has-kmsg; stat -c %F /proc/keys; echo 1 > /proc/sys/kernel/domainname && echo sys-writable', sec({ privileged: true }), ppod);
      expect(capField(r.out, 'CapBnd')).toBe(fune);
      expect(capField(r.out, 'CapEff')).toBe(fune);
      // where fune lacks CAP_SYS_RESOURCE (as on the CI host), so does the privileged container
      const hostBnd = capField(await readFile('/proc/self/status', 'utf8'), 'CapBnd');
      expect(capField(r.out, 'CapBnd') & bit('SYS_RESOURCE')).toBe(hostBnd & bit('SYS_RESOURCE'));
      expect(r.out).toMatch(/Seccomp:\s+0/);
      expect(r.out).toContain('has-kmsg');
      if ((await readdir('/dev')).includes('loop0')) expect(r.out).toContain('has-loop0');
      expect(r.out).toMatch(/^regular( empty)? file$/m); // no masks
      expect(r.out).toContain('sys-writable'); // no read-only /proc/sys
      // the same in the ordinary pod: no host devices
      const plain = await run('test -c /dev/kmsg && echo has-kmsg; echo done');
      expect(plain.out).not.toContain('has-kmsg');
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: ppod.id });
    }
    await refusedContainer(sec({ privileged: true }), grpc.status.INVALID_ARGUMENT, /privileged/);
  });

  it('bad resources: an invalid cpuset is INVALID_ARGUMENT, a unified map on cgroup v1 FAILED_PRECONDITION, nothing created', async () => {
    await refusedContainer({ resources: { cpuset_cpus: '1--3' } }, grpc.status.INVALID_ARGUMENT, /cpuset_cpus/);
    await refusedContainer({ resources: { cpuset_cpus: '10-6' } }, grpc.status.INVALID_ARGUMENT, /cpuset_cpus/);
    await refusedContainer({ resources: { cpuset_mems: '0,,1' } }, grpc.status.INVALID_ARGUMENT, /cpuset_mems/);
    if (V1) await refusedContainer({ resources: { unified: { 'memory.min': '1048576', 'memory.high': '2097152' } } }, grpc.status.FAILED_PRECONDITION, /cgroup v2/);
  });

  it('oom_score_adj below fune\'s own is clamped, in containers and in the pod infra', async () => {
    const own = Number((await readFile(`/proc/${env.d.proc.pid}/oom_score_adj`, 'utf8')).trim());
    // with its own PID namespace (what the kubelet asks unless the pod shares one), /proc/1 is the container's process
    const ownNs = { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '' } };
    const r = await run('cat /proc/1/oom_score_adj /proc/self/oom_score_adj', { security_context: ownNs, resources: { oom_score_adj: -998 } });
    expect(r.out.trim().split('\n').map(Number)).toEqual([Math.max(own, -998), Math.max(own, -998)]);
    const high = await run('cat /proc/1/oom_score_adj', { security_context: ownNs, resources: { oom_score_adj: 500 } });
    expect(high.out.trim()).toBe('500');
    // in the pod's PID namespace, /proc/1 is the infra process: clamped as well
    const shared = await run('cat /proc/1/oom_score_adj; cat /proc/1/cmdline | tr "\\0" " "', { resources: { oom_score_adj: 500 } });
    expect(shared.out.trim().split('\n')).toEqual([String(Math.max(own, -998)), '/catatonit -P']);
    const info = JSON.parse((await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true })).info.info);
    expect(info.pid).toBeGreaterThan(0);
    expect(Number((await readFile(`/proc/${info.pid}/oom_score_adj`, 'utf8')).trim())).toBe(Math.max(own, -998));
  });
});

describe('pod sysctls through the daemon', () => {
  // a non-root container without capabilities: only the sysctl can let it bind a port below 1024
  const bind80 = 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start; nc -l -p 80 & sleep 0.3; grep -qE ":0050 [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 && echo bound; kill $! 2>/dev/null; true';
  const unprivileged = sec({ run_as_user: { value: 1000 }, ...caps([], ['ALL']) });

  it('net.ipv4.ip_unprivileged_port_start=0 lets a non-root container bind port 80', async () => {
    const spod = await runPod('sec-sysctl', { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } });
    try {
      const r = await run(bind80, unprivileged, spod);
      expect(r.out.split('\n')[0]).toBe('0');
      expect(r.out).toContain('bound');
    } finally {
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: spod.id });
    }
    // without it, the same container may not
    const r = await run(bind80, unprivileged);
    expect(r.out.split('\n')[0]).toBe('1024');
    expect(r.out).not.toContain('bound');
    expect(r.out).toMatch(/Permission denied/);
  });

  it('a sysctl that is not namespaced is INVALID_ARGUMENT and no pod is left', async () => {
    for (const sysctls of [{ 'kernel.panic': '10' }, { 'vm.swappiness': '10' }]) {
      const before = await footprint(env);
      const pods = (await env.c.call('ListPodSandbox', {})).items.length;
      const config = podConfig('sec-bad-sysctl', env.logDir, { linux: { sysctls } });
      const f = await failure(env.c.call('RunPodSandbox', { config }));
      expect(f.code, f.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(f.details).toMatch(/not namespaced/);
      expect((await env.c.call('ListPodSandbox', {})).items).toHaveLength(pods);
      expect(footprintDiff(before, await footprint(env))).toEqual([]);
    }
    // net.* in a host-network pod would change the host: refused too
    const hostNet = podConfig('sec-hostnet-sysctl', env.logDir, { linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' }, security_context: { namespace_options: { network: 'NODE' } } } });
    expect((await failure(env.c.call('RunPodSandbox', { config: hostNet }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

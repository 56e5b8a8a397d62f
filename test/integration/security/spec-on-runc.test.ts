// Specs built by src/oci, run by the real runc on this host: what the kernel enforces must match what the
// spec asks (swap in memory.memsw, seccomp, capabilities, read-only rootfs, masked paths, identity, sysctls).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerConfig, LinuxContainerResources, LinuxContainerSecurityContext } from '../../../src/domain/cri-types.js';
import { buildContainerSpec } from '../../../src/oci/build-container-spec.js';
import { buildSandboxSpec } from '../../../src/oci/build-sandbox-spec.js';
import { CAPABILITY_NAMES, DEFAULT_CAPABILITIES } from '../../../src/oci/capabilities.js';
import type { HostFacts } from '../../../src/oci/input.js';
import { parseGroup, parsePasswd } from '../../../src/oci/passwd.js';
import { containerConfig, podConfig, sandboxFacts, security } from '../../unit/oci/kubelet-configs.js';
import { gatherHostFacts, RuncHarness } from './runc-harness.js';

const MiB = 1024 * 1024;
const BLOCK_CHMOD = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO' }] };
const BLOCK_HOSTNAME = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] };

const h = new RuncHarness();
let host: HostFacts;
let infraPid = 0;
const pod = podConfig({}, { seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } }, { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_unprivileged_port_start': '80' });
const privilegedPod = podConfig({}, { privileged: true });
const SANDBOX = `fune-sec-sb-${process.pid}`;
let seq = 0;

function mask(names: readonly string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPABILITY_NAMES.indexOf(n));
  return m.toString(16).padStart(16, '0');
}

async function runIn(
  script: string,
  sec: Partial<LinuxContainerSecurityContext> = {},
  res: Partial<LinuxContainerResources> = {},
  over: { privileged?: boolean; hostOver?: Partial<HostFacts> } = {},
): Promise<{ code: number; out: string }> {
  const rootfs = h.rootfs();
  const config: ContainerConfig = containerConfig({ command: ['/bin/sh', '-c', script], mounts: [], envs: [] }, {}, res);
  config.linux!.security_context = security({ ...sec });
  const id = `fune-sec-c${++seq}-${process.pid}`;
  const spec = buildContainerSpec({
    id,
    config,
    image: { env: [] },
    passwd: parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'),
    group: parseGroup('root:x:0:\napp:x:1000:\nwheel:x:10:app\n'),
    sandbox: sandboxFacts(over.privileged ? privilegedPod : pod, {
      id: SANDBOX,
      infraPid,
      netnsPath: undefined,
      resolvPath: undefined,
      hostsPath: undefined,
      hostnamePath: undefined,
      shmPath: undefined,
    }),
    host: { ...host, ...over.hostOver },
    rootfs,
    seccompDefault: false,
    cgroupsPath: `${h.cgroupParent}/${id}`,
  });
  const r = await h.runContainer(id, spec);
  return { code: r.code, out: r.stdout + r.stderr };
}

beforeAll(async () => {
  const profiles = join(h.dir, 'profiles');
  writeFileSync(`${profiles}-block-chmod.json`, JSON.stringify(BLOCK_CHMOD));
  host = gatherHostFacts({
    [`${profiles}-block-chmod.json`]: JSON.stringify(BLOCK_CHMOD),
    [`${profiles}-block-hostname.json`]: JSON.stringify(BLOCK_HOSTNAME),
  });
  const rootfs = h.rootfs();
  const spec = buildSandboxSpec({
    id: SANDBOX,
    config: pod,
    host,
    rootfs,
    args: ['/catatonit', '-P'],
    infraBinary: '/usr/bin/catatonit',
    cgroupsPath: `${h.cgroupParent}/${SANDBOX}`,
    seccompDefault: false,
  });
  infraPid = await h.startSandbox(SANDBOX, spec);
});

afterAll(async () => {
  await h.cleanup();
});

const profilePath = (name: string): string => join(h.dir, `profiles-${name}.json`);

describe('specs from src/oci on the real runc', () => {
  it('swap: unset = memory limit, -1 = unlimited, larger = the sum, in memory.memsw.limit_in_bytes', async () => {
    if (!host.swapAccounting || host.cgroupMode !== 'v1') return;
    const read = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes';
    const unset = await runIn(read, {}, { memory_limit_in_bytes: String(64 * MiB) });
    expect(unset.out.trim().split('\n')).toEqual([String(64 * MiB), String(64 * MiB)]);
    const larger = await runIn(read, {}, { memory_limit_in_bytes: String(64 * MiB), memory_swap_limit_in_bytes: String(96 * MiB) });
    expect(larger.out.trim().split('\n')).toEqual([String(64 * MiB), String(96 * MiB)]);
    const unlimited = await runIn(read, {}, { memory_limit_in_bytes: String(64 * MiB), memory_swap_limit_in_bytes: '-1' });
    const [mem, memsw] = unlimited.out.trim().split('\n');
    expect(mem).toBe(String(64 * MiB));
    expect(BigInt(memsw!)).toBeGreaterThan(BigInt(1) << 60n);
  });

  it('RuntimeDefault: Seccomp mode 2, sethostname blocked without CAP_SYS_ADMIN and allowed with it', async () => {
    const without = await runIn('grep "^Seccomp:" /proc/self/status; hostname fune-a');
    expect(without.out).toMatch(/Seccomp:\s+2/);
    expect(without.code).not.toBe(0);
    expect(without.out).toMatch(/Operation not permitted/);
    const withAdmin = await runIn('hostname fune-b && hostname', { capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } });
    expect(withAdmin.code).toBe(0);
    expect(withAdmin.out).toContain('fune-b');
  });

  it('Localhost profiles are enforced; unconfined is mode 0; privileged ignores the profile', async () => {
    const chmod = await runIn('chmod 400 /tmp/file', { seccomp: null, seccomp_profile_path: `localhost/${profilePath('block-chmod')}` });
    expect(chmod.code).not.toBe(0);
    expect(chmod.out).toMatch(/Operation not permitted/);
    const admin = { capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } };
    const blocked = await runIn('hostname fune-c', { ...admin, seccomp: { profile_type: 'Localhost', localhost_ref: profilePath('block-hostname') } });
    expect(blocked.code).not.toBe(0);
    const unconfined = await runIn('grep "^Seccomp:" /proc/self/status', { seccomp: null, seccomp_profile_path: 'unconfined' });
    expect(unconfined.out).toMatch(/Seccomp:\s+0/);
    const privileged = await runIn('hostname fune-d && grep "^Seccomp:" /proc/self/status', { privileged: true, seccomp: { profile_type: 'Localhost', localhost_ref: profilePath('block-hostname') } }, {}, { privileged: true });
    expect(privileged.code).toBe(0);
    expect(privileged.out).toMatch(/Seccomp:\s+0/);
  });

  it('capabilities: the default set, add/drop, and fune\'s bounding set when privileged', async () => {
    const dflt = await runIn('grep -E "^Cap(Eff|Bnd):" /proc/self/status');
    expect(dflt.out).toContain(`CapEff:\t${mask(DEFAULT_CAPABILITIES)}`);
    expect(dflt.out).toContain(`CapBnd:\t${mask(DEFAULT_CAPABILITIES)}`);
    const changed = await runIn('grep "^CapEff:" /proc/self/status', { capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['ALL'], add_ambient_capabilities: [] } });
    expect(changed.out).toContain(`CapEff:\t${mask(['CAP_NET_ADMIN'])}`);
    const priv = await runIn('grep "^CapEff:" /proc/self/status', { privileged: true }, {}, { privileged: true });
    expect(priv.out).toContain(`CapEff:\t${mask(host.capabilities)}`);
  });

  it('read-only rootfs, masked and read-only /proc paths, no_new_privs', async () => {
    const r = await runIn(
      'touch /newfile 2>&1; echo keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list) acpi=$(ls /proc/acpi | wc -l); echo 1 > /proc/sys/kernel/shm_rmid_forced 2>&1; grep "^NoNewPrivs:" /proc/self/status',
      { readonly_rootfs: true, no_new_privs: true },
    );
    expect(r.out).toMatch(/touch: \/newfile: Read-only file system/);
    expect(r.out).toContain('keys=0 timer_list=0 acpi=0'); // /dev/null over files, an empty tmpfs over directories
    expect(r.out).toMatch(/shm_rmid_forced: Read-only file system/);
    expect(r.out).toMatch(/NoNewPrivs:\s+1/);
    const unmasked = await runIn('echo keys=$(wc -c < /proc/keys)', { privileged: true }, {}, { privileged: true });
    expect(unmasked.out).not.toContain('keys=0');
  });

  it('run_as_user, run_as_group and supplemental groups', async () => {
    const r = await runIn('id -u; id -g; id -G; echo $HOME', { run_as_user: { value: '1000' }, run_as_group: { value: '3000' }, supplemental_groups: ['4000'] });
    const [uid, gid, groups, home] = r.out.trim().split('\n');
    expect(uid).toBe('1000');
    expect(gid).toBe('3000');
    expect(groups!.split(' ').sort()).toEqual(['10', '3000', '4000']);
    expect(home).toBe('/home/app');
  });

  it('pod sysctls reach the containers that share the pod namespaces', async () => {
    const r = await runIn('cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start');
    expect(r.out.trim().split('\n')).toEqual(['1', '80']);
  });
});

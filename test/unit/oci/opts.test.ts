import { describe, expect, it } from 'vitest';
import { capabilitiesFromMask, resolveCapabilities } from '../../../src/oci/capabilities.js';
import { parseGroup, parsePasswd } from '../../../src/oci/passwd.js';
import { containerArgs, mergeEnv } from '../../../src/oci/opts/process.js';
import { resolveSeccomp } from '../../../src/oci/opts/profiles.js';
import { normalizeSysctlName } from '../../../src/oci/opts/sysctls.js';
import { resolveIdentity } from '../../../src/oci/opts/user.js';
import { runtimeDefaultProfile } from '../../../src/oci/seccomp-default.js';
import { resourcesToOci } from '../../../src/oci/opts/resources.js';
import { criMounts } from '../../../src/oci/opts/mounts.js';
import { GROUP, host, kubeletMounts, PASSWD, resources } from './kubelet-configs.js';

const HOST_CAPS = capabilitiesFromMask('000001fffeffffff');

describe('capabilities', () => {
  it('reads the bounding mask of this host: all 41 but CAP_SYS_RESOURCE', () => {
    expect(HOST_CAPS).toHaveLength(40);
    expect(HOST_CAPS).not.toContain('CAP_SYS_RESOURCE');
    expect(capabilitiesFromMask('0')).toEqual([]);
  });
  const caps = (add: string[], drop: string[]): string[] => resolveCapabilities({ add_capabilities: add, drop_capabilities: drop, add_ambient_capabilities: [] }, HOST_CAPS);
  it('adds and drops with or without CAP_, any case', () => {
    const set = caps(['sys_admin', 'CAP_NET_ADMIN'], ['NET_RAW', 'cap_chown']);
    expect(set).toContain('CAP_SYS_ADMIN');
    expect(set).toContain('CAP_NET_ADMIN');
    expect(set).not.toContain('CAP_NET_RAW');
    expect(set).not.toContain('CAP_CHOWN');
    expect(set).toHaveLength(14);
  });
  it('ALL on either side', () => {
    expect(caps(['ALL'], ['CHOWN'])).toEqual(HOST_CAPS.filter((c) => c !== 'CAP_CHOWN'));
    expect(caps(['NET_BIND_SERVICE'], ['ALL'])).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(caps([], ['all'])).toEqual([]);
  });
});

describe('identity', () => {
  const passwd = parsePasswd(`${PASSWD}# comment\nbroken:line\n+nis\n`);
  const group = parseGroup(GROUP);
  it('parses passwd and group, skipping junk', () => {
    expect(passwd.map((p) => p.name)).toEqual(['root', 'nginx', 'app']);
    expect(group.find((g) => g.name === 'www-data')?.members).toEqual(['nginx', 'app']);
  });
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [0] }, '/root'],
    ['101', { uid: 101, gid: 101, additionalGids: [101, 33] }, '/var/cache/nginx'],
    ['nginx', { uid: 101, gid: 101, additionalGids: [101, 33] }, '/var/cache/nginx'],
    ['1000:29', { uid: 1000, gid: 29, additionalGids: [29, 33] }, '/home/app'],
    ['app:www-data', { uid: 1000, gid: 33, additionalGids: [33, 29] }, '/home/app'],
    ['4242', { uid: 4242, gid: 0, additionalGids: [0] }, '/'],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [4343] }, '/'],
  ])('image User %j', (imageUser, user, home) => {
    expect(resolveIdentity({ imageUser }, passwd, group)).toEqual({ user, home });
  });
  it('run_as_user beats run_as_username beats the image; Strict skips /etc/group', () => {
    expect(resolveIdentity({ runAsUser: { value: '101' }, runAsUsername: 'app', imageUser: 'root' }, passwd, group).user.uid).toBe(101);
    expect(resolveIdentity({ runAsUsername: 'app', imageUser: 'root' }, passwd, group).user.uid).toBe(1000);
    expect(resolveIdentity({ runAsUser: { value: '1000' }, supplementalGroupsPolicy: 'Strict', supplementalGroups: ['5'] }, passwd, group).user.additionalGids).toEqual([1000, 5]);
  });
  it('an unknown image user or group is InvalidArgument', () => {
    expect(() => resolveIdentity({ imageUser: 'ghost' }, passwd, group)).toThrow(/no user "ghost"/);
    expect(() => resolveIdentity({ imageUser: 'app:ghosts' }, passwd, group)).toThrow(/no group "ghosts"/);
  });
});

describe('process', () => {
  const image = { entrypoint: ['/ep'], cmd: ['c1', 'c2'] };
  it.each([
    [[], [], ['/ep', 'c1', 'c2']],
    [[], ['a'], ['/ep', 'a']],
    [['/cmd'], [], ['/cmd']],
    [['/cmd'], ['a', 'b'], ['/cmd', 'a', 'b']],
  ])('command %j args %j', (command, args, argv) => {
    expect(containerArgs({ command, args }, image)).toEqual(argv);
  });
  it('merges env in place, defaults PATH and HOME', () => {
    expect(mergeEnv([['HOSTNAME=h'], ['A=1', 'B=2'], ['A=3', 'C=4']], '/root')).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'A=3', 'B=2', 'C=4', 'HOME=/root']);
    expect(mergeEnv([['PATH=/x', 'HOME=/h']], '/root')).toEqual(['PATH=/x', 'HOME=/h']);
  });
});

describe('seccomp resolution', () => {
  it.each([
    [null, '', false, 'Unconfined'],
    [null, '', true, 'RuntimeDefault'],
    [null, 'runtime/default', false, 'RuntimeDefault'],
    [null, 'docker/default', false, 'RuntimeDefault'],
    [null, 'unconfined', true, 'Unconfined'],
    [{ profile_type: 'RuntimeDefault' as const, localhost_ref: '' }, 'unconfined', false, 'RuntimeDefault'],
    [{ profile_type: 'Unconfined' as const, localhost_ref: '' }, '', true, 'Unconfined'],
  ])('field %j string %j default %j → %s', (field, legacy, dflt, kind) => {
    expect(resolveSeccomp(field, legacy, dflt).kind).toBe(kind);
  });
  it('generates per-architecture profiles', () => {
    const arm = runtimeDefaultProfile([], 'aarch64');
    expect(arm.architectures).toEqual(['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64']);
    expect(arm.syscalls?.some((r) => r.names.includes('set_tls'))).toBe(true);
    const s390 = runtimeDefaultProfile([], 's390x');
    expect(s390.syscalls?.find((r) => r.names[0] === 'clone')?.args?.[0]?.index).toBe(1);
    const x86 = runtimeDefaultProfile(['CAP_SYS_TIME', 'CAP_SYSLOG'], 'x86_64');
    const all = x86.syscalls?.flatMap((r) => r.names) ?? [];
    expect(all).toContain('clock_settime');
    expect(all).toContain('syslog');
    expect(all).not.toContain('reboot');
  });
});

describe('resources', () => {
  it('leaves swap out without swap accounting, passes -1 through', () => {
    expect(resourcesToOci(resources({ memory_limit_in_bytes: '16777216' }), host({ swapAccounting: false })).memory).toEqual({ limit: 16777216 });
    expect(resourcesToOci(resources({ memory_swap_limit_in_bytes: '-1' }), host()).memory).toEqual({ swap: -1 });
  });
  it('drops hugepage limits when the host has no hugetlb controller', () => {
    expect(resourcesToOci(resources({ hugepage_limits: [{ page_size: '2MB', limit: '2097152' }] }), host({ hugepageSizes: [] })).hugepageLimits).toBeUndefined();
  });
  it('omits an empty unified map on v1', () => {
    expect(resourcesToOci(resources(), host()).unified).toBeUndefined();
  });
});

describe('sysctl names', () => {
  it('turns the slash form into the dotted form', () => {
    expect(normalizeSysctlName('net/ipv4/ip_forward')).toBe('net.ipv4.ip_forward');
    expect(normalizeSysctlName('net/ipv4/conf/eth0.100/forwarding')).toBe('net.ipv4.conf.eth0/100.forwarding');
    expect(normalizeSysctlName('kernel.shm_rmid_forced')).toBe('kernel.shm_rmid_forced');
  });
});

describe('execProcess', () => {
  it('keeps the container identity and security, replaces command and terminal', async () => {
    const { execProcess } = await import('../../../src/oci/exec.js');
    const { buildContainerSpec } = await import('../../../src/oci/build-container-spec.js');
    const { containerConfig, containerInput } = await import('./kubelet-configs.js');
    const spec = buildContainerSpec(containerInput(containerConfig({}, { run_as_user: { value: '1000' }, no_new_privs: true })));
    const p = execProcess(spec, ['sh', '-c', 'true'], true);
    expect(p.args).toEqual(['sh', '-c', 'true']);
    expect(p.terminal).toBe(true);
    expect(p.user.uid).toBe(1000);
    expect(p.noNewPrivileges).toBe(true);
    expect(p.capabilities).toEqual(spec.process?.capabilities);
    expect(p.oomScoreAdj).toBeUndefined();
    expect(() => execProcess(spec, [], false)).toThrow(/command is empty/);
  });
});

describe('SupplementalGroupsPolicy (critest v1.32: test-image-predefined-group, uid 1000 in group 50000)', () => {
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\n');
  const group = parseGroup('root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n');
  it.each([
    ['Merge', ['1234'], [1000, 50000, 1234]],
    ['Strict', ['1234'], [1000, 1234]],
    ['Merge', [], [1000, 50000]],
    ['Strict', [], [1000]],
    ['Merge', ['50000', '1000'], [1000, 50000]],
  ] as const)('%s with %j: groups %j', (policy, extra, groups) => {
    const user = resolveIdentity({ runAsUser: { value: '1000' }, supplementalGroups: [...extra], supplementalGroupsPolicy: policy, imageUser: '1000' }, passwd, group).user;
    expect(user).toEqual({ uid: 1000, gid: 1000, additionalGids: groups });
  });
});

describe('recursive read-only mounts', () => {
  const m = { ...kubeletMounts()[2]!, recursive_read_only: true, readonly: true };
  it('add rro to a private read-only bind where the node can do it, and nothing otherwise', () => {
    const [rro] = criMounts([m], {}, true).mounts;
    expect(rro!.options).toEqual(['rbind', 'rprivate', 'ro', 'rro']);
    const [plain] = criMounts([{ ...m, recursive_read_only: false }], {}, false).mounts;
    expect(plain!.options).toEqual(['rbind', 'rprivate', 'ro']);
  });
});

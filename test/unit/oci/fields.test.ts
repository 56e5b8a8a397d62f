// CRI fields cannot reach outside their place: the pure checks CreateContainer and RunPodSandbox run before any
// side effect. One table per class of field; each bad value is InvalidArgument naming the field, each good one
// passes (and a log path comes back cleaned).
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';
import { containerLogPath, podHostname, podSysctls, validateContainerFields, validatePodFields, validSysctlName } from '../../../src/oci/index.js';
import type { ContainerConfig, Mount, PodSandboxConfig, PortMapping } from '../../../src/domain/cri-types.js';
import { containerConfig, kubeletMounts, podConfig } from './kubelet-configs.js';

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    expect((e as RuntimeError).kind).toBe('InvalidArgument');
    return (e as RuntimeError).message;
  }
  throw new Error('expected InvalidArgument');
}

const LOGS = '/var/log/pods/ns_web_uid';

describe('log_path stays inside the pod log_directory', () => {
  it.each([
    ['../../../../../../etc/fune-test', /does not name a file inside the pod's log_directory .* \(it leads to "\/etc\/fune-test"\)/],
    ['../x.log', /does not name a file inside/],
    ['a/../../x.log', /does not name a file inside/],
    ['a/../../ns_web_uid2/x.log', /does not name a file inside/], // a sibling with the same prefix is outside too
    ['.', /does not name a file inside/],
    ['a/..', /does not name a file inside/],
    ['./', /does not name a file inside/],
    ['a:b.log', /may not contain control characters or ":"/],
    ['x\n.log', /may not contain control characters/],
    ['x\u0000.log', /may not contain control characters/],
    ['x\u007f.log', /may not contain control characters/],
  ])('%j is InvalidArgument', (logPath, message) => {
    expect(refused(() => containerLogPath(LOGS, logPath))).toMatch(message);
  });
  it.each([
    ['app/0.log', `${LOGS}/app/0.log`],
    ['app//0.log', `${LOGS}/app/0.log`],
    ['./app/0.log', `${LOGS}/app/0.log`],
    ['app/x/../0.log', `${LOGS}/app/0.log`],
    ['/app/0.log', `${LOGS}/app/0.log`], // absolute is joined under the directory, as containerd does
    ['..app.log', `${LOGS}/..app.log`],
  ])('%j is %j', (logPath, want) => {
    expect(containerLogPath(LOGS, logPath)).toBe(want);
    expect(containerLogPath(`${LOGS}/`, logPath)).toBe(want);
  });
  it('no log without a directory or a path', () => {
    expect(containerLogPath('', 'app/0.log')).toBe('');
    expect(containerLogPath(LOGS, '')).toBe('');
  });
  it.each(['var/log/pods/x', './logs', 'logs', '/var/log/pods/a:b', '/var/log/pods/a\nb'])('log_directory %j is InvalidArgument, at create and at RunPodSandbox', (dir) => {
    expect(refused(() => containerLogPath(dir, 'app/0.log'))).toMatch(/log_directory/);
    expect(refused(() => validatePodFields(podConfig({ log_directory: dir }), false))).toMatch(/log_directory/);
  });
});

const mount = (over: Partial<Mount>): Mount => ({ ...kubeletMounts()[0]!, ...over });
const withMounts = (mounts: Mount[]): ContainerConfig => containerConfig({ mounts });

describe('mount, device and profile paths of CreateContainer', () => {
  it.each<[string, ContainerConfig, RegExp]>([
    ['relative host_path', withMounts([mount({ host_path: 'rel-dir' })]), /mount host_path "rel-dir" is not an absolute path/],
    ['./ host_path', withMounts([mount({ host_path: './x' })]), /mount host_path "\.\/x" is not an absolute path/],
    ['../ host_path', withMounts([mount({ host_path: '../x' })]), /not an absolute path/],
    ['empty host_path', withMounts([mount({ host_path: '' })]), /has no host_path/],
    ['NUL in host_path', withMounts([mount({ host_path: '/tmp/a\u0000b' })]), /NUL/],
    ['relative container_path', withMounts([mount({ container_path: 'etc/x' })]), /mount container_path "etc\/x" is not an absolute path/],
    ['.. in container_path', withMounts([mount({ container_path: '/a/../../etc' })]), /may not contain "\.\."/],
    ['relative device host_path', containerConfig({ devices: [{ host_path: 'dev/fuse', container_path: '/dev/fuse', permissions: 'rwm' }] }), /device host_path "dev\/fuse" is not an absolute path/],
    ['empty device host_path', containerConfig({ devices: [{ host_path: '', container_path: '/dev/fuse', permissions: 'rwm' }] }), /device host_path "" is not an absolute path/],
    ['relative device container_path', containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: 'dev/fuse', permissions: 'rwm' }] }), /device container_path/],
    ['relative Localhost seccomp', containerConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: 'profiles/x.json' } }), /seccomp profile "profiles\/x.json" is not an absolute path/],
    ['relative legacy seccomp', containerConfig({}, { seccomp: null, seccomp_profile_path: 'localhost/x.json' }), /not an absolute path/],
    ['AppArmor name with a newline', containerConfig({}, { apparmor: { profile_type: 'Localhost', localhost_ref: 'a\nb' } }), /AppArmor profile .* control characters/],
  ])('%s is InvalidArgument', (_what, config, message) => {
    expect(refused(() => validateContainerFields(config, podConfig()))).toMatch(message);
  });
  it('a relative Localhost seccomp profile of the pod is refused at CreateContainer', () => {
    const pod = podConfig({}, { seccomp: { profile_type: 'Localhost', localhost_ref: 'x.json' } });
    expect(refused(() => validateContainerFields(containerConfig(), pod))).toMatch(/not an absolute path/);
  });
  it('the kubelet config passes and gives the cleaned log path; an image volume needs no host_path', () => {
    expect(validateContainerFields(containerConfig(), podConfig())).toBe('/var/log/pods/default_web-7d4b9c_4f1c2a9e-0000-4000-8000-000000000001/app/0.log');
    const image = mount({ host_path: '', container_path: '/data', image: { image: 'busybox', annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: '' } });
    expect(() => validateContainerFields(withMounts([image]), podConfig())).not.toThrow();
  });
});

const pod = (over: Partial<PodSandboxConfig>): PodSandboxConfig => podConfig(over);
const dns = (over: Partial<NonNullable<PodSandboxConfig['dns_config']>>) => pod({ dns_config: { servers: ['10.96.0.10'], searches: ['svc.local'], options: ['ndots:5'], ...over } });

describe('values written into the pod files', () => {
  it.each<[string, PodSandboxConfig, RegExp]>([
    ['a newline in a DNS option adds no nameserver', dns({ options: ['ndots:5\nnameserver 6.6.6.6'] }), /dns_config option .* one word/],
    ['a DNS option with a space', dns({ options: ['ndots:5 rotate'] }), /dns_config option/],
    ['an empty DNS option', dns({ options: [''] }), /dns_config option/],
    ['a newline in a search', dns({ searches: ['a.local\nnameserver 6.6.6.6'] }), /dns_config search/],
    ['a search with a space', dns({ searches: ['a b'] }), /dns_config search/],
    ['a tab in a search', dns({ searches: ['a\tb'] }), /dns_config search/],
    ['a long search', dns({ searches: ['a'.repeat(254)] }), /longer than 253/],
    ['a server that is a name', dns({ servers: ['dns.google'] }), /dns_config server "dns.google" is not an IP address/],
    ['a server with a newline', dns({ servers: ['8.8.8.8\nnameserver 6.6.6.6'] }), /is not an IP address/],
    ['a server with a port', dns({ servers: ['8.8.8.8:53'] }), /is not an IP address/],
    ['a server with two addresses', dns({ servers: ['8.8.8.8 1.1.1.1'] }), /is not an IP address/],
    ['a server out of range', dns({ servers: ['256.1.1.1'] }), /is not an IP address/],
    ['an empty server', dns({ servers: [''] }), /is not an IP address/],
    ['a newline in the hostname', pod({ hostname: 'web\n10.0.0.9 evil' }), /hostname .* whitespace, "\/" or control characters/],
    ['a control character in the hostname', pod({ hostname: 'web\u0001' }), /control characters/],
    ['a space in the hostname', pod({ hostname: 'we b' }), /whitespace/],
    ['a slash in the hostname', pod({ hostname: 'a/b' }), /"\/"/],
    ['a hostname over 64 bytes', pod({ hostname: 'h'.repeat(65) }), /1 to 64 bytes/],
    ['a pod name used as hostname with a newline', pod({ hostname: '', metadata: { name: 'p\nq', uid: 'u', namespace: 'n', attempt: 0 } }), /hostname "p\\nq"/],
  ])('%s is InvalidArgument', (_what, config, message) => {
    expect(refused(() => validatePodFields(config, false))).toMatch(message);
  });
  it('a pod without a hostname takes its name cut as a kubelet cuts it, so a long pod name is not refused (critest v1.32 names pods with 68 bytes)', () => {
    const named = (name: string) => pod({ hostname: '', metadata: { name, uid: 'u', namespace: 'n', attempt: 0 } });
    const critest = 'create-PodSandbox-for-container-a0c831f9-eeb3-4e62-b83e-c52c17cdbebd';
    expect(() => validatePodFields(named(critest), false)).not.toThrow();
    expect(podHostname(named(critest))).toBe(critest.slice(0, 63));
    expect(podHostname(named(`${'a'.repeat(62)}-bc`))).toBe('a'.repeat(62)); // no trailing "-" after the cut
    expect(podHostname(named('web'))).toBe('web');
    expect(podHostname(named(''))).toBe('localhost');
    expect(podHostname(pod({ hostname: 'given' }))).toBe('given');
  });
  it('a host-network pod keeps the host name, but a control character in its hostname field is still refused', () => {
    expect(() => validatePodFields(pod({ hostname: 'h'.repeat(100) }), true)).not.toThrow();
    expect(refused(() => validatePodFields(pod({ hostname: 'a\nb' }), true))).toMatch(/control characters/);
  });
  it.each([
    [{ servers: ['10.96.0.10', '2001:db8::53', 'fe80::1%eth0', '::ffff:10.0.0.1'], searches: ['default.svc.cluster.local', 'x_y.local'], options: ['ndots:5', 'edns0', 'timeout:2'] }],
    [{ servers: [], searches: [], options: [] }],
  ])('good DNS config %j passes', (d) => {
    expect(() => validatePodFields(pod({ dns_config: d }), false)).not.toThrow();
  });
  it('a 64-byte hostname passes', () => expect(() => validatePodFields(pod({ hostname: 'h'.repeat(64) }), false)).not.toThrow());
});

const port = (over: Partial<PortMapping>): PodSandboxConfig => pod({ port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '', ...over }] });

describe('port mappings', () => {
  it.each<[string, PodSandboxConfig, RegExp]>([
    ['container_port 0', port({ container_port: 0 }), /container_port must be 1 to 65535/],
    ['container_port 65536', port({ container_port: 65536 }), /container_port must be 1 to 65535/],
    ['container_port -1', port({ container_port: -1 }), /container_port/],
    ['host_port 65536', port({ host_port: 65536 }), /host_port must be 0 to 65535/],
    ['host_port -80', port({ host_port: -80 }), /host_port/],
    ['protocol 7 (not in the enum)', port({ protocol: 7 as unknown as PortMapping['protocol'] }), /protocol must be TCP, UDP or SCTP/],
    ['protocol ICMP', port({ protocol: 'ICMP' as PortMapping['protocol'] }), /protocol/],
    ['host_ip that is a name', port({ host_ip: 'localhost' }), /host_ip is not an IP address/],
    ['host_ip with a newline', port({ host_ip: '127.0.0.1\n' }), /host_ip/],
  ])('%s is InvalidArgument', (_what, config, message) => {
    expect(refused(() => validatePodFields(config, false))).toMatch(message);
  });
  it.each([
    [{ container_port: 1, host_port: 0 }],
    [{ container_port: 65535, host_port: 65535, protocol: 'UDP' as const }],
    [{ protocol: 'SCTP' as const, host_ip: '::1' }],
    [{ host_ip: '127.0.0.1' }],
  ])('%j passes', (over) => expect(() => validatePodFields(port(over), false)).not.toThrow());
});

describe('sysctl names', () => {
  const modes = { hostNetwork: false, hostIpc: false, hostPid: false };
  it.each([
    ['net/ipv4/ip_forward', 'net.ipv4.ip_forward'],
    ['net/ipv4/conf/eno2.100/rp_filter', 'net.ipv4.conf.eno2/100.rp_filter'],
    ['net.ipv4.conf.eno2/100.rp_filter', 'net.ipv4.conf.eno2/100.rp_filter'],
    ['kernel/shm_rmid_forced', 'kernel.shm_rmid_forced'],
    ['fs/mqueue/msg_max', 'fs.mqueue.msg_max'],
    [' net.core.somaxconn ', 'net.core.somaxconn'],
  ])('%j is set as %j', (raw, name) => {
    expect(Object.keys(podSysctls({ [raw]: '1' }, modes))).toEqual([name]);
  });
  it.each([
    'net..ipv4.ip_forward', 'net.ipv4.', '.net.ipv4', 'net', '', 'net.ipv4.conf..forwarding',
    'net/ipv4/../../kernel/core_pattern', 'net/ipv4/conf/../../../kernel/core_pattern', 'net/ipv4//ip_forward', 'net/ipv4/ip_forward/',
    'net.ipv4.conf.//.//.kernel.core_pattern', 'net.ipv4.conf./.x', 'net.ipv4.conf.a/.x', 'net.ipv4.conf./a.x', 'net.ipv4.a//b',
    'net.ipv4.ip forward', 'net.ipv4.ip\nforward', 'NET.ipv4.ip_forward',
  ])('%j is InvalidArgument', (raw) => {
    expect(refused(() => podSysctls({ [raw]: '1' }, modes))).toMatch(/invalid sysctl name/);
  });
  it('validSysctlName holds for the dotted form only', () => {
    expect(validSysctlName('net.ipv4.ip_forward')).toBe(true);
    expect(validSysctlName('net/ipv4/ip_forward')).toBe(false);
  });
});

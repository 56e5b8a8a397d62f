import { describe, expect, it } from 'vitest';
import { applyCdiEdits, buildCdiRegistry, requestedCdiDevices, resolveCdiDevices } from '../../../src/oci/cdi/apply.js';
import { parseCdiSpec, parseQualifiedName } from '../../../src/oci/cdi/parse.js';
import type { Spec } from '../../../src/oci/spec.js';

const gpu = (version = '0.6.0', extra = '') => `cdiVersion: "${version}"
kind: vendor.test/gpu
containerEdits:
  env: [VENDOR=test]
devices:
  - name: gpu0
    annotations: {a: b}
    containerEdits:
      deviceNodes:
        - path: /dev/gpu0
          hostPath: /dev/null
${extra}`;

describe('CDI qualified names', () => {
  it.each([
    ['vendor.com/class=name', { vendor: 'vendor.com', class: 'class', name: 'name' }],
    ['nvidia.com/gpu=0', { vendor: 'nvidia.com', class: 'gpu', name: '0' }],
    ['a/b=c:d.e_f-g', { vendor: 'a', class: 'b', name: 'c:d.e_f-g' }],
    ['example.com/class.sub=x', { vendor: 'example.com', class: 'class.sub', name: 'x' }],
  ])('parses %s', (n, want) => expect(parseQualifiedName(n)).toEqual(want));
  it.each([
    ['gpu0', 'missing vendor'],
    ['/dev/null', 'missing vendor'],
    ['vendor.com/class', 'missing device name'],
    ['vendor.com/=x', 'missing class'],
    ['vendor.com/class=', 'missing device name'],
    ['1vendor.com/class=x', 'should start with a letter'],
    ['vendor.com-/class=x', 'should end with a letter or digit'],
    ['vendor.com/cl@ss=x', 'invalid character'],
    ['vendor.com/class=-x', 'should start and end'],
    ['vendor.com/class=x/y', 'invalid character'],
  ])('refuses %s', (n, why) => expect(() => parseQualifiedName(n)).toThrow(why));
  it('takes CDI_devices, then cdi.k8s.io annotations, each once, and refuses bad names as INVALID_ARGUMENT', () => {
    expect(requestedCdiDevices([{ name: 'v.test/c=a' }], { 'cdi.k8s.io/p_1': 'v.test/c=b,v.test/c=a', other: 'x=y' })).toEqual(['v.test/c=a', 'v.test/c=b']);
    expect(() => requestedCdiDevices([], { 'cdi.k8s.io/p': 'nope' })).toThrow(expect.objectContaining({ kind: 'InvalidArgument' }));
  });
});

describe('CDI spec files', () => {
  it('reads YAML and JSON alike', () => {
    const y = parseCdiSpec(gpu(), '/etc/cdi/g.yaml', 0);
    const j = parseCdiSpec(JSON.stringify({ cdiVersion: '0.3.0', kind: 'v.test/c', devices: [{ name: 'x', containerEdits: { env: ['A=1'] } }] }), '/etc/cdi/j.json', 1);
    expect([y.vendor, y.class, [...y.devices.keys()]]).toEqual(['vendor.test', 'gpu', ['gpu0']]);
    expect(j.devices.get('x')).toEqual({ env: ['A=1'] });
  });
  it.each([
    ['unknown top-level field', gpu().replace('kind:', 'extra: 1\nkind:'), 'unknown field "extra"'],
    ['unknown device-node field', gpu().replace('hostPath:', 'bogus: 1\n          hostPath:'), 'unknown field "bogus"'],
    ['unknown version', gpu('9.9.9'), 'invalid version'],
    ['annotations need 0.6.0', gpu('0.5.0'), 'at least v0.6.0'],
    ['hostPath needs 0.5.0', gpu('0.4.0').replace('    annotations: {a: b}\n', ''), 'at least v0.5.0'],
    ['additionalGids need 0.7.0', gpu('0.6.0', '      additionalGids: [5]'), 'at least v0.7.0'],
    ['bad kind', gpu().replace('vendor.test/gpu', 'gpu'), 'invalid kind'],
    ['no devices', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: []', 'no devices'],
    ['empty device edits', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x}]', 'empty device edits'],
    ['two devices of one name', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {env: [A=1]}}, {name: x, containerEdits: {env: [A=1]}}]', 'multiple device'],
    ['bad env', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {env: [NOEQ]}}]', 'invalid environment variable'],
    ['bad hook name', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {hooks: [{hookName: later, path: /bin/true}]}}]', 'invalid hook name'],
    ['relative hook path', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {hooks: [{hookName: poststart, path: bin/true}]}}]', 'must be absolute'],
    ['bad permissions', 'cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {deviceNodes: [{path: /dev/x, permissions: rx}]}}]', 'invalid permissions'],
    ['not YAML', 'cdiVersion: [', 'not JSON or YAML'],
  ])('refuses %s', (_what, text, why) => expect(() => parseCdiSpec(text, '/etc/cdi/s.yaml', 0)).toThrow(why));
});

describe('CDI edits', () => {
  const base = (): Spec => ({
    ociVersion: '1.0.2', process: { user: { uid: 1000, gid: 1000 }, args: ['sh'], cwd: '/', env: ['PATH=/bin', 'VENDOR=old'] }, root: { path: '/r' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/a/b/c', type: 'bind', source: '/x' }], linux: { resources: { devices: [{ allow: false, access: 'rwm' }] } },
  });
  it('applies spec edits once, then each device, with host numbers filled in', () => {
    const a = parseCdiSpec(gpu('0.7.0', '      mounts: [{hostPath: /opt/drv, containerPath: /usr/drv, options: [ro, rbind]}]\n      hooks: [{hookName: createRuntime, path: /bin/hook, args: [hook, x]}]\n      additionalGids: [0, 44, 44]\n  - name: gpu1\n    containerEdits: {deviceNodes: [{path: /dev/gpu1, type: c, major: 195, minor: 1, permissions: rw}]}'), '/etc/cdi/a.yaml', 0);
    const reg = buildCdiRegistry([a]);
    const edits = resolveCdiDevices(reg, ['vendor.test/gpu=gpu0', 'vendor.test/gpu=gpu1']);
    expect(edits).toHaveLength(3);
    const s = applyCdiEdits(base(), edits, { '/dev/null': { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666 } });
    expect(s.process!.env).toEqual(['PATH=/bin', 'VENDOR=test']);
    expect(s.linux!.devices).toEqual([
      { type: 'c', path: '/dev/gpu0', major: 1, minor: 3, fileMode: 0o666, uid: 1000, gid: 1000 },
      { type: 'c', path: '/dev/gpu1', major: 195, minor: 1, uid: 1000, gid: 1000 },
    ]);
    expect(s.linux!.resources!.devices!.slice(1)).toEqual([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 195, minor: 1, access: 'rw' }]);
    expect(s.mounts!.map((m) => m.destination)).toEqual(['/proc', '/usr/drv', '/a/b/c']);
    expect(s.mounts![1]).toEqual({ destination: '/usr/drv', source: '/opt/drv', type: 'bind', options: ['ro', 'rbind'] });
    expect(s.hooks).toEqual({ createRuntime: [{ path: '/bin/hook', args: ['hook', 'x'] }] });
    expect(s.process!.user.additionalGids).toEqual([44]);
  });
  it('a later directory wins, the same directory twice is a conflict, an unknown device is INVALID_ARGUMENT', () => {
    const spec = (p: string, prio: number, v: string) => parseCdiSpec(`cdiVersion: 0.3.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {env: [V=${v}]}}]`, p, prio);
    expect(resolveCdiDevices(buildCdiRegistry([spec('/etc/cdi/1.yaml', 0, 'etc'), spec('/var/run/cdi/1.yaml', 1, 'run')]), ['v.test/c=x'])[1]).toEqual({ env: ['V=run'] });
    const conflict = buildCdiRegistry([spec('/etc/cdi/1.yaml', 0, 'a'), spec('/etc/cdi/2.yaml', 0, 'b')]);
    expect(() => resolveCdiDevices(conflict, ['v.test/c=x'])).toThrow('defined in both /etc/cdi/1.yaml and /etc/cdi/2.yaml');
    expect(() => resolveCdiDevices(conflict, ['v.test/c=y', 'w.test/c=x'])).toThrow(expect.objectContaining({ kind: 'InvalidArgument', message: expect.stringContaining('v.test/c=y, w.test/c=x') }));
  });
  it('a missing host node without type and major, and netDevices, are FAILED_PRECONDITION', () => {
    const s = parseCdiSpec('cdiVersion: 0.5.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {deviceNodes: [{path: /dev/nope}]}}]', '/etc/cdi/x.yaml', 0);
    expect(() => applyCdiEdits(base(), resolveCdiDevices(buildCdiRegistry([s]), ['v.test/c=x']), {})).toThrow(expect.objectContaining({ kind: 'FailedPrecondition' }));
    const n = parseCdiSpec('cdiVersion: 1.1.0\nkind: v.test/c\ndevices: [{name: x, containerEdits: {netDevices: [{hostInterfaceName: eth9, name: net0}]}}]', '/etc/cdi/n.yaml', 0);
    expect(() => applyCdiEdits(base(), resolveCdiDevices(buildCdiRegistry([n]), ['v.test/c=x']), {})).toThrow(expect.objectContaining({ kind: 'FailedPrecondition' }));
  });
});

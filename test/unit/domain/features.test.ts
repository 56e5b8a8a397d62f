import { describe, expect, it } from 'vitest';
import { featuresOf } from '../../../src/domain/features.js';
import { parseKernelRelease, parseOciRuntime } from '../../../src/domain/node.js';

const node = (runcFeatures: object | '', release: string) => ({
  oci: parseOciRuntime('runc version 1.1.5+ds1', runcFeatures === '' ? '' : JSON.stringify(runcFeatures)),
  kernel: { release, version: parseKernelRelease(release) },
});

describe('features advertised from the node facts', () => {
  it.each([
    ['runc 1.1.5 (rro) on 6.18', { mountOptions: ['ro', 'rro'] }, '6.18.44', true],
    ['runc with rro on 5.12', { mountOptions: ['rro'] }, '5.12.0', true],
    ['runc with rro on 5.11 (no mount_setattr)', { mountOptions: ['rro'] }, '5.11.22', false],
    ['runc without rro', { mountOptions: ['ro', 'bind'] }, '6.18.44', false],
    ['a runtime without `features`', '', '6.18.44', false],
  ] as const)('%s: recursive read-only %s', (_name, f, rel, rro) => {
    const got = featuresOf(node(f, rel));
    expect(got.recursiveReadOnlyMounts).toBe(rro);
    expect(got.supplementalGroupsPolicy).toBe(true);
  });
});

describe('user namespaces (mode POD)', () => {
  it.each([
    ['not probed', undefined, false],
    ['the probe failed', { ok: false, reason: 'tmpfs cannot be idmapped' }, false],
    ['the probe found idmapped mounts working', { ok: true, reason: '' }, true],
  ] as const)('%s: %s', (_name, probe, want) => {
    const n = { ...node({ mountOptions: ['rro'] }, '6.18.44'), ...(probe ? { podUserNamespaces: probe } : {}) };
    expect(featuresOf(n).userNamespaces).toBe(want);
  });
});

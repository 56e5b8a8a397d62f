// CRI UserNamespace options are checked before anything is made: one table of bad options per class, each with
// the error kind (gRPC code) it must give, and the good ones passing.
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';
import { buildContainerSpec, buildSandboxSpec, podIdMappings, rootOnHost, validateUserNamespace } from '../../../src/oci/index.js';
import { containerConfig, containerInput, podConfig, sandboxFacts, sandboxInput } from './kubelet-configs.js';
import type { IDMapping, NamespaceMode, NamespaceOption } from '../../../src/domain/cri-types.js';

const m = (container_id: number, host_id: number, length: number): IDMapping => ({ container_id, host_id, length });
const opts = (mode: NamespaceMode, uids: IDMapping[] = [], gids: IDMapping[] = uids): NamespaceOption => ({
  network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: { mode, uids, gids },
});
const good = [m(0, 1000, 100000)];

function kindOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeError);
    return (e as RuntimeError).kind;
  }
  return 'ok';
}

describe('validateUserNamespace', () => {
  it.each([
    ['two uid mappings (critest)', opts('POD', [m(0, 1000, 100000), m(0, 2000, 100000)]), /exactly one uid mapping, got 2/],
    ['no mappings', opts('POD', []), /exactly one uid mapping, got 0/],
    ['gid mappings missing', opts('POD', good, []), /exactly one gid mapping, got 0/],
    ['container id 0 not mapped (critest)', opts('POD', [m(1, 1000, 100000)]), /must map container id 0/],
    ['gid container id 0 not mapped', opts('POD', good, [m(5, 1000, 10)]), /gid mapping must map container id 0/],
    ['length 0', opts('POD', [m(0, 1000, 0)]), /length 0/],
    ['past the id space', opts('POD', [m(0, 4294967000, 1000)]), /runs past the largest id/],
    ['mode CONTAINER (critest)', opts('CONTAINER'), /mode CONTAINER is not supported/],
    ['mode TARGET (critest)', opts('TARGET'), /mode TARGET is not supported/],
    ['NODE with mappings', opts('NODE', good), /NODE takes no uid or gid mappings/],
  ])('%s is InvalidArgument, supported or not', (_n, o, re) => {
    for (const supported of [true, false]) {
      expect(kindOf(() => validateUserNamespace(o, supported))).toBe('InvalidArgument');
      expect(() => validateUserNamespace(o, supported)).toThrow(re);
    }
  });

  it('a good POD mapping is FailedPrecondition where user namespaces are not delivered, and passes where they are', () => {
    expect(kindOf(() => validateUserNamespace(opts('POD', good), false))).toBe('FailedPrecondition');
    expect(kindOf(() => validateUserNamespace(opts('POD', good), true))).toBe('ok');
    expect(kindOf(() => validateUserNamespace(opts('POD', [m(0, 0, 4294967295)]), true))).toBe('ok');
  });

  it('absent options and NODE mean the host user namespace', () => {
    for (const supported of [true, false]) {
      expect(kindOf(() => validateUserNamespace(null, supported))).toBe('ok');
      expect(kindOf(() => validateUserNamespace({ ...opts('NODE'), userns_options: null }, supported))).toBe('ok');
      expect(kindOf(() => validateUserNamespace(opts('NODE'), supported))).toBe('ok');
    }
  });
});

describe('POD mode with host namespaces', () => {
  it.each([
    ['the host network', { network: 'NODE' as const }, /host's network namespace is not supported/],
    ['the host PID namespace', { pid: 'NODE' as const }, /host's pid namespace is not supported/],
    ['the host IPC namespace', { ipc: 'NODE' as const }, /host's ipc namespace is not supported/],
  ])('%s is FailedPrecondition where POD mode is delivered', (_n, over, re) => {
    const o = { ...opts('POD', good), ...over };
    expect(kindOf(() => validateUserNamespace(o, true))).toBe('FailedPrecondition');
    expect(() => validateUserNamespace(o, true)).toThrow(re);
  });
});

describe('specs of a POD-mode pod', () => {
  const ns = opts('POD', [m(0, 300000, 65536)], [m(0, 400000, 65536)]);
  const mappings = podIdMappings(ns)!;
  const userns = { path: '/run/fune/userns/ns/p1', mappings };

  it('podIdMappings gives the OCI form, and the host ids of container id 0', () => {
    expect(mappings).toEqual({ uidMappings: [{ containerID: 0, hostID: 300000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 400000, size: 65536 }] });
    expect(rootOnHost(mappings)).toEqual({ uid: 300000, gid: 400000 });
    expect(podIdMappings(opts('NODE'))).toBeUndefined();
    expect(podIdMappings(null)).toBeUndefined();
  });

  it('the infra spec joins the pinned user namespace and carries the mappings (runc 1.1.5 wants both)', () => {
    const spec = buildSandboxSpec(sandboxInput(podConfig({}, { namespace_options: ns }), { userns, netnsPath: '/run/fune/netns/p1' }));
    expect(spec.linux!.namespaces).toContainEqual({ type: 'user', path: userns.path });
    expect(spec.linux!.namespaces).toContainEqual({ type: 'network', path: '/run/fune/netns/p1' });
    expect(spec.linux!.uidMappings).toEqual(mappings.uidMappings);
    expect(spec.linux!.gidMappings).toEqual(mappings.gidMappings);
  });

  it('a container spec joins it too; without a pod user namespace there is no user namespace and no mapping', () => {
    const pod = podConfig({}, { namespace_options: ns });
    const spec = buildContainerSpec(containerInput(containerConfig(), { sandbox: sandboxFacts(pod, { userns }) }));
    expect(spec.linux!.namespaces!.filter((n) => n.type === 'user')).toEqual([{ type: 'user', path: userns.path }]);
    expect(spec.linux!.uidMappings).toEqual(mappings.uidMappings);
    const plain = buildContainerSpec(containerInput());
    expect(plain.linux!.namespaces!.some((n) => n.type === 'user')).toBe(false);
    expect(plain.linux!.uidMappings).toBeUndefined();
    const plainPod = buildSandboxSpec(sandboxInput());
    expect(plainPod.linux!.namespaces!.some((n) => n.type === 'user')).toBe(false);
    expect(plainPod.linux!.gidMappings).toBeUndefined();
  });
});

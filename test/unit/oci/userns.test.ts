// CRI UserNamespace options are checked before anything is made: one table of bad options per class, each with
// the error kind (gRPC code) it must give, and the good ones passing.
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/errors/index.js';
import { validateUserNamespace } from '../../../src/oci/index.js';
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

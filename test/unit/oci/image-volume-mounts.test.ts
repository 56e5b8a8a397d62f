import { describe, expect, it } from 'vitest';
import { criMounts } from '../../../src/oci/opts/mounts.js';
import type { Mount } from '../../../src/domain/cri-types.js';

const mount = (m: Partial<Mount>): Mount => ({ container_path: '', host_path: '', readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE', uidMappings: [], gidMappings: [], recursive_read_only: false, image: null, image_sub_path: '', ...m });
const image = { image: 'sha256:abc', annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: '' };

describe('image volume mounts (CRI Mount.image)', () => {
  it('binds the source services/ mounted, read-only, nosuid, nodev, private, and noexec as configured', () => {
    const m = [mount({ container_path: '/data//x/', readonly: true, image }), mount({ container_path: '/h', host_path: '/srv', readonly: false })];
    for (const noexec of [true, false]) {
      // (parents before children: /h comes first)
      const out = criMounts(m, {}, false, { sources: { '/data/x': '/run/b/volumes/0/sub' }, noexec }).mounts;
      expect(out[1]).toEqual({ destination: '/data/x', type: 'bind', source: '/run/b/volumes/0/sub', options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', ...(noexec ? ['noexec'] : [])] });
      expect(out[0]).toMatchObject({ destination: '/h', source: '/srv', options: ['rbind', 'rprivate', 'rw'] });
    }
  });
  it('refuses an image mount nothing was mounted for (an internal error, not a silent empty bind)', () => {
    expect(() => criMounts([mount({ container_path: '/v', readonly: true, image })], {})).toThrow(/was not mounted/);
  });
});

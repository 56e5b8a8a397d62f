import { describe, expect, it } from 'vitest';
import { resourcesInForce, sharesToWeight, weightToShares } from '../../../src/domain/resources-in-force.js';
import { podLimits } from '../../../src/services/pod-resources.js';
import type { LinuxContainerResources } from '../../../src/domain/cri-types.js';

const res = (r: Partial<LinuxContainerResources>): LinuxContainerResources => ({ cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0', ...r });

describe('resourcesInForce', () => {
  const applied = res({ cpu_shares: '1', cpu_quota: '50000', cpu_period: '100000', memory_limit_in_bytes: '100000000', memory_swap_limit_in_bytes: '100000000', cpuset_cpus: '0,1', cpuset_mems: '0' });
  it.each([
    ['the kernel forms of the applied values are the applied values', { shares: 2n, quota: 50000n, period: 100000n, memory: 99999744n, memorySwap: 99999744n, cpus: '0-1', mems: '0' }, {}],
    ['a changed limit is reported as read', { shares: 300n, quota: -1n, period: 100000n, memory: 157286400n, memorySwap: 0n, cpus: '1', mems: '0' }, { cpu_shares: '300', cpu_quota: '-1', memory_limit_in_bytes: '157286400', memory_swap_limit_in_bytes: '0', cpuset_cpus: '1' }],
    ['files that cannot be read leave the applied values', {}, {}],
  ])('%s', (_w, readings, changed) => expect(resourcesInForce(applied, readings, 'v1')).toEqual({ ...applied, ...changed }));
  it('unset fields stay unset whatever the cgroup says', () => {
    expect(resourcesInForce(res({}), { shares: 1024n, quota: -1n, period: 100000n, memory: 0n, cpus: '0-3' }, 'v1')).toEqual(res({}));
  });
  it('v2 weights round-trip through shares as runc converts them', () => {
    for (const s of [2n, 256n, 1024n, 262144n]) expect(resourcesInForce(res({ cpu_shares: String(s) }), { shares: weightToShares(sharesToWeight(s)) }, 'v2').cpu_shares).toBe(String(s));
    expect(sharesToWeight(1024n)).toBe(39n);
  });
});

describe('podLimits', () => {
  it('adds resources and overhead over one period; no limit in the resources is none for the pod', () => {
    expect(podLimits(res({ cpu_shares: '512', cpu_period: '100000', cpu_quota: '100000', memory_limit_in_bytes: '1000' }), res({ cpu_shares: '10', cpu_period: '50000', cpu_quota: '5000', memory_limit_in_bytes: '24' }))).toEqual({ shares: 522n, quota: 110000n, period: 100000n, memory: 1024n });
    expect(podLimits(res({ cpu_shares: '2' }), res({ cpu_quota: '5000', cpu_period: '100000', memory_limit_in_bytes: '24' }))).toEqual({ shares: 2n, quota: 0n, period: 0n, memory: 0n });
    expect(podLimits(null, null)).toEqual({ shares: 0n, quota: 0n, period: 0n, memory: 0n });
  });
});

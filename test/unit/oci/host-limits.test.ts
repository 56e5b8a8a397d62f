// Resources that StartContainer would fail on are refused by the pure check CreateContainer and
// UpdateContainerResources run first: cpusets naming CPUs or memory nodes the host does not have, and memory
// limits below what runc needs to start a container. The message names the field and the host's range.
import { describe, expect, it } from 'vitest';
import { MIN_MEMORY_LIMIT, resourcesToOci, validateContainerResources } from '../../../src/oci/index.js';
import { host, resources, refusal } from './kubelet-configs.js';

/** A 2-CPU host with one memory node, like the development machine. */
const twoCpus = host({ onlineCpus: '0-1', onlineMems: '0' });

describe('cpusets must name CPUs and memory nodes the host has', () => {
  it.each([
    ['cpuset_cpus', '0-1,99', /cpuset_cpus: CPUs 99 of "0-1,99" are not online on this host \(online: 0-1\)/],
    ['cpuset_cpus', '2', /cpuset_cpus: CPUs 2 of "2" are not online .*online: 0-1/],
    ['cpuset_cpus', '0-3', /cpuset_cpus: CPUs 2-3 of "0-3"/],
    ['cpuset_cpus', '1,5,7-8', /CPUs 5,7-8 of "1,5,7-8"/],
    ['cpuset_cpus', '65535', /CPUs 65535/],
    ['cpuset_mems', '1', /cpuset_mems: memory nodes 1 of "1" are not online on this host \(online: 0\)/],
    ['cpuset_mems', '0-2', /cpuset_mems: memory nodes 1-2 of "0-2"/],
  ])('%s %j is InvalidArgument at create and at update', (field, list, message) => {
    for (const check of [() => validateContainerResources(resources({ [field]: list }), twoCpus), () => resourcesToOci(resources({ [field]: list }), twoCpus)]) {
      const e = refusal(check);
      expect(e.kind).toBe('InvalidArgument');
      expect(e.message).toMatch(message);
    }
  });

  it.each([['0'], ['1'], ['0-1'], ['1,0'], ['0,0-1']])('cpuset_cpus %j on a 0-1 host is kept', (list) => {
    expect(resourcesToOci(resources({ cpuset_cpus: list, cpuset_mems: '0' }), twoCpus).cpu).toMatchObject({ cpus: list === '0' ? '0' : list === '1' ? '1' : '0-1', mems: '0' });
  });

  it('a host whose online lists are unknown checks only the syntax', () => {
    expect(resourcesToOci(resources({ cpuset_cpus: '0-99' }), host({ onlineCpus: '', onlineMems: undefined })).cpu).toMatchObject({ cpus: '0-99' });
    expect(refusal(() => resourcesToOci(resources({ cpuset_cpus: '1--3' }), host({ onlineCpus: '' }))).message).toMatch(/invalid cpuset/);
  });

  it('a sparse host list (CPUs 0,2-3 online) refuses the offline CPU 1', () => {
    expect(refusal(() => resourcesToOci(resources({ cpuset_cpus: '0-2' }), host({ onlineCpus: '0,2-3' }))).message).toMatch(/CPUs 1 of "0-2" .*online: 0,2-3/);
    expect(resourcesToOci(resources({ cpuset_cpus: '0,2' }), host({ onlineCpus: '0,2-3' })).cpu).toMatchObject({ cpus: '0,2' });
  });
});

describe('memory limits below what runc needs are refused', () => {
  it('the floor is 6 MiB', () => expect(MIN_MEMORY_LIMIT).toBe(6 * 1024 * 1024));

  it.each([1, 4096, 1024 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024, MIN_MEMORY_LIMIT - 1])('memory_limit_in_bytes %i is InvalidArgument at create and at update', (limit) => {
    for (const check of [() => validateContainerResources(resources({ memory_limit_in_bytes: String(limit) }), twoCpus), () => resourcesToOci(resources({ memory_limit_in_bytes: String(limit) }), twoCpus)]) {
      const e = refusal(check);
      expect(e.kind).toBe('InvalidArgument');
      expect(e.message).toMatch(new RegExp(`memory_limit_in_bytes: ${limit} is below the minimum of ${MIN_MEMORY_LIMIT} bytes`));
    }
  });

  it.each([0, MIN_MEMORY_LIMIT, 15 * 1024 * 1024, 2 ** 40])('memory_limit_in_bytes %i is accepted (0 = no limit)', (limit) => {
    const m = resourcesToOci(resources({ memory_limit_in_bytes: String(limit) }), twoCpus).memory;
    expect(m?.limit).toBe(limit === 0 ? undefined : limit);
  });
});

// The cgroup readers behind ListPodSandboxMetrics, on fixture trees: v1 files captured from a busybox container on
// this (v1) host, with the cpu, OOM and block-device numbers edited to exercise whole seconds and device lines;
// v2 files written in the kernel's format (6.x). Each reader's numbers must agree with the cgroup tree's stats, which
// ContainerStats uses, on the same tree.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cgroupSampler, parseBlkio, parseCpuMax, parseIoStat, parsePsi, weightToShares } from '../../../src/runtime/cgroup-sample.js';
import { cgroupTree } from '../../../src/runtime/cgroups.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'cgroup');
const PATH = '/kubepods/burstable/pod1/ctr1';

describe('cgroup samples', () => {
  it('v1: reads every controller of the container', () => {
    const s = cgroupSampler('v1', join(FIXTURES, 'v1')).sample(PATH);
    expect(s.cpu).toEqual({ usageNs: 2740561234n, userNs: 1800000000n, systemNs: 940000000n, periods: 120n, throttledPeriods: 7n, throttledNs: 350120000n });
    expect(s.memory).toEqual({
      usage: 3604480n, workingSet: 3604480n - 3145728n, rss: 102400n, cache: 3145728n, mappedFile: 0n, kernel: 339968n, swap: 0n, maxUsage: 5046272n,
      failcnt: 2n, pageFaults: 1213n, majorPageFaults: 0n, oomKills: 1n,
    });
    expect({ pids: s.pids, processes: s.processes, threads: s.threads, threadsMax: s.threadsMax }).toEqual({ pids: [1201, 1207], processes: 2n, threads: 3n, threadsMax: undefined });
    expect(s.io).toEqual([
      { device: '8:0', readBytes: 1052672n, writeBytes: 3145728n, reads: 21n, writes: 48n },
      { device: '254:16', readBytes: 4096n, writeBytes: 0n, reads: 1n, writes: 0n },
    ]);
    // The soft limit reads 2^63 rounded down to a page: none.
    expect(s.spec).toEqual({ cpuShares: 256n, cpuPeriod: 100000n, cpuQuota: 50000n, memoryLimit: 67108864n, memoryReservation: undefined, swapLimit: 67108864n });
    expect(s.psi).toBeUndefined();
  });

  it('v2: reads the unified files, pressure included', () => {
    const s = cgroupSampler('v2', join(FIXTURES, 'v2')).sample(PATH);
    expect(s.cpu).toEqual({ usageNs: 2740561000n, userNs: 1800321000n, systemNs: 940240000n, periods: 120n, throttledPeriods: 7n, throttledNs: 350120000n });
    expect(s.memory).toEqual({
      usage: 8523776n, workingSet: 8523776n - 2105344n, rss: 5177344n, cache: 2977792n, mappedFile: 1216512n, kernel: 368640n, swap: 4096n, maxUsage: 9895936n,
      failcnt: 3n, pageFaults: 4521n, majorPageFaults: 12n, oomKills: 1n,
    });
    expect({ pids: s.pids, processes: s.processes, threads: s.threads, threadsMax: s.threadsMax }).toEqual({ pids: [4242, 4250], processes: 2n, threads: 3n, threadsMax: 1024n });
    expect(s.io).toEqual([
      { device: '8:0', readBytes: 1048576n, writeBytes: 4194304n, reads: 32n, writes: 96n },
      { device: '259:0', readBytes: 4096n, writeBytes: 0n, reads: 1n, writes: 0n },
    ]);
    expect(s.spec).toEqual({ cpuShares: 237n, cpuPeriod: 100000n, cpuQuota: 50000n, memoryLimit: 67108864n, memoryReservation: 0n, swapLimit: undefined });
    expect(s.psi).toEqual({ cpu: { someUs: 2501234n, fullUs: 1200345n }, memory: { someUs: 7300001n, fullUs: 6100000n }, io: { someUs: 999999n, fullUs: 1000000n } });
  });

  for (const mode of ['v1', 'v2'] as const) {
    it(`${mode}: agrees with what ContainerStats reads from the same files`, async () => {
      const root = join(FIXTURES, mode);
      const s = cgroupSampler(mode, root).sample(PATH);
      const st = await cgroupTree(mode, root).stats(PATH);
      expect({ cpu: s.cpu.usageNs, usage: s.memory.usage, ws: s.memory.workingSet, rss: s.memory.rss, pf: s.memory.pageFaults, maj: s.memory.majorPageFaults, limit: s.spec.memoryLimit }).toEqual({
        cpu: st.cpuUsageNs, usage: st.memoryUsage, ws: st.workingSet, rss: st.rss, pf: st.pageFaults, maj: st.majorPageFaults, limit: st.memoryLimit,
      });
      expect(st.cpuUsageNs).toBeGreaterThan(0n);
    });

    it(`${mode}: a cgroup that is gone reads as nothing, without throwing`, () => {
      const s = cgroupSampler(mode, join(FIXTURES, mode)).sample('/kubepods/gone');
      expect(s.cpu).toEqual({ usageNs: undefined, userNs: undefined, systemNs: undefined, periods: undefined, throttledPeriods: undefined, throttledNs: undefined });
      expect(s.memory.usage).toBeUndefined();
      expect(s.processes).toBeUndefined();
      expect(s.io).toEqual([]);
    });
  }

  it('parses PSI, io.stat, blkio, cpu.max and cpu.weight, skipping what is not theirs', () => {
    expect(parsePsi('some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n')).toEqual({ someUs: 5n });
    expect(parsePsi('full avg10=0.00 total=x\nbogus total=3\n')).toEqual({});
    expect(parsePsi(undefined)).toEqual({});
    expect(parseIoStat('8:0 rbytes=1 wbytes=2 rios=3 wios=4\nnot a line\n8:16 rbytes=x\n')).toEqual([
      { device: '8:0', readBytes: 1n, writeBytes: 2n, reads: 3n, writes: 4n },
      { device: '8:16', readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n },
    ]);
    expect(parseBlkio('Total 0\n', 'Total 0\n')).toEqual([]);
    expect(parseBlkio('8:0 Read 7\n8:0 Write x\n', undefined)).toEqual([{ device: '8:0', readBytes: 7n, writeBytes: 0n, reads: 0n, writes: 0n }]);
    const table: [string | undefined, { quota?: bigint; period?: bigint }][] = [
      ['max 100000\n', { quota: undefined, period: 100000n }],
      ['50000 100000', { quota: 50000n, period: 100000n }],
      ['', { quota: undefined, period: undefined }],
      [undefined, { quota: undefined, period: undefined }],
    ];
    for (const [t, want] of table) expect(parseCpuMax(t), String(t)).toEqual(want);
    // runc maps shares 2..262144 onto weight 1..10000; back again the ends meet and 1024 lands near (cAdvisor's).
    expect([1n, 10000n, 39n, 100n].map(weightToShares)).toEqual([2n, 262144n, 998n, 2597n]);
    expect(weightToShares(undefined)).toBeUndefined();
  });
});

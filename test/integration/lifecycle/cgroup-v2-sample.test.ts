// The cgroup v2 reader of ListPodSandboxMetrics on the kernel's own files: a cgroup made for the test in the host's
// cgroup2 mount (on this v1 host the hybrid /sys/fs/cgroup/unified, which has no controllers: cpu.stat's usage,
// cgroup.procs/threads and the PSI files are there; on a v2 host /sys/fs/cgroup with memory and the rest), one
// process moved into it that burns some CPU and then sleeps. Checked against the stats reader (ContainerStats') on the same cgroup.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cgroupSampler } from '../../../src/runtime/cgroup-sample.js';
import { cgroupTree } from '../../../src/runtime/cgroups.js';
import { containerMetrics, DESCRIPTORS } from '../../../src/domain/cadvisor-metrics.js';

const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
const name = `/fune-metrics-${randomBytes(4).toString('hex')}`;
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  if (mount) await rmdir(join(mount, name)).catch(() => undefined);
});

describe.skipIf(!mount)('the cgroup v2 reader on a real cgroup2 mount', () => {
  it('reads usage, processes, threads and pressure as the kernel writes them', async () => {
    const dir = join(mount!, name);
    await mkdir(dir);
    // Burn a little CPU once inside the cgroup (the child waits for its move), then sleep.
    child = spawn('/bin/sh', ['-c', 'read go; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exec sleep 60'], { stdio: ['pipe', 'ignore', 'ignore'] });
    await writeFile(join(dir, 'cgroup.procs'), String(child.pid));
    child.stdin!.end('go\n');
    const sampler = cgroupSampler('v2', mount);
    for (let i = 0; i < 200 && !readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep')).toBe(true);

    const s = sampler.sample(name);
    const st = await cgroupTree('v2', mount).stats(name);
    expect(s.pids).toEqual([child.pid]);
    expect(s.processes).toBe(1n);
    expect(s.threads).toBe(1n);
    expect(s.cpu.usageNs).toBeGreaterThan(0n);
    // Nothing runs any more: both readers see the same usage, and user + system make it up (microseconds).
    expect(s.cpu.usageNs).toBe(st.cpuUsageNs);
    const diff = s.cpu.usageNs! - s.cpu.userNs! - s.cpu.systemNs!;
    expect(diff < 0n ? -diff : diff).toBeLessThanOrEqual(2000n);
    if (existsSync(join(dir, 'cpu.pressure'))) {
      expect(typeof s.psi!.cpu.someUs).toBe('bigint');
      expect(typeof s.psi!.io.someUs).toBe('bigint');
    }
    if (existsSync(join(dir, 'memory.current'))) {
      expect(s.memory.usage).toBe(st.memoryUsage);
      expect(s.memory.workingSet).toBeLessThanOrEqual(s.memory.usage!);
    }
    const rows = containerMetrics(s, { lastSeenSeconds: 1n }, ['id', 'img', 'ns', 'pod', 'ctr'], '1');
    const keys = new Map(DESCRIPTORS.map((d) => [d.name, d.label_keys.length]));
    for (const r of rows) expect(r.label_values.length, r.name).toBe(keys.get(r.name));
    expect(rows.find((r) => r.name === 'container_processes')?.value.value).toBe('1');
    expect(rows.find((r) => r.name === 'container_cpu_usage_seconds_total')?.value.value).toBe(String(s.cpu.usageNs! / 1_000_000_000n));
  });
});

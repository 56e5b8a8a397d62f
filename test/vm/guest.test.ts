// The VM tier's smoke test: the guest is the node the tier promises (cgroup v2 only, systemd as PID 1, AppArmor on,
// swap, the tools later tiers need), and a fune daemon in it runs a pod whose container gets its memory limit in
// its cgroup v2 files, under each cgroup driver of DRIVERS; nothing is left in the cgroup tree after the pod goes.
// (The daemons themselves are test/vm/daemons.ts's, started once for the run.)
import { execFileSync } from 'node:child_process';
import { access, readFile, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmEnv, type VmEnv } from './env.js';
import { cgroupFiles, DRIVERS } from './guest.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const exists = (p: string) => access(p).then(() => true, () => false);

describe('the guest', () => {
  it('is a cgroup v2 node with systemd, AppArmor, swap and the tools the tiers use', async () => {
    expect((await statfs('/sys/fs/cgroup')).type).toBe(CGROUP2_SUPER_MAGIC);
    const controllers = (await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8')).trim().split(' ');
    expect(controllers).toEqual(expect.arrayContaining(['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids']));
    expect((await readFile('/proc/1/comm', 'utf8')).trim()).toBe('systemd');
    expect((await readFile('/sys/module/apparmor/parameters/enabled', 'utf8')).trim()).toBe('Y');
    expect((await readFile('/proc/swaps', 'utf8')).trim().split('\n').length).toBeGreaterThan(1);
    for (const tool of ['runc', 'conmon', 'catatonit', 'apparmor_parser', 'criu', 'iptables', 'containerd', 'docker-registry', 'newuidmap', 'rootlesskit', 'slirp4netns', 'fuse-overlayfs', 'sudo', 'jq', 'curl', 'strace']) {
      expect(execFileSync('sh', ['-c', `command -v ${tool}`]).toString().trim(), tool).not.toBe('');
    }
    expect(await exists('/usr/lib/cni/bridge')).toBe(true);
    // the test-image builder finds its .deb without a network
    expect(execFileSync('sh', ['-c', 'ls /var/tmp/fune-test-images/busybox-static_*.deb']).toString()).toContain('.deb');
  });
});

describe.each(DRIVERS)('a pod on cgroup v2 (%s driver)', (driver) => {
  let env: VmEnv;
  beforeAll(async () => {
    env = await vmEnv(driver, 'guest');
  });
  afterAll(async () => env?.cleanup());

  it('runs a container whose memory limit is in its own cgroup v2 files, and leaves no cgroup behind', async () => {
    const pod = await env.runPod('smoke');
    const limit = 48 * 1024 * 1024;
    const id = await env.runContainer(pod, 'smoke', 'exec sleep 1000', { linux: { resources: { memory_limit_in_bytes: String(limit) } } });
    expect((await env.c.call('ContainerStatus', { container_id: id })).status.state).toBe('CONTAINER_RUNNING');
    const cg = await cgroupFiles(env.c, id);
    expect(await cg.read('memory.max')).toBe(String(limit));
    expect(await cg.read('memory.swap.max')).toBe('0'); // no swap unless asked for
    await env.c.call('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.c.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect(await exists(cg.dir)).toBe(false);
    if (driver === 'cgroupfs') expect(await exists(dirname(cg.dir))).toBe(false); // fune's own /fune/pod-<id>
  });
});

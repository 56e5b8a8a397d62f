// The kubelet suite on a real cgroup v2 node (the VM tier's guest), under both cgroup drivers: kubelets 1.22
// (v1alpha2) and 1.34 (v1) as test/kubelet/ builds them, with the cgroup parents a kubelet sends on each driver
// (systemd: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice`; cgroupfs:
// `/kubepods/burstable/pod<uid>`), the QoS tree and pod cgroups made as a kubelet's container manager makes them
// (transient slices over D-Bus with systemd, directories with cgroupfs; Memory QoS on, so memory.min on the pod
// cgroup and the containers' unified memory.min/memory.high). The host suite's sequences drive them
// (test/integration/kubelet/drive.ts): pod start with an init container, the PLEG relist, exec probes, a liveness
// restart, deletion with the container GC. What the kernel and systemd applied is read back from the cgroup v2 files
// and `systemctl show`, and nothing of a pod is left once it is deleted, nor of the QoS tree after the file.
// A kubelet wants an IP for every pod-network sandbox (else it makes a new one), so the file puts a bridge network
// first in the shared daemon's CNI conf dir while it runs (fune reads that dir again when it changes; a pod's DEL
// uses what its ADD used) and takes it away afterwards, with the bridge and its addresses.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc } from '../helpers/daemon.js';
import { podCgroupName, resourceConfigForPod, sharesToWeight } from '../kubelet/cm.js';
import { buildPodLogsDirectory } from '../kubelet/common.js';
import { Kubelet } from '../kubelet/kubelet.js';
import { destroyPodCgroup, destroyQoS, ensureQoS, podCgroupDir, procsUnder } from '../kubelet/node-cgroups.js';
import { probeNode, type KubeletNode } from '../kubelet/node.js';
import { GenericPleg, type PlegEvent } from '../kubelet/pleg.js';
import { newPod, qosClass, type Pod, type Probe } from '../kubelet/pod.js';
import { LivenessWorker, runExecProbe } from '../kubelet/prober.js';
import { findContainer } from '../kubelet/status.js';
import { KUBELET_1_22 } from '../kubelet/v1_22.js';
import { KUBELET_1_34 } from '../kubelet/v1_34.js';
import type { KubeletVersion } from '../kubelet/version.js';
import { containerLog, deletePod, exec, POLITE, startPod, until, type StartedPod } from '../integration/kubelet/drive.js';
import { IMAGE, vmEnv, type VmEnv } from './env.js';
import { cgroupFiles, KUBELET_DRIVERS, unitProps } from './guest.js';

const MiB = 1024 * 1024;
const PAGE = 4096;
const CG = '/sys/fs/cgroup';
/** MEMORY_PAGED are the memory files the kernel keeps in pages (a byte value reads back rounded down to a page). */
const MEMORY_PAGED = new Set(['memory.min', 'memory.low', 'memory.high', 'memory.max', 'memory.swap.max']);
const paged = (key: string, v: string) => (MEMORY_PAGED.has(key) && /^\d+$/.test(v) ? String(Math.floor(Number(v) / PAGE) * PAGE) : v);
/** usec is how systemctl shows CPUQuotaPerSecUSec (a 100 ms period: quota µs per period × 10 per second). */
const quotaPerSec = (quota: number) => (quota > 0 ? `${(quota * 10) / 1000}ms` : 'infinity');

const VERSIONS: [string, KubeletVersion][] = [
  ['1.22', KUBELET_1_22],
  ['1.34', KUBELET_1_34],
];

describe.each(KUBELET_DRIVERS)('kubelet suite on cgroup v2 (%s driver)', (driver) => {
  let env: VmEnv;
  let dir: string;
  let conflist = '';
  const bridge = `fk${driver === 'systemd' ? 'sd' : 'fs'}${randomBytes(3).toString('hex')}`;
  const subnet = `10.231.${driver === 'systemd' ? 2 : 1}`;
  const kubelets: Kubelet[] = [];
  const pods: { k: Kubelet; pod: Pod }[] = [];
  beforeAll(async () => {
    env = await vmEnv(driver, `kubelet-${driver}`);
    dir = mkdtempSync(`/tmp/fune-vm-kubelet-${driver}-`);
    conflist = join(env.d.dir, 'cni', '00-kubelet.conflist');
    const ipam = { type: 'host-local', ranges: [[{ subnet: `${subnet}.0/24` }]], dataDir: join(dir, 'ipam') };
    writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: `kubelet-${driver}`, plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam }] }));
  });
  /** deleteLeftovers deletes what a failed test left of its pods: the kubelet's deletion, then the pod cgroups. */
  const deleteLeftovers = async () => {
    for (const { k, pod } of pods.splice(0)) {
      await deletePod(k, pod).catch(() => undefined);
      try {
        destroyPodCgroup(k.node, pod);
      } catch {
        // best effort: the QoS tree's removal reports what is stuck
      }
    }
  };
  afterAll(async () => {
    await deleteLeftovers();
    for (const k of kubelets) k.close();
    if (kubelets[0]) destroyQoS(kubelets[0].node);
    if (conflist) rmSync(conflist, { force: true });
    try {
      execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      // never made (no pod got as far as its network)
    }
    await env?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** kubelet makes a kubelet of version `v` on this node: --cgroup-root=/ (the kubelet's own default), Memory QoS on. */
  const kubelet = (v: KubeletVersion, extra: Partial<KubeletNode> = {}) => {
    const node = probeNode({ cgroupDriver: driver, cgroupRoot: [], podLogsDir: join(dir, 'var-log-pods'), rootDir: join(dir, 'var-lib-kubelet'), memoryQoS: true, ...extra });
    const k = new Kubelet(v, node, env.d.socket);
    kubelets.push(k);
    return k;
  };
  /** parentOf is the cgroup parent a kubelet on this driver sends for a pod, as the kubelet's docs spell it. */
  const parentOf = (pod: Pod) => {
    const u = pod.uid.replaceAll('-', '_');
    const qos = qosClass(pod);
    if (driver === 'systemd') {
      return { Guaranteed: `/kubepods.slice/kubepods-pod${u}.slice`, Burstable: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u}.slice`, BestEffort: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${u}.slice` }[qos];
    }
    return { Guaranteed: `/kubepods/pod${pod.uid}`, Burstable: `/kubepods/burstable/pod${pod.uid}`, BestEffort: `/kubepods/besteffort/pod${pod.uid}` }[qos];
  };
  /** unitOf is the unit of a cgroup path's last part (a slice or a scope). */
  const unitOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

  /**
   * expectPlaced checks one started pod against what its kubelet sent: the sandbox's cgroup parent, the infra and
   * every container in the kernel's cgroup under it, each container's cgroup files equal to its CreateContainer
   * resources (unified keys included), the pod cgroup still the kubelet's (memory.min of Memory QoS, weight, limit),
   * and with systemd the units: scopes in the pod's slice with the limits as properties, the slice's own untouched.
   */
  async function expectPlaced(k: Kubelet, s: StartedPod, names: string[]): Promise<void> {
    const parent = parentOf(s.pod);
    expect(podCgroupName(k.node, s.pod).literal).toBe(parent);
    const run = k.cri.calls.find((c) => c.verb === 'RunPodSandbox' && c.req.config.metadata.uid === s.pod.uid)!;
    expect(run.req.config.linux.cgroup_parent).toBe(parent);
    const leaf = (id: string) => (driver === 'systemd' ? `${parent}/fune-${id}.scope` : `${parent}/${id}`);
    const sb = await env.c.call('PodSandboxStatus', { pod_sandbox_id: s.sandboxId, verbose: true });
    expect(sb.status.network.ip).toMatch(new RegExp(`^${subnet.replaceAll('.', '\\.')}\\.\\d+$`));
    const infra = JSON.parse(sb.info.info as string).pid as number;
    expect(readFileSync(`/proc/${infra}/cgroup`, 'utf8').trim()).toBe(`0::${leaf(s.sandboxId)}`);
    for (const name of names) {
      const c = findContainer(await k.podStatus(s.pod), name)!;
      const create = k.cri.calls.filter((x) => x.verb === 'CreateContainer' && x.req.pod_sandbox_id === s.sandboxId && x.req.config.metadata.name === name).at(-1)!;
      const res = create.req.config.linux.resources as Record<string, any>;
      const cg = await cgroupFiles(env.c, c.id);
      expect(cg.dir).toBe(join(CG, leaf(c.id)));
      const want: Record<string, string> = {
        'memory.max': res.memory_limit_in_bytes ? paged('memory.max', String(res.memory_limit_in_bytes)) : 'max',
        'cpu.weight': String(sharesToWeight(res.cpu_shares)),
        'cpu.max': `${res.cpu_quota > 0 ? res.cpu_quota : 'max'} ${res.cpu_period || 100000}`,
      };
      for (const [key, v] of Object.entries(res.unified as Record<string, string>)) want[key] = paged(key, v);
      const got = Object.fromEntries(await Promise.all(Object.keys(want).map(async (f) => [f, await cg.read(f).catch((e: Error) => `(${e.message})`)])));
      expect({ name, ...got }).toEqual({ name, ...want });
      if (driver === 'systemd') {
        const want = {
          Slice: unitOf(parent),
          MemoryMax: res.memory_limit_in_bytes ? String(res.memory_limit_in_bytes) : 'infinity',
          MemoryMin: res.unified['memory.min'] ?? '0',
          MemoryHigh: res.unified['memory.high'] ?? 'infinity',
          CPUWeight: String(sharesToWeight(res.cpu_shares)),
          CPUQuotaPerSecUSec: quotaPerSec(res.cpu_quota),
        };
        expect({ name, ...unitProps(`fune-${c.id}.scope`, Object.keys(want)) }).toEqual({ name, ...want });
      }
    }
    // The pod cgroup is the kubelet's: what its container manager set (ResourceConfigForPod with Memory QoS) is
    // still there, and every process of the pod (infra, containers, monitors) is somewhere under it.
    const r = resourceConfigForPod(s.pod, true);
    const pod = podCgroupDir(k.node, s.pod);
    const file = (f: string) => readFileSync(join(pod, f), 'utf8').trim();
    expect([file('memory.min'), file('memory.max'), file('cpu.weight')]).toEqual([String(r.memoryMin ?? 0), r.memory ? String(r.memory) : 'max', String(sharesToWeight(r.cpuShares))]);
    if (driver === 'systemd') {
      expect(unitProps(unitOf(parent), ['ActiveState', 'MemoryMin', 'MemoryMax', 'CPUWeight'])).toEqual({
        ActiveState: 'active', MemoryMin: String(r.memoryMin ?? 0), MemoryMax: r.memory ? String(r.memory) : 'infinity', CPUWeight: String(sharesToWeight(r.cpuShares)),
      });
    }
    expect(procsUnder(pod).length).toBeGreaterThanOrEqual(1 + 2 * names.length);
  }

  /** expectGone checks that nothing of a deleted pod is left: its cgroup, its units, its log directory. */
  function expectGone(k: Kubelet, pod: Pod, ids: string[]): void {
    expect(existsSync(join(CG, parentOf(pod)))).toBe(false);
    expect(existsSync(buildPodLogsDirectory(k.node, pod))).toBe(false);
    if (driver === 'systemd') {
      const units = execFileSync('systemctl', ['list-units', '--all', '--plain', '--no-legend', `*${pod.uid.replaceAll('-', '_')}*`, ...ids.map((id) => `*${id}*`)], { encoding: 'utf8' }).trim();
      expect(units).toBe('');
    }
  }

  it.each(VERSIONS)(`[%s] puts Burstable, Guaranteed and BestEffort pods under the kubelet's ${driver} parents with Memory QoS, relists, probes, restarts on liveness and deletes`, async (version, v) => {
    const k = kubelet(v);
    const tag = `${version.replace('.', '')}-${driver === 'systemd' ? 'sd' : 'fs'}`;
    // Timeouts sized for TCG (an exec takes seconds there); the timeout probe below has its own.
    const liveness: Probe = { exec: { command: ['test', '-f', '/tmp/healthy'] }, timeoutSeconds: 30, periodSeconds: 10, failureThreshold: 1, terminationGracePeriodSeconds: 5 };
    const track = (pod: Pod) => (pods.push({ k, pod }), pod);
    const burst = track(
      newPod(`burst-${tag}`, 'kube-vm', {
        initContainers: [{ name: 'init', image: IMAGE, command: ['sh', '-c', 'echo init-ran'] }],
        containers: [
          {
            name: 'app',
            image: IMAGE,
            command: ['sh', '-c', `touch /tmp/healthy; ${POLITE('attempt-start')}`],
            resources: { requests: { cpu: 250, memory: 32 * MiB }, limits: { cpu: 500, memory: 128 * MiB } },
            livenessProbe: liveness,
          },
        ],
      }),
    );
    const guar = track(newPod(`guar-${tag}`, 'kube-vm', { containers: [{ name: 'app', image: IMAGE, command: ['sleep', '100000'], resources: { limits: { cpu: 200, memory: 48 * MiB } } }] }));
    const best = track(newPod(`best-${tag}`, 'kube-vm', { containers: [{ name: 'app', image: IMAGE, command: ['sleep', '100000'] }] }));
    const pleg = new GenericPleg(k, () => [burst, guar, best]);
    await pleg.relist();

    const b = await startPod(k, burst);
    const g = await startPod(k, guar);
    const e = await startPod(k, best);
    // What this kubelet sent for the burstable app (Memory QoS: memory.min is the request; memory.high 1.22's
    // limit × 0.8, 1.34's request + 0.9 × (limit − request) to the page; 1.34 on v2 also memory.oom.group and NoSwap).
    const sent = k.cri.calls.find((c) => c.verb === 'CreateContainer' && c.req.pod_sandbox_id === b.sandboxId && c.req.config.metadata.name === 'app')!.req.config.linux.resources.unified;
    expect(sent['memory.min']).toBe(String(32 * MiB));
    expect(sent['memory.high']).toBe(version === '1.22' ? String(Math.trunc(128 * MiB * 0.8)) : String(Math.floor((32 * MiB + 0.9 * 96 * MiB) / PAGE) * PAGE));
    if (version === '1.34') expect(sent['memory.oom.group']).toBe('1');
    await expectPlaced(k, b, ['app']);
    await expectPlaced(k, g, ['app']);
    await expectPlaced(k, e, ['app']);
    expect(findContainer(b.status, 'init')).toMatchObject({ state: 'exited', exitCode: 0, reason: 'Completed' });
    expect(containerLog(k, burst, 'init', 0).text).toBe('init-ran\n');

    // PLEG relist: one event per container and sandbox that appeared (the init container already exited).
    const first = findContainer(b.status, 'app')!;
    const names: Record<string, string> = {
      [b.sandboxId]: 'burst', [first.id]: 'burst/app', [findContainer(b.status, 'init')!.id]: 'burst/init',
      [g.sandboxId]: 'guar', [findContainer(g.status, 'app')!.id]: 'guar/app', [e.sandboxId]: 'best', [findContainer(e.status, 'app')!.id]: 'best/app',
    };
    const ofPods = (ev: PlegEvent[]) => ev.filter((x) => names[x.id]).map((x) => `${x.type} ${names[x.id]}`).sort();
    expect(ofPods(await pleg.relist())).toEqual(['ContainerDied burst/init', 'ContainerStarted best', 'ContainerStarted best/app', 'ContainerStarted burst', 'ContainerStarted burst/app', 'ContainerStarted guar', 'ContainerStarted guar/app']);

    // Exec probes as the prober reads them, the timeout one ended by the runtime (DEADLINE_EXCEEDED).
    const probe = (command: string[], timeoutSeconds = 30): Probe => ({ ...liveness, exec: { command }, timeoutSeconds });
    expect(await runExecProbe(k, probe(['sh', '-c', 'echo alive']), first.id)).toEqual({ result: 'Success', output: 'alive\n', attempts: 1 });
    expect(await runExecProbe(k, probe(['sleep', '300'], 3), first.id)).toEqual({ result: 'Failure', output: 'command "sleep 300" timed out', attempts: 1 });
    expect(k.cri.calls.at(-1)).toMatchObject({ verb: 'ExecSync', req: { timeout: 3 }, code: grpc.status.DEADLINE_EXCEEDED });

    // Liveness restart: the probe fails, SyncPod stops the app with the grace period the version picks and creates
    // attempt 1 in the same sandbox, under the same pod cgroup with the same limits.
    const worker = new LivenessWorker(k, liveness, first.id);
    await exec(k, first.id, 'rm /tmp/healthy');
    expect(await worker.doProbe()).toBe('Failure');
    const from = k.cri.calls.length;
    const sync = await k.syncPod(burst);
    expect(sync.actions).toMatchObject({ killPod: false, createSandbox: false, sandboxId: b.sandboxId, containersToStart: [0] });
    expect(k.cri.calls.slice(from).find((c) => c.verb === 'StopContainer')!.req).toEqual({ container_id: first.id, timeout: version === '1.22' ? 30 : 5 });
    expect(k.cri.calls.slice(from).find((c) => c.verb === 'CreateContainer')!.req.config).toMatchObject({ metadata: { name: 'app', attempt: 1 }, log_path: 'app/1.log' });
    const status = await k.podStatus(burst);
    expect(status.containers.filter((c) => c.name === 'app').map((c) => [c.id, c.state, c.restartCount])).toEqual([
      [sync.started[0]!.id, 'running', 1],
      [first.id, 'exited', 0],
    ]);
    expect(findContainer(status, 'app')!.id).not.toBe(first.id);
    await expectPlaced(k, { ...b, status }, ['app']);
    expect(containerLog(k, burst, 'app', 0).text).toBe('attempt-start\ngot-term\n');
    await until(() => Promise.resolve(containerLog(k, burst, 'app', 1).text), (t) => t === 'attempt-start\n', 'the new instance to log');
    names[sync.started[0]!.id] = 'burst/app#1';
    expect(ofPods(await pleg.relist())).toEqual(['ContainerDied burst/app', 'ContainerStarted burst/app#1']);

    // Deletion: killPod with the deletion grace, the container GC, the pod cgroup's Destroy; no process was left
    // for the kubelet to kill, and nothing of the pod remains in the cgroup tree or among systemd's units.
    for (const [pod, s, count] of [
      [burst, b, 3],
      [guar, g, 1],
      [best, e, 1],
    ] as const) {
      const { gc, leftover } = await deletePod(k, pod);
      expect(gc.containers).toHaveLength(count);
      expect(gc.sandboxes).toEqual([s.sandboxId]);
      expect(leftover).toBe(0);
      expectGone(k, pod, [s.sandboxId, ...gc.containers]);
      pods.splice(pods.findIndex((p) => p.pod === pod), 1);
    }
  });

  it('leaves nothing of the kubelet\'s QoS tree once it is removed, as the kubelet made it', async () => {
    await deleteLeftovers();
    const k = kubelet(KUBELET_1_34);
    ensureQoS(k.node);
    const top = driver === 'systemd' ? ['kubepods.slice', 'kubepods.slice/kubepods-burstable.slice', 'kubepods.slice/kubepods-besteffort.slice'] : ['kubepods', 'kubepods/burstable', 'kubepods/besteffort'];
    for (const d of top) expect(existsSync(join(CG, d))).toBe(true);
    // The besteffort level's weight is the kubelet's (2 shares).
    expect(readFileSync(join(CG, top[2]!, 'cpu.weight'), 'utf8').trim()).toBe('1');
    destroyQoS(k.node);
    for (const d of top) expect(existsSync(join(CG, d))).toBe(false);
    if (driver === 'systemd') expect(execFileSync('systemctl', ['list-units', '--all', '--plain', '--no-legend', 'kubepods*'], { encoding: 'utf8' }).trim()).toBe('');
  });
});

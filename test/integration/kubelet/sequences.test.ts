// The kubelet's sequences against a real fune (cgroupfs driver, cgroup v1 host), spoken as kubelets 1.22
// (v1alpha2) and 1.34 (v1) speak them (test/kubelet/): the generic PLEG's relist (ListPodSandbox, ListContainers,
// then GetPodStatus with ContainerStatus verbose=false for each pod with events) and the state transitions it
// computes; exec probes through ExecSync with the probe's timeout, read as prober/prober.go and probe/exec/exec.go
// read them, with ExecProbeTimeout on and off; a liveness restart (StopContainer with the grace period the
// version picks, CreateContainer attempt 1, <container>/1.log, the restart count in the annotations); pod deletion
// (StopContainer with the deletion grace, StopPodSandbox, the container GC's RemoveContainer/StopPodSandbox/
// RemovePodSandbox, repeats, NotFound where the kubelet branches on it); and fune killed in the middle of a pod's
// life, an exit while it is down, and the kubelet's reconciliation after it. What is checked is what the kubelet
// reads: states, exit codes, reasons, termination messages, nanosecond timestamps in order, CRI log lines it
// parses, gRPC codes. Also the swap, Memory QoS and AppArmor fields as each version sends them on a cgroup v1
// node without AppArmor, and what the kernel applied.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc } from '../../helpers/daemon.js';
import { buildPodLogsDirectory, volumeHostPath } from '../../kubelet/common.js';
import { codeOf } from '../../kubelet/cri.js';
import { DEFAULT_GC, garbageCollect } from '../../kubelet/gc.js';
import type { Kubelet } from '../../kubelet/kubelet.js';
import { destroyPodCgroup, podCgroupDir } from '../../kubelet/node-cgroups.js';
import { GenericPleg, type PlegEvent } from '../../kubelet/pleg.js';
import { newPod, type Pod, type Probe } from '../../kubelet/pod.js';
import { LivenessWorker, runExecProbe } from '../../kubelet/prober.js';
import { findContainer, type KubeStatus } from '../../kubelet/status.js';
import { KUBELET_1_22 } from '../../kubelet/v1_22.js';
import { KUBELET_1_34 } from '../../kubelet/v1_34.js';
import type { KubeletVersion } from '../../kubelet/version.js';
import { containerLog, deletePod, exec, POLITE, sleep, startPod, until } from './drive.js';
import { startKubeletEnv, type KubeletEnv } from './env.js';

let env: KubeletEnv;
beforeAll(async () => {
  env = await startKubeletEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const MiB = 1024 * 1024;
const nowNs = () => BigInt(Date.now()) * 1_000_000n;
/** CRI_LINE is the shape of every line the kubelet's parser accepts: `<RFC3339Nano> <stream> <P|F> <content>`. */
const CRI_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d) (stdout|stderr) [PF](:\S*)? /;

/** ofPod gives the PLEG events of one pod, as "<type> <name>" with the names known for its ids. */
const ofPod = (events: PlegEvent[], pod: Pod, names: Record<string, string>) =>
  events
    .filter((e) => e.podUid === pod.uid)
    .map((e) => `${e.type} ${names[e.id] ?? e.id}`)
    .sort();

/** procsOf reads a v1 cgroup's processes (none once the cgroup is gone). */
const procsOf = (dir: string): number[] => (existsSync(join(dir, 'cgroup.procs')) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number) : []);

/** expectTimesInOrder checks a container's timestamps as the kubelet converts them (time.Unix(0, ns)). */
function expectTimesInOrder(s: KubeStatus, from: bigint, to: bigint): void {
  expect(s.createdAt).toBeGreaterThanOrEqual(from);
  expect(s.startedAt).toBeGreaterThanOrEqual(s.createdAt);
  if (s.state === 'exited') expect(s.finishedAt).toBeGreaterThanOrEqual(s.startedAt);
  expect(s.state === 'exited' ? s.finishedAt : s.startedAt).toBeLessThanOrEqual(to);
}

/** expectCriLog checks a log file line by line against the CRI format, timestamps non-decreasing within [from, to]. */
function expectCriLog(k: Kubelet, pod: Pod, name: string, attempt: number, from: bigint, to: bigint): string {
  const path = join(buildPodLogsDirectory(k.node, pod), name, `${attempt}.log`);
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  for (const l of lines) expect(l).toMatch(CRI_LINE);
  const { text, stamps } = containerLog(k, pod, name, attempt);
  for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThanOrEqual(stamps[i - 1]!);
  for (const s of stamps) {
    expect(s).toBeGreaterThanOrEqual(from);
    expect(s).toBeLessThanOrEqual(to);
  }
  return text;
}

describe.each([
  ['1.22', KUBELET_1_22],
  ['1.34', KUBELET_1_34],
] as [string, KubeletVersion][])('[%s] kubelet sequences on cgroupfs (cgroup v1)', (version, v) => {
  const tag = version.replace('.', '');

  it(`[${version}] relists as the generic PLEG does, and reads exec probes as the prober does (ExecProbeTimeout on and off)`, async () => {
    const k = env.kubelet(v);
    const off = env.kubelet(v, { execProbeTimeout: false });
    const pod = env.track(k, newPod(`probe-${tag}`, 'kube-seq', { containers: [{ name: 'app', image: env.image, command: ['sh', '-c', POLITE('up')] }] }));
    const pleg = new GenericPleg(k, () => [pod]);
    await pleg.relist();
    const t0 = nowNs();
    const started = await startPod(k, pod);
    const app = findContainer(started.status, 'app')!;
    const names = { [started.sandboxId]: 'sandbox', [app.id]: 'app' };

    // Relist: ListPodSandbox (nil filter), ListContainers (empty filter), then GetPodStatus for the pod with events.
    const from = k.cri.calls.length;
    expect(ofPod(await pleg.relist(), pod, names)).toEqual(['ContainerStarted app', 'ContainerStarted sandbox']);
    const verbs = k.cri.verbs(from);
    expect(verbs.slice(0, 2)).toEqual(['ListPodSandbox', 'ListContainers']);
    const statusCalls = k.cri.calls.slice(from).filter((c) => c.verb === 'ContainerStatus');
    expect(statusCalls.map((c) => c.req)).toEqual([{ container_id: app.id, verbose: false }]);
    const cached = pleg.cache.get(pod.uid)!;
    expect(findContainer(cached, 'app')).toMatchObject({ id: app.id, state: 'running', restartCount: 0, exitCode: 0 });
    expectTimesInOrder(findContainer(cached, 'app')!, t0, nowNs());
    // Nothing changed: no events, no GetPodStatus.
    const quiet = k.cri.calls.length;
    expect(ofPod(await pleg.relist(), pod, names)).toEqual([]);
    expect(k.cri.verbs(quiet)).toEqual(['ListPodSandbox', 'ListContainers']);

    // Exit codes as the prober reads them: 0 is Success, anything else Failure, stdout and stderr together.
    const probe = (command: string[], timeoutSeconds = 1): Probe => ({ exec: { command }, timeoutSeconds, periodSeconds: 10, failureThreshold: 3 });
    expect(await runExecProbe(k, probe(['sh', '-c', 'echo alive']), app.id)).toEqual({ result: 'Success', output: 'alive\n', attempts: 1 });
    expect(await runExecProbe(k, probe(['sh', '-c', 'echo sick >&2; exit 3']), app.id)).toEqual({ result: 'Failure', output: 'sick\n', attempts: 1 });
    const raw = await k.cri.execSync(app.id, ['sh', '-c', 'echo out; echo err >&2; exit 3'], 1);
    expect({ out: Buffer.from(raw.stdout).toString(), err: Buffer.from(raw.stderr).toString(), code: Number(raw.exit_code) }).toEqual({ out: 'out\n', err: 'err\n', code: 3 });

    // ExecProbeTimeout on: the runtime ends the command at the probe's timeout with DEADLINE_EXCEEDED, which the
    // CRI client turns into a timeout error and exec.go into a Failure with the "timed out" output (no retry).
    let t = Date.now();
    const timedOut = await runExecProbe(k, probe(['sleep', '30'], 1), app.id);
    const took = Date.now() - t;
    expect(timedOut).toEqual({ result: 'Failure', output: 'command "sleep 30" timed out', attempts: 1 });
    expect(k.cri.calls.at(-1)).toMatchObject({ verb: 'ExecSync', req: { timeout: 1 }, code: grpc.status.DEADLINE_EXCEEDED });
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(10_000);
    // The timed-out command is gone from the container (the runtime killed it, not only stopped waiting).
    expect((await exec(k, app.id, 'ps -o args | grep -c "^sleep 30" || true')).out.trim()).toBe('0');

    // ExecProbeTimeout off: the kubelet still sends timeoutSeconds (prober.go passes it to RunInContainer either
    // way); the runtime's DEADLINE_EXCEEDED is then an error: Unknown, retried up to 3 times, the result thrown
    // away by the worker, so the container is not restarted.
    const worker = new LivenessWorker(off, probe(['sleep', '30'], 1), app.id);
    t = Date.now();
    expect(await worker.doProbe()).toBe('Success');
    expect(Date.now() - t).toBeGreaterThanOrEqual(3000);
    expect(worker.outcomes).toEqual([{ result: 'Unknown', output: '', error: 'command "sleep 30" timed out', attempts: 3 }]);
    expect(off.cri.calls.filter((c) => c.verb === 'ExecSync').map((c) => [c.req.timeout, c.code])).toEqual([
      [1, grpc.status.DEADLINE_EXCEEDED],
      [1, grpc.status.DEADLINE_EXCEEDED],
      [1, grpc.status.DEADLINE_EXCEEDED],
    ]);
    // Timeout 0 is what hooks send (lifecycle handlers: no timeout, no deadline): the command runs to its end.
    t = Date.now();
    const hook = await k.cri.execSync(app.id, ['sh', '-c', 'sleep 1.5; echo late'], 0);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1500);
    expect(Buffer.from(hook.stdout).toString()).toBe('late\n');
    expect(Number(hook.exit_code)).toBe(0);

    // Probes left the container alone: still running, same id, no restart; no PLEG event.
    expect(ofPod(await pleg.relist(), pod, names)).toEqual([]);
    const { gc, leftover } = await deletePod(k, pod);
    expect(gc.containers).toEqual([app.id]);
    expect(gc.sandboxes).toEqual([started.sandboxId]);
    expect(leftover).toBe(0);
  });

  it(`[${version}] restarts a container whose liveness probe fails: StopContainer with ${version === '1.22' ? "the pod's grace period (ProbeTerminationGracePeriod off)" : "the probe's grace period"}, CreateContainer attempt 1, 1.log`, async () => {
    const k = env.kubelet(v);
    const liveness: Probe = { exec: { command: ['test', '-f', '/tmp/healthy'] }, timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 2, terminationGracePeriodSeconds: 5 };
    const pod = env.track(
      k,
      newPod(`live-${tag}`, 'kube-seq', {
        terminationGracePeriodSeconds: 30,
        containers: [{ name: 'app', image: env.image, command: ['sh', '-c', `touch /tmp/healthy; ${POLITE('attempt-start')}`], livenessProbe: liveness }],
      }),
    );
    const pleg = new GenericPleg(k, () => [pod]);
    const t0 = nowNs();
    const started = await startPod(k, pod);
    const first = findContainer(started.status, 'app')!;
    await pleg.relist();

    // prober/worker.go: failureThreshold consecutive failures before the result turns to Failure.
    const worker = new LivenessWorker(k, liveness, first.id);
    expect(await worker.doProbe()).toBe('Success');
    await exec(k, first.id, 'rm /tmp/healthy');
    expect(await worker.doProbe()).toBe('Success');
    expect(await worker.doProbe()).toBe('Failure');
    expect(worker.outcomes.map((o) => o.result)).toEqual(['Success', 'Failure', 'Failure']);

    // SyncPod: kill the container (no new sandbox), start it again in the same sandbox.
    const from = k.cri.calls.length;
    const sync = await k.syncPod(pod);
    expect(sync.actions).toMatchObject({ killPod: false, createSandbox: false, sandboxId: started.sandboxId, containersToStart: [0] });
    expect(sync.actions.containersToKill).toEqual([{ id: first.id, name: 'app', message: 'Container app failed liveness probe, will be restarted', reason: 'liveness' }]);
    const verbs = k.cri.verbs(from);
    expect(verbs).not.toContain('RunPodSandbox');
    // The kubelet does not remove the dead instance here: the container GC does, beyond MaxPerPodContainer.
    expect(verbs).not.toContain('RemoveContainer');
    expect(verbs.indexOf('StopContainer')).toBeLessThan(verbs.indexOf('CreateContainer'));
    const stop = k.cri.calls.slice(from).find((c) => c.verb === 'StopContainer')!;
    expect(stop.req).toEqual({ container_id: first.id, timeout: version === '1.22' ? 30 : 5 });
    const create = k.cri.calls.slice(from).find((c) => c.verb === 'CreateContainer')!;
    expect(create.req.pod_sandbox_id).toBe(started.sandboxId);
    expect(create.req.config.metadata).toEqual({ name: 'app', attempt: 1 });
    expect(create.req.config.log_path).toBe('app/1.log');
    expect(create.req.config.annotations['io.kubernetes.container.restartCount']).toBe('1');
    const second = sync.started[0]!;
    expect(second.name).toBe('app');

    // What GetPodStatus gives the kubelet now: the new instance running with restart count 1 (read back from the
    // annotations), the old one exited 0 ("Completed": it ended on TERM within the grace period).
    const status = await k.podStatus(pod);
    expect(status.containers.map((c) => [c.id, c.state, c.restartCount])).toEqual([
      [second.id, 'running', 1],
      [first.id, 'exited', 0],
    ]);
    const [now, old] = status.containers as [KubeStatus, KubeStatus];
    expect(old).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(now.logPath).toBe(join(buildPodLogsDirectory(k.node, pod), 'app', '1.log'));
    expect(old.logPath).toBe(join(buildPodLogsDirectory(k.node, pod), 'app', '0.log'));
    const t1 = nowNs();
    expectTimesInOrder(old, t0, t1);
    expectTimesInOrder(now, t0, t1);
    expect(now.createdAt).toBeGreaterThanOrEqual(old.finishedAt);
    expect(now.hash).toBe(old.hash);
    await until(() => Promise.resolve(containerLog(k, pod, 'app', 1).text), (s) => s.includes('attempt-start'), 'the new instance to log');
    expect(expectCriLog(k, pod, 'app', 0, t0, nowNs())).toBe('attempt-start\ngot-term\n');
    expect(expectCriLog(k, pod, 'app', 1, old.finishedAt, nowNs())).toBe('attempt-start\n');
    expect(existsSync(k.legacySymlink(second.id, 'app', pod))).toBe(true);

    // PLEG: the old one died, the new one started.
    expect(ofPod(await pleg.relist(), pod, { [first.id]: 'old', [second.id]: 'new' })).toEqual(['ContainerDied old', 'ContainerStarted new']);
    // The new instance is healthy again; the next SyncPod has nothing to do.
    expect(await new LivenessWorker(k, liveness, second.id).doProbe()).toBe('Success');
    const idle = await k.syncPod(pod);
    expect(idle.actions).toMatchObject({ killPod: false, createSandbox: false, containersToStart: [], containersToKill: [] });

    // The container GC keeps one dead instance per container (MaxPerPodContainer 1): nothing to remove yet.
    expect((await garbageCollect(k, DEFAULT_GC, new Set())).containers).toEqual([]);
    const { gc, leftover } = await deletePod(k, pod);
    expect(gc.containers.sort()).toEqual([first.id, second.id].sort());
    expect(leftover).toBe(0);
  });

  it(`[${version}] deletes a pod: StopContainer with the deletion grace, StopPodSandbox, GC's removal, repeats and NotFound`, async () => {
    const k = env.kubelet(v);
    const pod = env.track(
      k,
      newPod(`del-${tag}`, 'kube-seq', {
        containers: [
          { name: 'polite', image: env.image, command: ['sh', '-c', POLITE('polite-up')] },
          { name: 'stubborn', image: env.image, command: ['sh', '-c', `echo stubborn-up; trap '' TERM; while true; do sleep 0.2; done`] },
        ],
      }),
    );
    const pleg = new GenericPleg(k, () => [pod]);
    const started = await startPod(k, pod);
    const polite = findContainer(started.status, 'polite')!;
    const stubborn = findContainer(started.status, 'stubborn')!;
    const names = { [started.sandboxId]: 'sandbox', [polite.id]: 'polite', [stubborn.id]: 'stubborn' };
    await pleg.relist();

    // syncTerminatingPod: every running container stopped in parallel with the deletion grace (2 s), then the sandbox.
    pod.deletionGracePeriodSeconds = 2;
    const from = k.cri.calls.length;
    const t0 = nowNs();
    await k.killPod(pod, await k.podStatus(pod));
    const took = Number((nowNs() - t0) / 1_000_000n);
    expect(k.cri.calls.slice(from).filter((c) => c.verb === 'StopContainer').map((c) => [c.req.container_id, c.req.timeout]).sort()).toEqual(
      [
        [polite.id, 2],
        [stubborn.id, 2],
      ].sort(),
    );
    expect(k.cri.verbs(from).at(-1)).toBe('StopPodSandbox');
    // The stubborn one was killed once the grace period was over, not before and not much later.
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(8000);
    const status = await k.podStatus(pod);
    const p = findContainer(status, 'polite')!;
    const s = findContainer(status, 'stubborn')!;
    expect(p).toMatchObject({ state: 'exited', exitCode: 0, reason: 'Completed' });
    expect(s).toMatchObject({ state: 'exited', exitCode: 137, reason: 'Error' });
    expect(p.finishedAt - t0).toBeLessThan(2_000_000_000n);
    expect(s.finishedAt - t0).toBeGreaterThanOrEqual(1_900_000_000n);
    expect(s.finishedAt).toBeLessThanOrEqual(nowNs());
    expect(status.sandboxes.map((x) => [x.id, x.state])).toEqual([[started.sandboxId, 'SANDBOX_NOTREADY']]);
    expect(expectCriLog(k, pod, 'polite', 0, t0 - 10_000_000_000n, nowNs())).toBe('polite-up\ngot-term\n');
    expect(expectCriLog(k, pod, 'stubborn', 0, t0 - 10_000_000_000n, nowNs())).toBe('stubborn-up\n');
    // PLEG: both containers died; the sandbox (a container to PLEG) too.
    expect(ofPod(await pleg.relist(), pod, names)).toEqual(['ContainerDied polite', 'ContainerDied sandbox', 'ContainerDied stubborn']);

    // A second terminating sync repeats the stops: a stopped container and a stopped sandbox stop again without error
    // (the 1.22 kubelet fails the sync on any error here; GC's removeSandbox stops before it removes).
    await k.cri.stopContainer(polite.id, 2);
    await k.cri.stopContainer(stubborn.id, 2);
    await k.cri.stopPodSandbox(started.sandboxId);

    // The container GC once the pod is gone: containers, then the sandbox (stopped again, removed), the log dir.
    const gcFrom = k.cri.calls.length;
    const gc = await garbageCollect(k, DEFAULT_GC, new Set([pod.uid]));
    expect(gc.containers.sort()).toEqual([polite.id, stubborn.id].sort());
    expect(gc.sandboxes).toEqual([started.sandboxId]);
    expect(gc.logDirs).toEqual([`${pod.namespace}_${pod.name}_${pod.uid}`]);
    expect(k.cri.verbs(gcFrom).filter((x) => x.startsWith('Remove') || x.startsWith('Stop'))).toEqual(['RemoveContainer', 'RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox']);
    expect(ofPod(await pleg.relist(), pod, names)).toEqual(['ContainerRemoved polite', 'ContainerRemoved sandbox', 'ContainerRemoved stubborn']);
    expect(existsSync(buildPodLogsDirectory(k.node, pod))).toBe(false);

    // NotFound where the kubelet branches on it: GetPodStatus skips a container or sandbox removed between List
    // and Status; killContainer takes NotFound as stopped.
    const code = (p: Promise<unknown>) => p.then(() => grpc.status.OK, (e: unknown) => codeOf(e));
    expect(await code(k.cri.containerStatus(polite.id))).toBe(grpc.status.NOT_FOUND);
    expect(await code(k.cri.podSandboxStatus(started.sandboxId))).toBe(grpc.status.NOT_FOUND);
    expect([grpc.status.OK, grpc.status.NOT_FOUND]).toContain(await code(k.cri.stopContainer(polite.id, 2)));
    expect([grpc.status.OK, grpc.status.NOT_FOUND]).toContain(await code(k.cri.stopPodSandbox(started.sandboxId)));
    // Removal is idempotent (CRI: "must not return an error if the container/sandbox has already been removed").
    expect(await code(k.cri.removeContainer(polite.id))).toBe(grpc.status.OK);
    expect(await code(k.cri.removePodSandbox(started.sandboxId))).toBe(grpc.status.OK);
    const after = await k.podStatus(pod);
    expect(after).toEqual({ sandboxes: [], containers: [], ips: [] });
    expect(destroyPodCgroup(k.node, pod).leftover).toEqual([]);
  });

  it(`[${version}] survives fune being killed: the kubelet's relist after it sees the same ids and states, an exit while down with its code and time, and the restart it then makes`, async () => {
    const k = env.kubelet(v);
    const pod = env.track(
      k,
      newPod(`restart-${tag}`, 'kube-seq', {
        volumes: [{ name: 'ctl', kind: 'emptyDir' }],
        containers: [
          { name: 'steady', image: env.image, command: ['sh', '-c', POLITE('steady-up')] },
          {
            name: 'quitter',
            image: env.image,
            command: ['sh', '-c', 'echo quitter-up; while [ ! -f /ctl/quit ]; do sleep 0.1; done; echo quitting; echo told-to-quit > /dev/termination-log; exit 7'],
            volumeMounts: [{ name: 'ctl', mountPath: '/ctl' }],
          },
        ],
      }),
    );
    const pleg = new GenericPleg(k, () => [pod]);
    const t0 = nowNs();
    const started = await startPod(k, pod);
    const steady = findContainer(started.status, 'steady')!;
    const quitter = findContainer(started.status, 'quitter')!;
    const names = { [started.sandboxId]: 'sandbox', [steady.id]: 'steady', [quitter.id]: 'quitter' };
    await pleg.relist();
    const before = await k.podStatus(pod);
    const steadyProcs = procsOf(join(podCgroupDir(k.node, pod), steady.id));
    expect(steadyProcs.length).toBeGreaterThan(0);
    await until(() => Promise.resolve(containerLog(k, pod, 'quitter', 0).text), (t) => t === 'quitter-up\n', 'the quitter to log');

    // fune is SIGKILLed; while it is down the quitter is told to exit (its conmon stays and records the exit).
    let downAt = 0n;
    let exitSeen = 0n;
    await env.restart(async () => {
      downAt = nowNs();
      writeFileSync(join(volumeHostPath(k.node, pod, 'ctl'), 'quit'), '');
      await until(() => Promise.resolve(procsOf(join(podCgroupDir(k.node, pod), quitter.id))), (p) => p.length === 0, 'the quitter to exit while fune is down', 10_000);
      exitSeen = nowNs();
      // Down a while longer, so that a finished_at taken at recovery would be told apart from the exit's.
      await sleep(1500);
    });

    // The kubelet's next relist (its client reconnects; a relist that fails is retried on the next tick).
    const events = await until(
      () => pleg.relist().catch((e: unknown) => [{ podUid: 'error', type: 'ContainerChanged' as const, id: String(codeOf(e)) }]),
      (ev) => ev.every((e) => e.podUid !== 'error'),
      'a relist to succeed after the restart',
    );
    expect(ofPod(events, pod, names)).toEqual(['ContainerDied quitter']);
    const after = await k.podStatus(pod);
    // Same sandbox and containers, same ids; the sandbox is still ready with the same IP (else SyncPod would make a
    // new sandbox and restart every container); timestamps unchanged by the recovery.
    expect(after.sandboxes.map((x) => [x.id, x.state, x.network.ip, x.created_at])).toEqual(before.sandboxes.map((x) => [x.id, x.state, x.network.ip, x.created_at]));
    expect(after.ips).toEqual(before.ips);
    const st = findContainer(after, 'steady')!;
    const q = findContainer(after, 'quitter')!;
    expect([st.id, st.state, st.createdAt, st.startedAt, st.restartCount]).toEqual([steady.id, 'running', steady.createdAt, steady.startedAt, 0]);
    expect([q.id, q.createdAt, q.startedAt]).toEqual([quitter.id, quitter.createdAt, quitter.startedAt]);
    // The exit that happened while fune was down: its code, the runtime's reason, the message from the
    // termination log, and the time it happened (not the time fune came back).
    expect(q).toMatchObject({ state: 'exited', exitCode: 7, reason: 'Error', message: 'told-to-quit\n' });
    expect(q.finishedAt).toBeGreaterThanOrEqual(downAt - 1_000_000_000n);
    expect(q.finishedAt).toBeLessThanOrEqual(exitSeen + 500_000_000n);
    expect(q.finishedAt).toBeGreaterThan(q.startedAt);
    expect(expectCriLog(k, pod, 'quitter', 0, t0, nowNs())).toBe('quitter-up\nquitting\n');
    // The steady container was never touched: same processes, still answering.
    expect(procsOf(join(podCgroupDir(k.node, pod), steady.id))).toEqual(expect.arrayContaining([steadyProcs[0]]));
    expect((await exec(k, steady.id, 'echo still-here')).out).toBe('still-here\n');

    // Reconciliation: SyncPod restarts the quitter (restartPolicy Always) as attempt 1 in the same sandbox.
    rmSync(join(volumeHostPath(k.node, pod, 'ctl'), 'quit'));
    const sync = await k.syncPod(pod);
    expect(sync.actions).toMatchObject({ killPod: false, createSandbox: false, sandboxId: started.sandboxId, containersToStart: [1], containersToKill: [] });
    expect(sync.started.map((x) => x.name)).toEqual(['quitter']);
    const again = await k.podStatus(pod);
    expect(findContainer(again, 'quitter')).toMatchObject({ id: sync.started[0]!.id, state: 'running', restartCount: 1 });
    await until(() => Promise.resolve(containerLog(k, pod, 'quitter', 1).text), (t) => t.startsWith('quitter-up'), 'the restarted quitter to log');
    expect(ofPod(await pleg.relist(), pod, { ...names, [sync.started[0]!.id]: 'quitter#1' })).toEqual(['ContainerStarted quitter#1']);
    const { gc, leftover } = await deletePod(k, pod);
    expect(gc.containers).toHaveLength(3);
    expect(leftover).toBe(0);
  });

  it(`[${version}] sends the swap, Memory QoS and AppArmor fields as ${version} does on a cgroup v1 node without AppArmor, and fune applies them`, async () => {
    // 1.22: NodeSwap (alpha) with UnlimitedSwap sends memory_swap_limit_in_bytes -1. 1.34: swap on cgroup v1 is
    // NoSwap whatever the setting (GetContainerSwapBehavior), i.e. memory+swap equal to the memory limit.
    // MemoryQoS is effective on cgroup v2 only: neither version sends memory.min/memory.high here, and no
    // memory.oom.group (1.34 sends it on v2 only). AppArmor: a kubelet on a node without AppArmor admits only
    // unconfined pods (apparmor validator), so Unconfined is what reaches the runtime: 1.22 from the annotation
    // as the apparmor_profile string, 1.34 from the field as SecurityProfile and the deprecated string.
    const k = env.kubelet(v, { nodeSwap: true, swapBehavior: version === '1.22' ? 'UnlimitedSwap' : 'LimitedSwap', memoryQoS: true });
    const pod = env.track(
      k,
      newPod(`swap-${tag}`, 'kube-seq', {
        annotations: {
          'kubernetes.io/config.source': 'api',
          ...(version === '1.22' ? { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' } : {}),
        },
        containers: [
          {
            name: 'app',
            image: env.image,
            command: ['sleep', '100000'],
            resources: { requests: { cpu: 100, memory: 32 * MiB }, limits: { memory: 64 * MiB } },
            ...(version === '1.34' ? { securityContext: { appArmorProfile: { type: 'Unconfined' as const } } } : {}),
          },
        ],
      }),
    );
    const started = await startPod(k, pod);
    const app = findContainer(started.status, 'app')!;
    const create = k.cri.calls.find((c) => c.verb === 'CreateContainer' && c.req.config.metadata.name === 'app')!;
    const res = create.req.config.linux.resources;
    const sec = create.req.config.linux.security_context;
    expect(res.memory_limit_in_bytes).toBe(64 * MiB);
    expect(res.unified).toEqual({});
    const cg = join(podCgroupDir(k.node, pod), app.id);
    expect(readFileSync(join(cg, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * MiB));
    const memsw = BigInt(readFileSync(join(cg, 'memory.memsw.limit_in_bytes'), 'utf8').trim());
    if (version === '1.22') {
      expect(res.memory_swap_limit_in_bytes).toBe(-1);
      expect(memsw).toBeGreaterThan(1n << 62n);
      expect(sec.apparmor_profile).toBe('unconfined');
      expect(sec.apparmor).toBeUndefined();
    } else {
      expect(res.memory_swap_limit_in_bytes).toBe(64 * MiB);
      expect(memsw).toBe(BigInt(64 * MiB));
      expect(sec.apparmor).toEqual({ profile_type: 'Unconfined', localhost_ref: '' });
      expect(sec.apparmor_profile).toBe('unconfined');
    }
    // No memory.min / memory.high exist on v1 to be set; the soft limit was left alone.
    expect(BigInt(readFileSync(join(cg, 'memory.soft_limit_in_bytes'), 'utf8').trim())).toBeGreaterThan(1n << 62n);
    expect((await exec(k, app.id, 'echo ok')).out).toBe('ok\n');
    const { leftover } = await deletePod(k, pod);
    expect(leftover).toBe(0);
  });
});

// Lifecycle benchmark driver (see hack/bench/README.md; hack/bench/lifecycle.sh runs it against both runtimes).
//
//   node dist/hack/bench/lifecycle.js run --socket S --label NAME --daemon-pid PID --marker M [--marker M2]
//        [--rounds 20] [--pods 10] [--execs 1] [--image IMG] [--stop-timeout 10] [--out FILE.json]
//        [--systemd-slices]
//   node dist/hack/bench/lifecycle.js report A.json [B.json ...]
//
// `run` times each CRI verb of N pod+container lifecycles over the socket (one warm-up round is not counted),
// then measures the runtime's memory with 0 and with PODS pods running, removes every pod it made and writes
// the samples as JSON. A verb answered with UNIMPLEMENTED aborts the run with a clear message (written to the
// JSON too, so `report` shows it). `report` prints one table with a column per runtime.
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { connect, RpcError, type BenchClient } from './cri-client.js';
import { sleeperContainer, sleeperPod } from './sleeper.js';
import { measureRuntime, type MemSample } from './procmem.js';
import { printReport } from './report.js';

/** VERBS are the timed RPCs, in round order. */
export const VERBS = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'ExecSync', 'StopContainer', 'RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox'] as const;

/** RunResult is what `run` writes for one runtime. */
export interface RunResult {
  label: string;
  runtime: string;
  socket: string;
  daemonPid: number;
  rounds: number;
  pods: number;
  image: string;
  samples: Record<string, number[]>;
  memStart?: MemSample;
  memIdle?: MemSample;
  memLoaded?: MemSample;
  error?: string;
  notes?: string[];
  /** podIp is the warm-up pod's IP from PodSandboxStatus (shows that CNI ran). */
  podIp?: string;
  date: string;
  /** load holds the 1-minute load average before and after the timed rounds. */
  load?: [number, number];
}

const LABEL = 'fune-bench';

function podConfig(name: string, o: Opts): object {
  return sleeperPod(name, o.logRoot, 'fune-bench', LABEL, o.systemdSlices);
}

function ctrConfig(image: string): object {
  return sleeperContainer(image, LABEL);
}

/** lifecycle runs one pod with one container through every verb; `rec` gets each verb's time. */
async function lifecycle(
  c: BenchClient, name: string, o: Opts, record: (verb: string, ms: number) => void, onPod?: (id: string) => Promise<void>,
): Promise<void> {
  const t: Record<string, number> = {};
  const rec = (verb: string, ms: number) => {
    t[verb] = (t[verb] ?? 0) + ms;
    record(verb, ms);
  };
  const pod = podConfig(name, o);
  const r1 = await c.timed<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
  rec('RunPodSandbox', r1.ms);
  const pid = r1.res.pod_sandbox_id;
  if (onPod) await onPod(pid);
  const r2 = await c.timed<{ container_id: string }>('CreateContainer', { pod_sandbox_id: pid, config: ctrConfig(o.image), sandbox_config: pod });
  rec('CreateContainer', r2.ms);
  const cid = r2.res.container_id;
  rec('StartContainer', (await c.timed('StartContainer', { container_id: cid })).ms);
  for (let i = 0; i < o.execs && !o.skip.has('ExecSync'); i++) {
    try {
      const r = await c.timed<{ exit_code: number; stderr: Buffer }>('ExecSync', { container_id: cid, cmd: ['true'], timeout: 10 });
      if (r.res.exit_code !== 0) throw new Error(`ExecSync true: exit code ${r.res.exit_code}: ${r.res.stderr?.toString()}`);
      rec('ExecSync', r.ms);
    } catch (e) {
      // ExecSync is not needed by the rest of the round: note it and go on without it.
      if (!(e instanceof RpcError && e.codeName === 'UNIMPLEMENTED')) throw e;
      o.skip.add('ExecSync');
      o.notes.push(`${o.label} does not implement ExecSync yet (UNIMPLEMENTED): ExecSync skipped`);
    }
  }
  rec('StopContainer', (await c.timed('StopContainer', { container_id: cid, timeout: o.stopTimeout })).ms);
  rec('RemoveContainer', (await c.timed('RemoveContainer', { container_id: cid })).ms);
  rec('StopPodSandbox', (await c.timed('StopPodSandbox', { pod_sandbox_id: pid })).ms);
  rec('RemovePodSandbox', (await c.timed('RemovePodSandbox', { pod_sandbox_id: pid })).ms);
  // Runtimes split the work differently (containerd runs `runc create` in StartContainer, fune in CreateContainer),
  // so the pairs and the whole round are compared too.
  const v = (k: string) => t[k] ?? 0;
  record('Create+StartContainer', v('CreateContainer') + v('StartContainer'));
  record('Stop+RemoveContainer', v('StopContainer') + v('RemoveContainer'));
  record('whole round (sum of calls)', Object.values(t).reduce((a, b) => a + b, 0));
}

/** statusPids collects the pids that the runtime's verbose status reports for the benchmark's pods and containers. */
async function statusPids(c: BenchClient): Promise<number[]> {
  const pidOf = (info: Record<string, string> | undefined): number => {
    try {
      return Number((JSON.parse(info?.info ?? '{}') as { pid?: number }).pid ?? 0);
    } catch {
      return 0;
    }
  };
  const sel = { label_selector: { [LABEL]: '1' } };
  const pids: number[] = [];
  const { items: pods } = await c.call<{ items: { id: string }[] }>('ListPodSandbox', { filter: sel });
  for (const p of pods) pids.push(pidOf((await c.call<{ info: Record<string, string> }>('PodSandboxStatus', { pod_sandbox_id: p.id, verbose: true })).info));
  const { containers } = await c.call<{ containers: { id: string }[] }>('ListContainers', { filter: sel });
  for (const k of containers) pids.push(pidOf((await c.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: k.id, verbose: true })).info));
  return pids.filter((p) => p > 0);
}

/** cleanup stops and removes every pod carrying the benchmark's label (best effort). */
async function cleanup(c: BenchClient): Promise<number> {
  let n = 0;
  try {
    const { items } = await c.call<{ items: { id: string }[] }>('ListPodSandbox', { filter: { label_selector: { [LABEL]: '1' } } });
    for (const p of items) {
      await c.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
      await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
      n++;
    }
  } catch (e) {
    console.error(`cleanup: ListPodSandbox: ${String(e)}`);
  }
  return n;
}

interface Opts {
  socket: string;
  label: string;
  daemonPid: number;
  markers: string[];
  rounds: number;
  pods: number;
  execs: number;
  image: string;
  stopTimeout: number;
  settleMs: number;
  out: string;
  logRoot: string;
  /** systemdSlices: each pod gets the cgroup parent a systemd-driver kubelet sends (sleeper.ts podSlicePath). */
  systemdSlices: boolean;
  /** skip holds optional verbs found UNIMPLEMENTED; notes says so in the report. */
  skip: Set<string>;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(o: Opts): Promise<RunResult> {
  const c = connect(o.socket);
  const res: RunResult = {
    label: o.label, runtime: '?', socket: o.socket, daemonPid: o.daemonPid, rounds: o.rounds, pods: o.pods,
    image: o.image, samples: {}, date: new Date().toISOString(),
  };
  const rec = (verb: string, ms: number) => (res.samples[verb] ??= []).push(ms);
  try {
    const v = await c.call<{ runtime_name: string; runtime_version: string }>('Version', {});
    res.runtime = `${v.runtime_name} ${v.runtime_version}`;
    const stale = await cleanup(c);
    if (stale) console.error(`[${o.label}] removed ${stale} pod(s) left by an earlier run`);
    console.error(`[${o.label}] ${res.runtime}: pulling ${o.image}`);
    await c.call('PullImage', { image: { image: o.image } }, { image: true, deadlineMs: 300_000 });
    res.memStart = measureRuntime(o.daemonPid, o.markers);
    console.error(`[${o.label}] warm-up round`);
    await lifecycle(c, `warmup-${process.pid}`, o, () => undefined, async (id) => {
      const st = await c.call<{ status: { network: { ip: string } | null } }>('PodSandboxStatus', { pod_sandbox_id: id });
      res.podIp = st.status.network?.ip ?? '';
      if (!res.podIp) o.notes.push(`${o.label}: the warm-up pod got no IP (is CNI working?)`);
    });
    const load0 = loadavg()[0]!;
    for (let i = 1; i <= o.rounds; i++) {
      await lifecycle(c, `round-${i}-${process.pid}`, o, rec);
      if (i % 5 === 0 || i === o.rounds) console.error(`[${o.label}] ${i}/${o.rounds} rounds`);
    }
    res.load = [load0, loadavg()[0]!];
    await sleep(o.settleMs);
    res.memIdle = measureRuntime(o.daemonPid, o.markers);
    if (o.pods > 0) {
      console.error(`[${o.label}] starting ${o.pods} pods for the memory measurement`);
      for (let i = 1; i <= o.pods; i++) {
        const pod = podConfig(`mem-${i}-${process.pid}`, o);
        const { pod_sandbox_id } = await c.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
        const { container_id } = await c.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id, config: ctrConfig(o.image), sandbox_config: pod });
        await c.call('StartContainer', { container_id });
      }
      await sleep(o.settleMs);
      const pids = await statusPids(c);
      if (pids.length !== 2 * o.pods) o.notes.push(`${o.label}: verbose status gave ${pids.length} pids for ${o.pods} pods + ${o.pods} containers`);
      res.memLoaded = measureRuntime(o.daemonPid, o.markers, pids);
    }
  } catch (e) {
    if (e instanceof RpcError && e.codeName === 'UNIMPLEMENTED') {
      res.error = `${o.label} does not implement ${e.method} yet (UNIMPLEMENTED): no numbers for this runtime`;
    } else {
      res.error = `${o.label}: ${e instanceof Error ? e.message : String(e)}`;
    }
    console.error(`[${o.label}] ERROR: ${res.error}`);
  } finally {
    const n = await cleanup(c);
    console.error(`[${o.label}] removed ${n} benchmark pod(s)`);
    c.close();
    rmSync(o.logRoot, { recursive: true, force: true });
  }
  if (o.notes.length) res.notes = o.notes;
  return res;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'report') {
    if (!rest.length) throw new Error('usage: report A.json [B.json ...]');
    printReport(rest.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunResult));
    return 0;
  }
  if (cmd !== 'run') throw new Error('usage: lifecycle.js run --socket S --label L --daemon-pid P --marker M ... | report FILES');
  const { values: v } = parseArgs({
    args: rest,
    options: {
      socket: { type: 'string' }, label: { type: 'string' }, 'daemon-pid': { type: 'string' },
      marker: { type: 'string', multiple: true, default: [] }, rounds: { type: 'string', default: '20' },
      pods: { type: 'string', default: '10' }, execs: { type: 'string', default: '1' },
      image: { type: 'string', default: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
      'stop-timeout': { type: 'string', default: '10' }, settle: { type: 'string', default: '3' },
      out: { type: 'string' }, 'systemd-slices': { type: 'boolean', default: false },
    },
  });
  if (!v.socket || !v.label || !v['daemon-pid']) throw new Error('run needs --socket, --label and --daemon-pid');
  const o: Opts = {
    socket: v.socket, label: v.label, daemonPid: Number(v['daemon-pid']), markers: v.marker,
    rounds: Number(v.rounds), pods: Number(v.pods), execs: Number(v.execs), image: v.image,
    stopTimeout: Number(v['stop-timeout']), settleMs: Number(v.settle) * 1000,
    out: v.out ?? join(tmpdir(), `bench-${v.label}.json`), logRoot: join(tmpdir(), `fune-bench-logs-${process.pid}`),
    skip: new Set(), notes: [], systemdSlices: v['systemd-slices'],
  };
  if (!(o.rounds >= 1) || !(o.pods >= 0) || !(o.execs >= 1)) throw new Error('--rounds and --execs must be >= 1, --pods >= 0');
  const res = await run(o);
  writeFileSync(o.out, JSON.stringify(res, null, 2) + '\n');
  return res.error ? 3 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
  },
);

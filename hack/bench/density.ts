// Node density benchmark driver (see hack/bench/README.md; hack/bench/density.sh runs it against both runtimes).
//
//   node dist/hack/bench/density.js run --socket S --label NAME --daemon-pid PID --marker M [--marker M2]
//        [--pods 110,250] [--clients 10] [--relist 60] [--image IMG] [--stop-timeout 10] [--settle 3] [--out F.json]
//   node dist/hack/bench/density.js report A.json B.json
//
// `run` brings one runtime to each pod count in turn (one busybox `sleep` container per pod), started by
// `--clients` concurrent workers over one connection the way the kubelet's pod workers call the runtime
// (RunPodSandbox, PodSandboxStatus, ImageStatus, CreateContainer, StartContainer), and times until ListContainers
// shows every container running. At each count it measures the runtime's memory and then runs the kubelet's relist
// (ListPodSandbox, ListContainers, ContainerStatus per container) once a second for `--relist` seconds with the
// daemon's CPU time (utime+stime from /proc/PID/stat). Then it removes every pod from the same workers (StopContainer,
// RemoveContainer, StopPodSandbox, RemovePodSandbox) and times that. fds, helper processes, mounts, network
// namespaces and cgroups are counted before the first pod and after the last removal. `report` prints a table and
// one line per figure: `<figure> fune=<v> containerd=<v> ratio=<r>x`.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type BenchClient } from './cri-client.js';
import { sleeperContainer, sleeperPod } from './sleeper.js';
import { classify, distinctPagesKb, measureRuntime, type MemSample } from './procmem.js';
import { median, p90 } from './report.js';

const LABEL = 'fune-density';

/** MemAt is the runtime's memory at one pod count. */
interface MemAt {
  pods: number;
  sample: MemSample;
  /** withInfraKb: distinct pages of daemon + helpers + the pods' infra processes (pause, catatonit). */
  withInfraKb: number;
  infraCount: number;
}

/** Step is one pod count reached. */
interface Step {
  pods: number;
  /** startMs: wall time from the first request of this step until ListContainers showed every container running. */
  startMs: number;
  /** cumulativeMs: startMs summed over this and the earlier steps (the time to this many running from none). */
  cumulativeMs: number;
  failed: number;
  mem?: MemAt;
  relist?: { count: number; cpuMs: number; childCpuMs: number; wallMs: number[]; seconds: number };
  load: number[];
  /**
   * cpu: CPU time spent while this step's pods started: the daemon's own (utime+stime), what it reaped of the
   * programs it ran itself (CNI plugins, fune's `runc start`, the parent half of each conmon or shim: the daemonized
   * conmons and shims and the runc they run count only in the host's figure), and
   * the whole host's busy time from /proc/stat (all cores: the runtime's helpers, the kernel, and anything else
   * running on the host, so it is a fair per-pod cost only on a quiet host).
   */
  cpu?: { daemonMs: number; childrenMs: number; hostBusyMs: number };
}

/** Leaks is what is counted before and after (each a set, so the report can name what is new). */
interface Leaks {
  fds: number;
  helpers: number;
  procs: Record<string, number>;
  mounts: string[];
  netns: string[];
  cgroups: string[];
}

export interface DensityResult {
  label: string;
  runtime: string;
  date: string;
  image: string;
  clients: number;
  podCounts: number[];
  relistSeconds: number;
  rssStartKb?: number;
  memZero?: MemAt;
  memAfter?: MemAt;
  steps: Step[];
  samples: Record<string, number[]>;
  removeAllMs?: number;
  removeFailed?: number;
  leaksBefore?: Leaks;
  leaksAfter?: Leaks;
  /** ids: every pod sandbox and container id the run made, to tell its leftovers from what other processes made. */
  ids?: string[];
  /** load: [seconds since start, 1-minute load average] every 5 s. */
  load: [number, number][];
  errors: string[];
}

interface Opts {
  socket: string;
  label: string;
  daemonPid: number;
  markers: string[];
  pods: number[];
  clients: number;
  relist: number;
  image: string;
  stopTimeout: number;
  settleMs: number;
  out: string;
  logRoot: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const HZ = 100; // USER_HZ on Linux

function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after the comm: state(3) ... utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid(1) comm(2)
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

/** hostBusyTicks is the busy time of all cores since boot (user+nice+system+irq+softirq+steal, not idle or iowait). */
function hostBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
}

function rssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function walkDirs(dir: string, out: string[], depth = 0): void {
  let ents;
  try {
    ents = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of ents) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    out.push(p);
    if (depth < 12) walkDirs(p, out, depth + 1);
  }
}

function leakCount(o: Opts): Leaks {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n');
  const mounts: string[] = [];
  const netns: string[] = [];
  for (const l of mountinfo) {
    const f = l.split(' ');
    const fstype = f[f.indexOf('-') + 1];
    if (fstype === 'nsfs') netns.push(f[4]!);
    else mounts.push(f[4]!);
  }
  const cgroups: string[] = [];
  walkDirs('/sys/fs/cgroup', cgroups);
  const c = classify(o.daemonPid, o.markers);
  const procs: Record<string, number> = {};
  for (const p of c.procs.values()) {
    if (['conmon', 'containerd-shim-runc-v2', 'catatonit', 'pause', 'runc', 'sleep'].includes(p.name)) procs[p.name] = (procs[p.name] ?? 0) + 1;
  }
  return { fds: readdirSync(`/proc/${o.daemonPid}/fd`).length, helpers: c.helpers.size, procs, mounts, netns, cgroups };
}

function podConfig(name: string, o: Opts): object {
  return sleeperPod(name, o.logRoot, 'fune-density', LABEL);
}

function ctrConfig(image: string): object {
  return sleeperContainer(image, LABEL);
}

interface Pod {
  id: string;
  ctr: string;
}

/** pool runs `work` for every item from `n` concurrent workers. */
async function pool<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const pidOf = (info: Record<string, string> | undefined): number => {
  try {
    return Number((JSON.parse(info?.info ?? '{}') as { pid?: number }).pid ?? 0);
  } catch {
    return 0;
  }
};

async function memAt(c: BenchClient, o: Opts, pods: Pod[]): Promise<MemAt> {
  const infra: number[] = [];
  const ctrs: number[] = [];
  for (const p of pods) {
    infra.push(pidOf((await c.call<{ info: Record<string, string> }>('PodSandboxStatus', { pod_sandbox_id: p.id, verbose: true })).info));
    ctrs.push(pidOf((await c.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: p.ctr, verbose: true })).info));
  }
  const infraPids = infra.filter((p) => p > 0);
  const sample = measureRuntime(o.daemonPid, o.markers, [...infraPids, ...ctrs.filter((p) => p > 0)]);
  const { helpers } = classify(o.daemonPid, o.markers);
  return { pods: pods.length, sample, withInfraKb: distinctPagesKb([o.daemonPid, ...helpers, ...infraPids]), infraCount: infraPids.length };
}

async function relist(c: BenchClient, o: Opts): Promise<NonNullable<Step['relist']>> {
  const wallMs: number[] = [];
  const cpu0 = cpuTicks(o.daemonPid);
  const t0 = now();
  for (let i = 0; i < o.relist; i++) {
    const due = t0 + i * 1000;
    if (now() < due) await sleep(due - now());
    const s = now();
    await c.call('ListPodSandbox', {});
    const { containers } = await c.call<{ containers: { id: string }[] }>('ListContainers', {});
    for (const k of containers) await c.call('ContainerStatus', { container_id: k.id });
    wallMs.push(now() - s);
  }
  // the last relist's second, so that the CPU window is relist seconds long for both runtimes
  const end = t0 + o.relist * 1000;
  if (now() < end) await sleep(end - now());
  const cpu1 = cpuTicks(o.daemonPid);
  return {
    count: wallMs.length, seconds: (now() - t0) / 1000, wallMs,
    cpuMs: ((cpu1.self - cpu0.self) * 1000) / HZ, childCpuMs: ((cpu1.children - cpu0.children) * 1000) / HZ,
  };
}

async function cleanup(c: BenchClient): Promise<number> {
  let n = 0;
  try {
    const { items } = await c.call<{ items: { id: string }[] }>('ListPodSandbox', { filter: { label_selector: { [LABEL]: '1' } } });
    await pool(items, 10, async (p) => {
      await c.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
      await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
      n++;
    });
  } catch (e) {
    console.error(`cleanup: ListPodSandbox: ${String(e)}`);
  }
  return n;
}

async function run(o: Opts): Promise<DensityResult> {
  const c = connect(o.socket);
  const t00 = now();
  const res: DensityResult = {
    label: o.label, runtime: '?', date: new Date().toISOString(), image: o.image, clients: o.clients, podCounts: o.pods,
    relistSeconds: o.relist, steps: [], samples: {}, load: [], errors: [],
  };
  const loadTimer = setInterval(() => res.load.push([Math.round((now() - t00) / 1000), loadavg()[0]!]), 5000);
  res.load.push([0, loadavg()[0]!]);
  const rec = (k: string, ms: number) => (res.samples[k] ??= []).push(ms);
  const err = (m: string) => {
    if (res.errors.length < 20) res.errors.push(m);
    console.error(`[${o.label}] ERROR: ${m}`);
  };
  const pods: Pod[] = [];
  const ids: string[] = (res.ids = []);
  try {
    const v = await c.call<{ runtime_name: string; runtime_version: string }>('Version', {});
    res.runtime = `${v.runtime_name} ${v.runtime_version}`;
    await sleep(o.settleMs);
    res.rssStartKb = rssKb(o.daemonPid);
    const stale = await cleanup(c);
    if (stale) console.error(`[${o.label}] removed ${stale} pod(s) left by an earlier run`);
    console.error(`[${o.label}] ${res.runtime}: pulling ${o.image}`);
    await c.call('PullImage', { image: { image: o.image } }, { image: true, deadlineMs: 300_000 });
    // one warm-up pod, so that what the first pod loads or opens once is not counted as a leak
    {
      const cfg = podConfig(`warmup-${process.pid}`, o);
      const { pod_sandbox_id: id } = await c.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
      const { container_id } = await c.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: id, config: ctrConfig(o.image), sandbox_config: cfg });
      ids.push(id, container_id);
      await c.call('StartContainer', { container_id });
      await c.call('StopContainer', { container_id, timeout: o.stopTimeout });
      await c.call('RemoveContainer', { container_id });
      await c.call('StopPodSandbox', { pod_sandbox_id: id });
      await c.call('RemovePodSandbox', { pod_sandbox_id: id });
    }
    await sleep(o.settleMs);
    res.leaksBefore = leakCount(o);
    res.memZero = await memAt(c, o, []);

    let cumulative = 0;
    let made = 0;
    for (const target of o.pods) {
      const names = Array.from({ length: Math.max(0, target - made) }, (_, i) => `d-${made + i + 1}-${process.pid}`);
      made = Math.max(made, target);
      console.error(`[${o.label}] starting ${names.length} pods (to ${target}) from ${o.clients} workers`);
      const l0 = loadavg()[0]!;
      const cpu0 = cpuTicks(o.daemonPid);
      const host0 = hostBusyTicks();
      const t0 = now();
      let failed = 0;
      await pool(names, o.clients, async (name) => {
        const cfg = podConfig(name, o);
        try {
          const r1 = await c.timed<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
          rec('RunPodSandbox', r1.ms);
          const id = r1.res.pod_sandbox_id;
          ids.push(id);
          await c.call('PodSandboxStatus', { pod_sandbox_id: id });
          await c.call('ImageStatus', { image: { image: o.image } }, { image: true });
          const r2 = await c.timed<{ container_id: string }>('CreateContainer', { pod_sandbox_id: id, config: ctrConfig(o.image), sandbox_config: cfg });
          rec('CreateContainer', r2.ms);
          ids.push(r2.res.container_id);
          const r3 = await c.timed('StartContainer', { container_id: r2.res.container_id });
          rec('StartContainer', r3.ms);
          rec('Create+StartContainer', r2.ms + r3.ms);
          pods.push({ id, ctr: r2.res.container_id });
        } catch (e) {
          failed++;
          err(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
      // until ListContainers shows every container running
      for (;;) {
        const { containers } = await c.call<{ containers: { state: string }[] }>('ListContainers', {
          filter: { label_selector: { [LABEL]: '1' } },
        });
        if (containers.filter((k) => k.state === 'CONTAINER_RUNNING').length >= pods.length || now() - t0 > 600_000) break;
        await sleep(20);
      }
      const startMs = now() - t0;
      const cpu1 = cpuTicks(o.daemonPid);
      const cpu = {
        daemonMs: ((cpu1.self - cpu0.self) * 1000) / HZ, childrenMs: ((cpu1.children - cpu0.children) * 1000) / HZ,
        hostBusyMs: ((hostBusyTicks() - host0) * 1000) / HZ,
      };
      cumulative += startMs;
      const step: Step = { pods: pods.length, startMs, cumulativeMs: cumulative, failed, load: [l0, loadavg()[0]!], cpu };
      res.steps.push(step);
      console.error(`[${o.label}] ${pods.length} running after ${(startMs / 1000).toFixed(1)} s (${failed} failed)`);
      await sleep(o.settleMs);
      step.mem = await memAt(c, o, pods);
      if (o.relist > 0) {
        console.error(`[${o.label}] relist once a second for ${o.relist} s`);
        step.relist = await relist(c, o);
      }
    }

    console.error(`[${o.label}] removing ${pods.length} pods`);
    const t0 = now();
    let failed = 0;
    await pool([...pods], o.clients, async (p) => {
      try {
        const r1 = await c.timed('StopContainer', { container_id: p.ctr, timeout: o.stopTimeout });
        rec('StopContainer', r1.ms);
        const r2 = await c.timed('RemoveContainer', { container_id: p.ctr });
        rec('RemoveContainer', r2.ms);
        rec('Stop+RemoveContainer', r1.ms + r2.ms);
        rec('StopPodSandbox', (await c.timed('StopPodSandbox', { pod_sandbox_id: p.id })).ms);
        rec('RemovePodSandbox', (await c.timed('RemovePodSandbox', { pod_sandbox_id: p.id })).ms);
        pods.splice(pods.indexOf(p), 1);
      } catch (e) {
        failed++;
        err(`remove ${p.id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    res.removeAllMs = now() - t0;
    res.removeFailed = failed;
    console.error(`[${o.label}] removed in ${(res.removeAllMs / 1000).toFixed(1)} s`);
    await sleep(o.settleMs);
    res.memAfter = await memAt(c, o, []);
    res.leaksAfter = leakCount(o);
  } catch (e) {
    err(e instanceof Error ? e.message : String(e));
  } finally {
    clearInterval(loadTimer);
    const n = await cleanup(c);
    if (n) console.error(`[${o.label}] cleanup removed ${n} pod(s)`);
    c.close();
    rmSync(o.logRoot, { recursive: true, force: true });
  }
  return res;
}

// ---- report ----

const mib = (kb: number | undefined) => (kb === undefined ? NaN : kb / 1024);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function diff(a: string[] | undefined, b: string[] | undefined): string[] {
  if (!a || !b) return [];
  const s = new Set(a);
  return b.filter((x) => !s.has(x));
}

function leakLine(r: DensityResult): string {
  const a = r.leaksBefore;
  const b = r.leaksAfter;
  if (!a || !b) return `${r.label}: no leak counts (the run did not finish)`;
  const procs = [...new Set([...Object.keys(a.procs), ...Object.keys(b.procs)])].map((k) => `${k} ${a.procs[k] ?? 0}->${b.procs[k] ?? 0}`);
  const parts = [
    `fds ${a.fds}->${b.fds}`, `helpers ${a.helpers}->${b.helpers}`, ...procs,
    `mounts ${a.mounts.length}->${b.mounts.length} (+${diff(a.mounts, b.mounts).length} new)`,
    `netns ${a.netns.length}->${b.netns.length} (+${diff(a.netns, b.netns).length} new)`,
    `cgroups ${a.cgroups.length}->${b.cgroups.length} (+${diff(a.cgroups, b.cgroups).length} new)`,
  ];
  let s = `${r.label}: ${parts.join(', ')}`;
  // The counts are host-wide (other processes on a shared host make and remove cgroups and mounts too): a new entry
  // that names one of the run's pod or container ids is the runtime's; the rest are listed apart.
  const news = [...diff(a.mounts, b.mounts), ...diff(a.netns, b.netns), ...diff(a.cgroups, b.cgroups)];
  const ids = r.ids ?? [];
  const ours = news.filter((p) => ids.some((id) => p.includes(id)));
  const others = news.filter((p) => !ours.includes(p));
  const list = (xs: string[]) => `${xs.slice(0, 8).join(' ')}${xs.length > 8 ? ' …' : ''}`;
  if (r.ids) s += `\n    new entries naming a pod or container of the run: ${ours.length}${ours.length ? `: ${list(ours)}` : ''}`;
  if (others.length) s += `\n    new entries naming none of them (other processes on the host?): ${list(others)}`;
  return s;
}

/** Figure is one line of the summary: name, a value per runtime (lower is better for all of them), the target. */
interface Figure {
  name: string;
  get: (r: DensityResult) => number;
  digits: number;
  target?: number;
  /** funeAtMost is a target on fune's own value rather than on the ratio (the idle daemon's RSS). */
  funeAtMost?: { value: number; unit: string };
}

function figures(counts: number[]): Figure[] {
  const step = (r: DensityResult, n: number) => r.steps.find((s) => s.pods === n);
  const f: Figure[] = [];
  for (const n of counts) f.push({ name: `time to ${n} running (s)`, get: (r) => (step(r, n)?.cumulativeMs ?? NaN) / 1000, digits: 1, target: 0.8 });
  f.push({ name: 'runtime memory at 0 pods (MiB, distinct pages)', get: (r) => mib(r.memZero?.withInfraKb), digits: 1 });
  for (const n of counts) {
    f.push({ name: `runtime memory at ${n} pods (MiB, distinct pages)`, get: (r) => mib(step(r, n)?.mem?.withInfraKb), digits: 1, target: n === 110 ? 0.5 : undefined });
  }
  for (const n of counts) {
    f.push({
      name: `daemon CPU per relist at ${n} pods (ms)`,
      get: (r) => { const x = step(r, n)?.relist; return x ? x.cpuMs / x.count : NaN; }, digits: 2, target: 1.0,
    });
  }
  const med = (k: string) => (r: DensityResult) => median(r.samples[k] ?? []);
  f.push({ name: 'StartContainer median (ms)', get: med('StartContainer'), digits: 1, target: 0.9 });
  f.push({ name: 'Create+Start median (ms)', get: med('Create+StartContainer'), digits: 1, target: 0.9 });
  f.push({ name: 'RemoveContainer median (ms)', get: med('RemoveContainer'), digits: 1, target: 1.0 });
  f.push({ name: 'time to remove all (s)', get: (r) => (r.removeAllMs ?? NaN) / 1000, digits: 1 });
  f.push({ name: 'idle daemon RSS at start (MiB)', get: (r) => mib(r.rssStartKb), digits: 1, funeAtMost: { value: 60, unit: 'MiB' } });
  f.push({ name: 'idle daemon RSS after the run (MiB)', get: (r) => mib(r.memAfter?.sample.daemon.rssKb), digits: 1 });
  return f;
}

/**
 * report prints the tables of every run (ROUNDS > 1 gives each runtime several, alternated in order so that neither
 * runtime always meets the host's later or earlier load) and then one line per figure: each runtime's value is the
 * median of its runs' values (with two runs, their mean), each run's own value after it.
 */
function report(rs: DensityResult[]): void {
  const funes = rs.filter((r) => r.label === 'fune');
  const ctds = rs.filter((r) => r.label === 'containerd');
  const rounds = Math.max(funes.length, ctds.length);
  // The tables: containerd's and fune's run of each round side by side.
  const cols: DensityResult[] = [];
  for (let i = 0; i < rounds; i++) cols.push(...[ctds[i], funes[i]].filter((r): r is DensityResult => !!r));
  const colName = (r: DensityResult) => (rounds > 1 ? `${r.label} #${(r.label === 'fune' ? funes : ctds).indexOf(r) + 1}` : r.label);
  const W0 = 46;
  const W = 24;
  const row = (name: string, cells: string[]) => console.log(name.padEnd(W0) + cells.map((c) => c.padEnd(W)).join(''));
  console.log(`Density benchmark (${cols[0]?.date ?? '?'}): one busybox sleep container per pod, ${cols[0]?.clients ?? '?'} workers, relist ${cols[0]?.relistSeconds ?? '?'} s`);
  row('', cols.map(colName));
  row('runtime', cols.map((r) => r.runtime));
  const lo = (r: DensityResult) => {
    const xs = r.load.map((x) => x[1]);
    return xs.length ? `${fmt(Math.min(...xs), 2)}-${fmt(Math.max(...xs), 2)} (mean ${fmt(xs.reduce((a, b) => a + b, 0) / xs.length, 2)})` : 'n/a';
  };
  row('host load average (1 min) during the run', cols.map(lo));
  const counts = cols[0]?.podCounts ?? [];
  for (const n of counts) {
    const s = (r: DensityResult) => r.steps.find((x) => x.pods === n);
    console.log(`\nat ${n} pods`);
    row('  this step until all running (s)', cols.map((r) => fmt((s(r)?.startMs ?? NaN) / 1000)));
    row('  failed pod starts', cols.map((r) => String(s(r)?.failed ?? 'n/a')));
    row('  CPU/pod: host / daemon / children (ms)', cols.map((r) => {
      const x = s(r);
      const prev = r.steps[r.steps.indexOf(x!) - 1]?.pods ?? 0;
      const k = x ? x.pods - prev : 0;
      return x?.cpu && k > 0 ? `${fmt(x.cpu.hostBusyMs / k)} / ${fmt(x.cpu.daemonMs / k)} / ${fmt(x.cpu.childrenMs / k)}` : 'n/a';
    }));
    row('  daemon RSS / PSS / USS (MiB)', cols.map((r) => { const m = s(r)?.mem?.sample.daemon; return m ? `${fmt(mib(m.rssKb))} / ${fmt(mib(m.pssKb))} / ${fmt(mib(m.ussKb))}` : 'n/a'; }));
    row('  helpers RSS / PSS / USS (MiB)', cols.map((r) => { const m = s(r)?.mem?.sample.helpers; return m ? `${fmt(mib(m.rssKb))} / ${fmt(mib(m.pssKb))} / ${fmt(mib(m.ussKb))}` : 'n/a'; }));
    row('  helper processes', cols.map((r) => Object.entries(s(r)?.mem?.sample.helpers.names ?? {}).map(([k, v]) => `${v} ${k}`).join(' ') || 'none'));
    row('  daemon+helpers distinct pages (MiB)', cols.map((r) => fmt(mib(s(r)?.mem?.sample.runtimeSetKb))));
    row('  + infra processes, distinct (MiB)', cols.map((r) => { const m = s(r)?.mem; return m ? `${fmt(mib(m.withInfraKb))} (${m.infraCount} infra)` : 'n/a'; }));
    row('  relist wall median / p90 (ms)', cols.map((r) => { const x = s(r)?.relist; return x ? `${fmt(median(x.wallMs))} / ${fmt(p90(x.wallMs))}` : 'n/a'; }));
    row('  daemon CPU per relist self / children (ms)', cols.map((r) => { const x = s(r)?.relist; return x ? `${fmt(x.cpuMs / x.count, 2)} / ${fmt(x.childCpuMs / x.count, 2)}` : 'n/a'; }));
  }
  console.log('\nper call under load (median / p90 ms, n)');
  for (const k of ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'Create+StartContainer', 'StopContainer', 'RemoveContainer', 'Stop+RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox']) {
    row(`  ${k}`, cols.map((r) => { const xs = r.samples[k] ?? []; return `${fmt(median(xs))} / ${fmt(p90(xs))} (${xs.length})`; }));
  }
  console.log('\nleaks (before the first pod -> after the last removal)');
  for (const r of cols) console.log(`  ${leakLine(r)}`);
  for (const r of cols) for (const e of r.errors) console.log(`  ERROR ${r.label}: ${e}`);
  console.log('');
  const of = (runs: DensityResult[], get: (r: DensityResult) => number) => (runs.length ? median(runs.map(get)) : NaN);
  const verdict = (v: number, at: number) => (Number.isFinite(v) ? (v <= at ? 'met' : 'MISSED') : 'n/a');
  for (const f of figures(counts)) {
    const a = of(funes, f.get);
    const b = of(ctds, f.get);
    const ratio = a / b;
    const tgt = f.target !== undefined ? `  (target <= ${f.target}x: ${verdict(ratio, f.target)})`
      : f.funeAtMost ? `  (target fune <= ${f.funeAtMost.value} ${f.funeAtMost.unit}: ${verdict(a, f.funeAtMost.value)})` : '';
    const each = rounds > 1 ? `  [runs: fune ${funes.map((r) => fmt(f.get(r), f.digits)).join(' / ')}; containerd ${ctds.map((r) => fmt(f.get(r), f.digits)).join(' / ')}]` : '';
    console.log(`${f.name} fune=${fmt(a, f.digits)} containerd=${fmt(b, f.digits)} ratio=${fmt(ratio, 2)}x${tgt}${each}`);
  }
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'report') {
    report(rest.map((f) => JSON.parse(readFileSync(f, 'utf8')) as DensityResult));
    return 0;
  }
  if (cmd !== 'run') throw new Error('usage: density.js run --socket S --label L --daemon-pid P --marker M ... | report A.json B.json');
  const { values: v } = parseArgs({
    args: rest,
    options: {
      socket: { type: 'string' }, label: { type: 'string' }, 'daemon-pid': { type: 'string' },
      marker: { type: 'string', multiple: true, default: [] }, pods: { type: 'string', default: '110,250' },
      clients: { type: 'string', default: '10' }, relist: { type: 'string', default: '60' },
      image: { type: 'string', default: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
      'stop-timeout': { type: 'string', default: '10' }, settle: { type: 'string', default: '3' }, out: { type: 'string' },
    },
  });
  if (!v.socket || !v.label || !v['daemon-pid']) throw new Error('run needs --socket, --label and --daemon-pid');
  const pods = v.pods.split(',').map(Number);
  if (pods.some((n) => !(n >= 1)) || pods.some((n, i) => i > 0 && n <= pods[i - 1]!)) throw new Error('--pods: increasing counts, e.g. 110,250');
  const o: Opts = {
    socket: v.socket, label: v.label, daemonPid: Number(v['daemon-pid']), markers: v.marker, pods,
    clients: Number(v.clients), relist: Number(v.relist), image: v.image, stopTimeout: Number(v['stop-timeout']),
    settleMs: Number(v.settle) * 1000, out: v.out ?? join(tmpdir(), `density-${v.label}.json`),
    logRoot: join(tmpdir(), `fune-density-logs-${process.pid}`),
  };
  const res = await run(o);
  writeFileSync(o.out, JSON.stringify(res) + '\n');
  return res.errors.length ? 3 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
  },
);

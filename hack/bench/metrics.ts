// The cost of fune's metrics: daemon CPU per Prometheus scrape of `/metrics` and per ListPodSandboxMetrics call
// (the kubelet's /metrics/cadvisor path) with PODS pods running, from the daemon's own utime+stime in
// /proc/<pid>/stat before and after N calls (the idle rate over the same time subtracted); and the idle daemon's
// RSS with `[metrics]` off and on. fune only: containerd's endpoint exports other things (its task cgroups) and
// containerd 1.6 has no ListPodSandboxMetrics. Run by hack/bench/metrics.sh; prints a report.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { busyboxImage, ociArchive } from '../test-images.js';
import { connect, type BenchClient } from './cri-client.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const IMAGE = 'registry.fune.test/fune/busybox:latest';
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const PODS = env('PODS', 50);
const SCRAPES = env('SCRAPES', 200);
const LISTS = env('LISTS', 100);
const RSS_ROUNDS = env('RSS_ROUNDS', 3);
const BRIDGE = process.env.BRIDGE ?? 'funebench0';
const SUBNET = process.env.SUBNET ?? '10.213.0.0/16';
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** cpuMs is a process's utime+stime in milliseconds. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}
const rssKb = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

interface Daemon {
  pid: number;
  proc: ChildProcess;
  dir: string;
  socket: string;
  metricsUrl?: string;
  stop(): Promise<void>;
}

/** start runs fune as `npm start` does (same node flags) on private dirs, with the bench's own CNI network. */
async function start(metrics: boolean): Promise<Daemon> {
  const dir = mkdtempSync('/tmp/fune-bench-metrics-');
  mkdirSync(join(dir, 'cni'));
  const conf = { cniVersion: '1.0.0', name: 'funebench', plugins: [{ type: 'bridge', bridge: BRIDGE, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: join(dir, 'ipam') } }] };
  writeFileSync(join(dir, 'cni', '10-bench.conflist'), JSON.stringify(conf));
  writeFileSync(join(dir, 'config.toml'), `[cni]\nconf_dir = "${join(dir, 'cni')}"\n${metrics ? '[metrics]\naddress = "127.0.0.1:0"\n' : ''}`);
  const extra = (process.env.DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, ['--max-semi-space-size=1', '--v8-pool-size=1', ...extra, MAIN, 'daemon', '--config', join(dir, 'config.toml'), '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  for (let i = 0; !log.includes('fune is ready'); i++) {
    if (proc.exitCode !== null || i > 600) throw new Error(`fune did not start:\n${log}`);
    await sleep(50);
  }
  const line = log.split('\n').find((l) => l.includes('metrics server listening'));
  return {
    pid: proc.pid!, proc, dir, socket: join(dir, 'state', 'fune.sock'),
    metricsUrl: line ? (JSON.parse(line) as { url: string }).url : undefined,
    async stop() {
      process.kill(proc.pid!, 'SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function importImage(state: string): Promise<void> {
  const body = await ociArchive([{ ref: IMAGE, image: await busyboxImage({ cmd: ['sh'] }) }]);
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: join(state, 'fune-admin.sock'), path: '/v1/images/import', method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function scrape(url: string): Promise<number> {
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`scrape: HTTP ${r.status}`);
  return (await r.text()).length;
}

/** measure gives the daemon's CPU and the wall time per call of `n` sequential calls, less its idle CPU rate. */
async function measure(pid: number, n: number, idleMsPerS: number, call: () => Promise<unknown>) {
  await call(); // warm-up
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  const wall = performance.now() - t0;
  const cpu = cpuMs(pid) - c0 - (idleMsPerS * wall) / 1000;
  return { cpuPerCall: cpu / n, wallPerCall: wall / n };
}

async function idleRate(pid: number, ms = 5000): Promise<number> {
  const c0 = cpuMs(pid);
  await sleep(ms);
  return ((cpuMs(pid) - c0) * 1000) / ms;
}

async function withPods(c: BenchClient, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const config = { metadata: { name: `bench-${i}`, namespace: 'bench', uid: `uid-bench-${i}-${process.pid}`, attempt: 0 }, hostname: `bench-${i}`, log_directory: '', linux: {} };
    const { pod_sandbox_id } = await c.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config });
    const ctr = { metadata: { name: 'sleep', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '100000'], linux: {} };
    const { container_id } = await c.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id, config: ctr, sandbox_config: config });
    await c.call('StartContainer', { container_id });
    ids.push(pod_sandbox_id);
  }
  return ids;
}

async function removePods(c: BenchClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    await c.call('StopPodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
    await c.call('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (n: number, d = 2) => n.toFixed(d);

async function main(): Promise<void> {
  const lines: string[] = [`fune metrics cost — ${new Date().toISOString()}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, node ${process.version}`];
  // Idle RSS, metrics off and on, alternating; each daemon idle 5 s after ready, no pods.
  const rss: Record<'off' | 'on' | 'onScraped', number[]> = { off: [], on: [], onScraped: [] };
  for (let i = 0; i < RSS_ROUNDS; i++) {
    for (const on of [false, true]) {
      const d = await start(on);
      try {
        await sleep(5000);
        rss[on ? 'on' : 'off'].push(rssKb(d.pid));
        if (on) {
          for (let k = 0; k < 10; k++) await scrape(d.metricsUrl!);
          await sleep(1000);
          rss.onScraped.push(rssKb(d.pid));
        }
      } finally {
        await d.stop();
      }
    }
  }
  lines.push('', `idle daemon RSS (median of ${RSS_ROUNDS}, 5 s after ready, no pods; MiB):`);
  lines.push(`  [metrics] off        ${f(median(rss.off) / 1024, 1)}   (${rss.off.map((k) => f(k / 1024, 1)).join(', ')})`);
  lines.push(`  [metrics] on         ${f(median(rss.on) / 1024, 1)}   (${rss.on.map((k) => f(k / 1024, 1)).join(', ')})`);
  lines.push(`  on, after 10 scrapes ${f(median(rss.onScraped) / 1024, 1)}   (${rss.onScraped.map((k) => f(k / 1024, 1)).join(', ')})`);
  lines.push(`  cost of prom-client: ${f((median(rss.on) - median(rss.off)) / 1024, 1)} MiB idle, ${f((median(rss.onScraped) - median(rss.off)) / 1024, 1)} MiB once scraped`);

  const d = await start(true);
  const c = connect(d.socket);
  let ids: string[] = [];
  try {
    await importImage(join(d.dir, 'state'));
    const t0 = performance.now();
    ids = await withPods(c, PODS);
    lines.push('', `${PODS} pods with one busybox sleep container each (made in ${f((performance.now() - t0) / 1000, 1)} s), bridge ${BRIDGE}`);
    await sleep(3000);
    const idle = await idleRate(d.pid);
    lines.push(`daemon idle CPU with the pods: ${f(idle, 2)} ms/s (subtracted below)`, '');
    const url = d.metricsUrl!;
    const bytes = await scrape(url);
    const sc = await measure(d.pid, SCRAPES, idle, () => scrape(url));
    const rows = (await c.call<{ pod_metrics: { metrics: unknown[]; container_metrics: { metrics: unknown[] }[] }[] }>('ListPodSandboxMetrics', {})).pod_metrics;
    const nRows = rows.reduce((a, p) => a + p.metrics.length + p.container_metrics.reduce((b, x) => b + x.metrics.length, 0), 0);
    const lm = await measure(d.pid, LISTS, idle, () => c.call('ListPodSandboxMetrics', {}));
    const ls = await measure(d.pid, LISTS, idle, () => c.call('ListPodSandboxStats', {}));
    const lc = await measure(d.pid, LISTS, idle, () => c.call('ListContainerStats', {}));
    lines.push('call                           n    daemon CPU/call   wall/call   size');
    lines.push(`GET /metrics               ${String(SCRAPES).padStart(5)}   ${f(sc.cpuPerCall).padStart(10)} ms   ${f(sc.wallPerCall).padStart(7)} ms   ${bytes} bytes`);
    lines.push(`ListPodSandboxMetrics      ${String(LISTS).padStart(5)}   ${f(lm.cpuPerCall).padStart(10)} ms   ${f(lm.wallPerCall).padStart(7)} ms   ${nRows} rows`);
    lines.push(`ListPodSandboxStats        ${String(LISTS).padStart(5)}   ${f(ls.cpuPerCall).padStart(10)} ms   ${f(ls.wallPerCall).padStart(7)} ms   (reference)`);
    lines.push(`ListContainerStats         ${String(LISTS).padStart(5)}   ${f(lc.cpuPerCall).padStart(10)} ms   ${f(lc.wallPerCall).padStart(7)} ms   (reference)`);
    lines.push(`RSS with the pods, after the calls: ${f(rssKb(d.pid) / 1024, 1)} MiB`);
  } finally {
    await removePods(c, ids);
    c.close();
    await d.stop();
    try {
      execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
    } catch {
      // no bridge was made
    }
  }
  console.log(lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

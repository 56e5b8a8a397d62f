// Streaming benchmark driver (hack/bench/streaming.sh runs it against containerd and fune, one after the other).
//
//   node dist/hack/bench/streaming.js run --socket S --label NAME --daemon-pid PID --crictl PATH
//        [--execs 30] [--mib 256] [--reps 3] [--conns 200] [--image IMG] [--out FILE.json]
//   node dist/hack/bench/streaming.js exec --target LABEL=SOCKET=PID [--target ...] --crictl PATH [--execs 30]
//        [--image IMG] --out-dir DIR
//   node dist/hack/bench/streaming.js report A.json [B.json ...]
//
// `exec` measures `crictl exec CTR true` on several runtimes that run at the same time, in alternation: each
// runtime gets one host-network pod with one `sleep` container, and round after round every runtime gets one exec,
// in an order reversed each round. Load from anything else on the host then falls on all runtimes alike, where
// one-runtime-after-the-other runs pick up whatever the host was doing at the time. It writes DIR/LABEL-exec.json
// per runtime (a StreamResult with only the exec fields).
//
// `run` makes one pod (the runtime's CNI) with one busybox container that serves, inside the pod:
//   :8080 upload sink   `nc -l -e /up.sh`   (up.sh: `wc -c > /tmp/up.count`; the socket is wc's stdin, so nothing
//                                          relays the bytes and the count is exact)
//   :8081 download      `nc -l -e /down.sh` (down.sh: `head -c BYTES /dev/zero`, written straight to the socket)
//   :8082 busybox httpd serving a 5-byte file (a forking server: one short connection each)
// and then measures, with the real crictl:
//   - `crictl exec CTR true`: wall time of the whole crictl process (Exec RPC + SPDY stream + exit status), EXECS runs
//     after one warm-up (streaming.sh passes --execs 0 and measures exec with `exec` instead);
//   - `crictl port-forward POD :8080 :8081 :8082` (one crictl, one SPDY connection): download and upload of MIB MiB
//     each through one local TCP connection, REPS times each (byte counts checked on both ends), and the connection
//     rate: CONNS sequential HTTP/1.0 requests (connect, GET, read the 5-byte body, close) through the forward.
// The daemon's CPU time (utime+stime from /proc/PID/stat) is recorded around each transfer.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type BenchClient } from './cri-client.js';
import { median, p90 } from './report.js';

const LABEL = 'fune-bench-streaming';
const NS = { network: 'POD', pid: 'POD', ipc: 'POD' };
const PORT_UP = 8080;
const PORT_DOWN = 8081;
const PORT_HTTP = 8082;
const BODY = 'hello';

/** StreamResult is what `run` writes for one runtime. */
export interface StreamResult {
  label: string;
  runtime: string;
  date: string;
  bytes: number;
  execMs: number[];
  downMBs: number[];
  upMBs: number[];
  downCpuS: number[];
  upCpuS: number[];
  connMs: number[];
  /** directMs are the same short connections made straight to the pod's IP (no port-forward): the baseline. */
  directMs: number[];
  connPerS?: number;
  connCpuS?: number;
  /** execCpuS is the daemon's CPU time over the timed execs (not the warm-up one). */
  execCpuS?: number;
  load?: [number, number];
  error?: string;
}

interface Opts {
  socket: string;
  label: string;
  daemonPid: number;
  crictl: string;
  execs: number;
  bytes: number;
  reps: number;
  conns: number;
  image: string;
  out: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** cpuSeconds is a process's user+system CPU time. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, in clock ticks (USER_HZ = 100)
}

function serverScript(bytes: number): string {
  return [
    'set -e',
    `mkdir -p /www && printf ${BODY} > /www/x`,
    "printf '#!/bin/sh\\nexec wc -c > /tmp/up.count\\n' > /up.sh",
    `printf '#!/bin/sh\\nexec head -c ${bytes} /dev/zero\\n' > /down.sh`,
    'chmod +x /up.sh /down.sh',
    `httpd -p ${PORT_HTTP} -h /www`,
    `(while true; do nc -l -p ${PORT_DOWN} -e /down.sh; done) &`,
    `while true; do nc -l -p ${PORT_UP} -e /up.sh; done`,
  ].join('\n');
}

function crictl(o: Opts, args: string[]): ChildProcess {
  const ep = `unix://${o.socket}`;
  return spawn(o.crictl, ['--runtime-endpoint', ep, '--image-endpoint', ep, '--timeout', '60s', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function runCrictl(o: Opts, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = crictl(o, args);
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
  });
}

/** startForward runs `crictl port-forward` and resolves with the local port of each remote port. */
function startForward(o: Opts, pod: string, ports: number[]): Promise<{ proc: ChildProcess; local: Map<number, number> }> {
  const proc = crictl(o, ['port-forward', pod, ...ports.map((p) => `:${p}`)]);
  const local = new Map<number, number>();
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`crictl port-forward did not start in 30 s: ${out}`)), 30_000);
    const on = (b: Buffer) => {
      out += b.toString();
      for (const m of out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)) local.set(Number(m[2]), Number(m[1]));
      if (ports.every((p) => local.has(p))) {
        clearTimeout(t);
        resolve({ proc, local });
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`crictl port-forward exited (${code}): ${out}`));
    });
  });
}

/** download reads from the port until the server closes; resolves with the byte count and the time. */
function download(port: number): Promise<{ n: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let n = 0;
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('data', (b: Buffer) => (n += b.length));
    s.once('error', reject);
    s.once('close', () => resolve({ n, ms: now() - t0 }));
  });
}

const CHUNK = Buffer.alloc(1 << 20);

/** upload writes `bytes` zero bytes, half-closes and waits until the server closes. */
function upload(port: number, bytes: number): Promise<{ ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let left = bytes;
    const s = net.connect({ host: '127.0.0.1', port });
    const pump = () => {
      while (left > 0) {
        const c = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= c.length;
        if (!s.write(c)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.once('connect', pump);
    s.on('data', () => undefined);
    s.once('error', reject);
    s.once('close', () => (left > 0 ? reject(new Error(`connection closed with ${left} bytes unsent`)) : resolve({ ms: now() - t0 })));
  });
}

/** request makes one short HTTP/1.0 connection and checks the body. */
function request(port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let got = '';
    const s = net.connect({ host, port }, () => s.end(`GET /x HTTP/1.0\r\nHost: x\r\n\r\n`));
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.once('error', reject);
    s.once('close', () => (got.endsWith(`\r\n\r\n${BODY}`) ? resolve(now() - t0) : reject(new Error(`bad HTTP answer: ${JSON.stringify(got.slice(0, 200))}`))));
  });
}

async function retry<T>(what: string, f: () => Promise<T>, ok: (x: T) => boolean = () => true): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 10; i++) {
    try {
      const x = await f();
      if (ok(x)) return x;
      last = new Error(`${what}: unexpected result ${JSON.stringify(x)}`);
    } catch (e) {
      last = e;
    }
    await sleep(300); // the nc loop restarts its listener between connections
  }
  throw last instanceof Error ? last : new Error(String(last));
}

async function execOut(c: BenchClient, cid: string, cmd: string[]): Promise<string> {
  const r = await c.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: cid, cmd, timeout: 20 });
  if (r.exit_code !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.exit_code}`);
  return Buffer.from(r.stdout).toString();
}

async function cleanup(c: BenchClient): Promise<void> {
  const { items } = await c.call<{ items: { id: string }[] }>('ListPodSandbox', { filter: { label_selector: { [LABEL]: '1' } } });
  for (const p of items) {
    await c.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
    await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
  }
}

const log = (o: Opts, msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] [${o.label}] ${msg}`);

async function run(o: Opts): Promise<StreamResult> {
  const res: StreamResult = { label: o.label, runtime: '?', date: new Date().toISOString(), bytes: o.bytes, execMs: [], downMBs: [], upMBs: [], downCpuS: [], upCpuS: [], connMs: [], directMs: [] };
  const c = connect(o.socket);
  let fwd: ChildProcess | undefined;
  try {
    const v = await c.call<{ runtime_name: string; runtime_version: string }>('Version', {});
    res.runtime = `${v.runtime_name} ${v.runtime_version}`;
    await cleanup(c);
    await c.call('PullImage', { image: { image: o.image } }, { image: true, deadlineMs: 300_000 });
    const pod = {
      metadata: { name: `stream-${process.pid}`, namespace: 'fune-bench', uid: `uid-stream-${process.pid}`, attempt: 0 },
      hostname: 'stream', labels: { [LABEL]: '1' }, linux: { security_context: { namespace_options: NS } },
    };
    const { pod_sandbox_id: podId } = await c.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
    const { container_id: cid } = await c.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: podId, sandbox_config: pod,
      config: { metadata: { name: 'servers', attempt: 0 }, image: { image: o.image }, command: ['sh', '-c', serverScript(o.bytes)], labels: { [LABEL]: '1' }, linux: { security_context: { namespace_options: NS } } },
    });
    await c.call('StartContainer', { container_id: cid });
    log(o, `${res.runtime}: pod ${podId.slice(0, 12)}, container ${cid.slice(0, 12)}`);
    res.load = [loadavg()[0]!, 0];

    // (1) crictl exec CTR true (unless measured interleaved by `exec`)
    let execCpu0 = 0;
    for (let i = 0; o.execs > 0 && i <= o.execs; i++) {
      if (i === 1) execCpu0 = cpuSeconds(o.daemonPid);
      const t0 = now();
      const r = await runCrictl(o, ['exec', cid, 'true']);
      const ms = now() - t0;
      if (r.code !== 0) throw new Error(`crictl exec true: exit ${r.code}: ${r.out}`);
      if (i > 0) res.execMs.push(ms);
    }
    if (o.execs > 0) {
      res.execCpuS = cpuSeconds(o.daemonPid) - execCpu0;
      log(o, `exec: median ${median(res.execMs).toFixed(1)} ms over ${o.execs}`);
    }

    // (2) port-forward: one crictl, one SPDY connection, a local port per remote port.
    const f = await startForward(o, podId, [PORT_UP, PORT_DOWN, PORT_HTTP]);
    fwd = f.proc;
    const L = (p: number) => f.local.get(p)!;
    for (let i = 0; i < 5; i++) await retry('warm-up request', () => request(L(PORT_HTTP))); // starts per-pod helpers
    for (let r = 0; r < o.reps; r++) {
      let cpu0 = cpuSeconds(o.daemonPid);
      const d = await retry('download', () => download(L(PORT_DOWN)), (x) => x.n > 0);
      if (d.n !== o.bytes) throw new Error(`download: got ${d.n} bytes, expected ${o.bytes}`);
      res.downCpuS.push(cpuSeconds(o.daemonPid) - cpu0);
      res.downMBs.push(o.bytes / 1e6 / (d.ms / 1000));
      await execOut(c, cid, ['rm', '-f', '/tmp/up.count']);
      await sleep(200);
      cpu0 = cpuSeconds(o.daemonPid);
      const u = await retry('upload', () => upload(L(PORT_UP), o.bytes));
      res.upCpuS.push(cpuSeconds(o.daemonPid) - cpu0);
      const count = (await execOut(c, cid, ['cat', '/tmp/up.count'])).trim();
      if (Number(count) !== o.bytes) throw new Error(`upload: the pod counted ${count} bytes, expected ${o.bytes}`);
      res.upMBs.push(o.bytes / 1e6 / (u.ms / 1000));
      log(o, `rep ${r + 1}: download ${res.downMBs.at(-1)!.toFixed(0)} MB/s, upload ${res.upMBs.at(-1)!.toFixed(0)} MB/s`);
      await sleep(200);
    }

    // (3) connection rate
    const cpu0 = cpuSeconds(o.daemonPid);
    const t0 = now();
    for (let i = 0; i < o.conns; i++) res.connMs.push(await request(L(PORT_HTTP)));
    res.connPerS = o.conns / ((now() - t0) / 1000);
    res.connCpuS = cpuSeconds(o.daemonPid) - cpu0;
    const st = await c.call<{ status: { network: { ip: string } | null } }>('PodSandboxStatus', { pod_sandbox_id: podId });
    const ip = st.status.network?.ip;
    if (ip) for (let i = 0; i < o.conns; i++) res.directMs.push(await request(PORT_HTTP, ip));
    res.load[1] = loadavg()[0]!;
    log(o, `connections: ${res.connPerS.toFixed(0)}/s through port-forward; straight to ${ip}: median ${median(res.directMs).toFixed(2)} ms`);
  } catch (e) {
    res.error = `${o.label}: ${e instanceof Error ? e.message : String(e)}`;
    log(o, `ERROR: ${res.error}`);
  } finally {
    if (fwd && fwd.exitCode === null) fwd.kill('SIGTERM');
    await cleanup(c).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
    c.close();
  }
  return res;
}

interface ExecTarget {
  label: string;
  socket: string;
  daemonPid: number;
  client: BenchClient;
  cid?: string;
  res: StreamResult;
}

/** execInterleaved runs `crictl exec CTR true` on every target in turn, `execs` rounds (see the header). */
async function execInterleaved(targets: ExecTarget[], o: Pick<Opts, 'crictl' | 'execs' | 'image'>): Promise<void> {
  const host = { network: 'NODE', pid: 'POD', ipc: 'POD' };
  const opts = (t: ExecTarget): Opts => ({ ...o, socket: t.socket, label: t.label, daemonPid: t.daemonPid, bytes: 0, reps: 0, conns: 0, out: '' });
  try {
    for (const t of targets) {
      const v = await t.client.call<{ runtime_name: string; runtime_version: string }>('Version', {});
      t.res.runtime = `${v.runtime_name} ${v.runtime_version}`;
      await cleanup(t.client);
      await t.client.call('PullImage', { image: { image: o.image } }, { image: true, deadlineMs: 300_000 });
      const pod = {
        // No hostname: with the host's network (and so UTS) namespace, runc cannot set one and containerd refuses.
        metadata: { name: `exec-${process.pid}`, namespace: 'fune-bench', uid: `uid-exec-${process.pid}`, attempt: 0 },
        labels: { [LABEL]: '1' }, linux: { security_context: { namespace_options: host } },
      };
      const { pod_sandbox_id: podId } = await t.client.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: pod });
      const { container_id: cid } = await t.client.call<{ container_id: string }>('CreateContainer', {
        pod_sandbox_id: podId, sandbox_config: pod,
        config: { metadata: { name: 'sleeper', attempt: 0 }, image: { image: o.image }, command: ['sleep', '3600'], labels: { [LABEL]: '1' }, linux: { security_context: { namespace_options: host } } },
      });
      await t.client.call('StartContainer', { container_id: cid });
      t.cid = cid;
      t.res.load = [loadavg()[0]!, 0];
    }
    const once = async (t: ExecTarget) => {
      const t0 = now();
      const r = await runCrictl(opts(t), ['exec', t.cid!, 'true']);
      if (r.code !== 0) throw new Error(`${t.label}: crictl exec true: exit ${r.code}: ${r.out}`);
      return now() - t0;
    };
    for (const t of targets) await once(t); // warm-up
    const cpu = new Map(targets.map((t) => [t, 0]));
    for (let i = 0; i < o.execs; i++) {
      for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
        const c0 = cpuSeconds(t.daemonPid);
        t.res.execMs.push(await once(t));
        cpu.set(t, cpu.get(t)! + cpuSeconds(t.daemonPid) - c0);
      }
    }
    for (const t of targets) {
      t.res.execCpuS = cpu.get(t);
      t.res.load![1] = loadavg()[0]!;
      log(opts(t), `exec (interleaved): median ${median(t.res.execMs).toFixed(1)} ms over ${o.execs}`);
    }
  } catch (e) {
    for (const t of targets) t.res.error ??= `${t.label}: ${e instanceof Error ? e.message : String(e)}`;
    console.error(`exec: ERROR: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    for (const t of targets) {
      await cleanup(t.client).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
      t.client.close();
    }
  }
}

function report(rs: StreamResult[]): void {
  const [a, b] = rs;
  const W0 = 56;
  const W = 17;
  const row = (...cells: string[]) => console.log(cells[0]!.padEnd(W0) + cells.slice(1).map((x) => x.padEnd(W)).join(''));
  const fmt = (x: number | undefined, d = 1) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(`streaming benchmark, ${rs.map((r) => `${r.label}: ${r.runtime} (load ${fmt(r.load?.[0], 2)}→${fmt(r.load?.[1], 2)})`).join('; ')}`);
  for (const r of rs) if (r.error) console.log(`ERROR ${r.error}`);
  const mib = ((a ?? b)?.bytes ?? 0) / 2 ** 20;
  row('metric', ...rs.map((r) => r.label), b ? `${b.label}/${a!.label}` : '', b ? 'target' : '');
  const line = (name: string, pick: (r: StreamResult) => number | undefined, d: number, better: 'lower' | 'higher' | '') => {
    const v = rs.map(pick);
    const ratio = v.length === 2 && v[0] && v[1] !== undefined ? v[1] / v[0] : undefined;
    const target = !better || ratio === undefined ? '' : (better === 'lower' ? ratio <= 1 : ratio >= 1) ? 'met' : 'MISSED';
    row(name, ...v.map((x) => fmt(x, d)), ratio === undefined ? '' : `${ratio.toFixed(2)}x`, target);
  };
  const n = (a ?? b)!;
  line(`crictl exec true, median ms (n=${n.execMs.length})`, (r) => median(r.execMs), 1, 'lower');
  line('crictl exec true, p90 ms', (r) => p90(r.execMs), 1, '');
  line('  daemon CPU ms per exec', (r) => (r.execCpuS !== undefined && r.execMs.length ? (r.execCpuS * 1000) / r.execMs.length : undefined), 2, '');
  line(`port-forward download ${mib} MiB, MB/s (median of ${n.downMBs.length})`, (r) => median(r.downMBs), 0, 'higher');
  line(`port-forward upload ${mib} MiB, MB/s (median of ${n.upMBs.length})`, (r) => median(r.upMBs), 0, 'higher');
  line('  daemon CPU s per download', (r) => median(r.downCpuS), 2, '');
  line('  daemon CPU s per upload', (r) => median(r.upCpuS), 2, '');
  line(`port-forward connections/s (n=${n.connMs.length}, sequential)`, (r) => r.connPerS, 0, 'higher');
  line('  per connection, median ms', (r) => median(r.connMs), 2, '');
  line('  per connection, p90 ms', (r) => p90(r.connMs), 2, '');
  line('  same connections straight to the pod IP, median ms', (r) => median(r.directMs), 2, '');
  line('  daemon CPU ms per connection', (r) => (r.connCpuS !== undefined && r.connMs.length ? (r.connCpuS * 1000) / r.connMs.length : undefined), 2, '');
  console.log('MB = 10^6 bytes; exec is the wall time of the whole crictl process; transfers and connections go through one `crictl port-forward`.');
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'report') {
    const rs = rest.map((f) => JSON.parse(readFileSync(f, 'utf8')) as StreamResult);
    // Several passes of one runtime are pooled (samples concatenated, connection rate averaged).
    const pooled = new Map<string, StreamResult>();
    for (const r of rs) {
      const p = pooled.get(r.label);
      if (!p) {
        pooled.set(r.label, { ...r, connPerS: r.connPerS, load: r.load });
        continue;
      }
      for (const k of ['execMs', 'downMBs', 'upMBs', 'downCpuS', 'upCpuS', 'connMs', 'directMs'] as const) p[k] = [...p[k], ...r[k]];
      p.connPerS = p.connPerS !== undefined && r.connPerS !== undefined ? (p.connPerS + r.connPerS) / 2 : (p.connPerS ?? r.connPerS);
      p.connCpuS = (p.connCpuS ?? 0) + (r.connCpuS ?? 0);
      p.execCpuS = (p.execCpuS ?? 0) + (r.execCpuS ?? 0);
      p.error = p.error ?? r.error;
      p.bytes = Math.max(p.bytes, r.bytes); // the exec-only results carry no transfer size
    }
    report([...pooled.values()]);
    return 0;
  }
  if (cmd === 'exec') {
    const { values: v } = parseArgs({
      args: rest,
      options: {
        target: { type: 'string', multiple: true }, crictl: { type: 'string', default: '/opt/cri-tools/bin/crictl' },
        execs: { type: 'string', default: '30' }, image: { type: 'string', default: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
        'out-dir': { type: 'string' },
      },
    });
    if (!v.target?.length || !v['out-dir']) throw new Error('exec needs --target LABEL=SOCKET=PID (one or more) and --out-dir');
    const targets: ExecTarget[] = v.target.map((spec) => {
      const [label, socket, pid] = spec.split('=');
      if (!label || !socket || !pid) throw new Error(`bad --target ${spec}: want LABEL=SOCKET=PID`);
      const res: StreamResult = { label, runtime: '?', date: new Date().toISOString(), bytes: 0, execMs: [], downMBs: [], upMBs: [], downCpuS: [], upCpuS: [], connMs: [], directMs: [] };
      return { label, socket, daemonPid: Number(pid), client: connect(socket), res };
    });
    await execInterleaved(targets, { crictl: v.crictl, execs: Number(v.execs), image: v.image });
    for (const t of targets) writeFileSync(join(v['out-dir'], `${t.label}-exec.json`), JSON.stringify(t.res, null, 2) + '\n');
    return targets.some((t) => t.res.error) ? 3 : 0;
  }
  if (cmd !== 'run') throw new Error('usage: streaming.js run --socket S --label L --daemon-pid P --crictl C | exec --target L=S=P ... | report FILES');
  const { values: v } = parseArgs({
    args: rest,
    options: {
      socket: { type: 'string' }, label: { type: 'string' }, 'daemon-pid': { type: 'string' }, crictl: { type: 'string', default: '/opt/cri-tools/bin/crictl' },
      execs: { type: 'string', default: '30' }, mib: { type: 'string', default: '256' }, reps: { type: 'string', default: '3' },
      conns: { type: 'string', default: '200' }, image: { type: 'string', default: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
      out: { type: 'string' },
    },
  });
  if (!v.socket || !v.label || !v['daemon-pid'] || !v.out) throw new Error('run needs --socket, --label, --daemon-pid and --out');
  const o: Opts = {
    socket: v.socket, label: v.label, daemonPid: Number(v['daemon-pid']), crictl: v.crictl, execs: Number(v.execs),
    bytes: Number(v.mib) * 2 ** 20, reps: Number(v.reps), conns: Number(v.conns), image: v.image, out: v.out,
  };
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

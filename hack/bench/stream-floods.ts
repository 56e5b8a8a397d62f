// Stream floods: a peer that does not read, against a real daemon (hack/bench/stream-floods.sh runs it; the
// integration test test/integration/streaming/stream-floods.test.ts runs the same floods with less offered).
//
//   node dist/hack/bench/stream-floods.js [--mib 1024] [--only NAME,...] [--out FILE.json]
//
// It starts a daemon on private dirs (test/integration/lifecycle/env.ts: loopback-only CNI, the busybox test image
// imported through the admin socket; node flags as shipped), one pod and its containers, and then, for each flood,
// offers MIB MiB:
//   ws-exec-stdin        WebSocket exec, stdin into a process that does not read it
//   spdy-tty-stdin       SPDY exec with a TTY, stdin into a process (raw terminal) that does not read it
//   ws-portforward-up    WebSocket port-forward, an upload to a pod socket whose server does not read
//   spdy-ping            SPDY PINGs from a client that reads none of the replies
//   spdy-tty-output      SPDY exec with a TTY of a program writing MIB MiB, to a client that does not read
//   ws-attach-output     WebSocket attach to a container writing MIB MiB, from a client that does not read
// A flood offers until the client's writes stop moving for a second (or everything is offered); output floods
// hold the client still for two seconds. Each flood gets a daemon of its own. The daemon's RSS (VmRSS) is sampled every 50 ms: before, its peak during,
// and 3 s after the client closed. `verify` then lets the reader read and checks that every byte arrives, in order.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { upgrade } from '../../test/helpers/spdy-client.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from '../../test/integration/lifecycle/env.js';
import { encodeData, encodePing } from '../../src/streaming/spdy-frame.js';

const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (f: () => boolean, ms: number, what: string) => {
  for (const end = Date.now() + ms; !f(); await sleep(10)) if (Date.now() > end) throw new Error(`timed out: ${what}`);
};

/** FloodResult is one flood's figures (bytes, and RSS in bytes). */
export interface FloodResult {
  name: string;
  offered: number;
  /** taken is what left the client before it had to stop (input floods; NaN for output floods). */
  taken: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  verified?: boolean;
}

/** FloodCtx is the daemon and the pod the floods run against. */
export interface FloodCtx {
  env: LifecycleEnv;
  pod: string;
  /** sleeper runs `sleep`; exec floods run in it. */
  sleeper: string;
  netns: string;
  daemonPid: number;
  sandboxConfig: Record<string, unknown>;
}

/** rss is the daemon's VmRSS in bytes. */
export function rss(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** RssWatch samples the daemon's RSS every 50 ms and keeps the peak. */
class RssWatch {
  peak = 0;
  private readonly t: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.t = setInterval(() => this.sample(), 50);
  }
  sample(): number {
    const r = rss(this.pid);
    this.peak = Math.max(this.peak, r);
    return r;
  }
  stop(): number {
    clearInterval(this.t);
    return this.sample();
  }
}

/** setUp makes the pod and the sleeper container the floods use. */
export async function setUp(env: LifecycleEnv): Promise<FloodCtx> {
  const sandboxConfig = podConfig('floods', env.logDir);
  const pod = (await env.c.call('RunPodSandbox', { config: sandboxConfig })).pod_sandbox_id as string;
  const sleeper = await startContainer(env, pod, sandboxConfig, 'sleeper', 'exec sleep 100000');
  const st = await env.c.call('PodSandboxStatus', { pod_sandbox_id: pod, verbose: true });
  return { env, pod, sleeper, netns: JSON.parse(st.info.info).netNamespacePath, daemonPid: env.d.proc.pid!, sandboxConfig };
}

async function startContainer(env: LifecycleEnv, pod: string, config: Record<string, unknown>, name: string, script: string, extra = {}): Promise<string> {
  const id = (await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(name, script, extra), sandbox_config: config })).container_id as string;
  await env.c.call('StartContainer', { container_id: id });
  return id;
}

/**
 * The output floods' program writes a file of LINES numbered lines (line i: i in 8 digits and 1000 x's; long lines
 * keep the container log short) and then `cat`s it over and over, as fast as it is taken, up to `bytes`.
 */
const LINE = 1009;
const LINES = 16384;
const GEN = `awk 'BEGIN { p = sprintf("%1000s", ""); gsub(/ /, "x", p); for (i = 0; i < ${LINES}; i++) printf "%08d%s\\n", i, p }' > /tmp/lines`;
const program = (bytes: number) => `${GEN}; while :; do cat /tmp/lines; done | head -c ${bytes}`;

/** LineChecker checks that received bytes are the flood program's lines, in order from 0, none missing. */
class LineChecker {
  private rest = '';
  lines = 0;
  ok = true;
  bytes = 0;
  push(b: Buffer): void {
    this.bytes += b.length;
    const text = this.rest + b.toString('latin1');
    const parts = text.split('\n');
    this.rest = parts.pop()!;
    for (const l of parts) {
      const line = l.replace(/\r$/, '');
      if (line.length !== LINE - 1 || Number(line.slice(0, 8)) !== this.lines % LINES) this.ok = false;
      this.lines++;
    }
  }
}

/** STALL_MS (FLOOD_STALL_MS) is how long an input flood's writes may stand still before it counts as stopped. */
const STALL_MS = Number(process.env.FLOOD_STALL_MS ?? 1000);
/** HOLD_MS (FLOOD_HOLD_MS) is how long an output flood's client does not read. */
const HOLD_MS = Number(process.env.FLOOD_HOLD_MS ?? 2000);

/** offerSocket writes `chunk` to a socket until `max` bytes are written or it takes nothing for `stallMs`. */
async function offerSocket(sock: net.Socket, chunk: () => Buffer, max: number, stallMs = STALL_MS): Promise<{ written: number; taken: number }> {
  let written = 0;
  while (written < max) {
    const b = chunk();
    written += b.length;
    if (!sock.write(b)) {
      const drained = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), stallMs);
        sock.once('drain', () => (clearTimeout(t), resolve(true)));
      });
      if (!drained) break;
    }
  }
  return { written, taken: written - sock.writableLength };
}

/** offerWs sends messages on a WebSocket until `max` bytes are sent or nothing leaves the client for `stallMs`. */
async function offerWs(ws: WebSocket, message: () => Buffer, max: number, stallMs = STALL_MS): Promise<{ written: number; taken: number }> {
  let written = 0;
  let last = -1;
  let still = 0;
  while (written < max) {
    while (ws.bufferedAmount < 4 * MiB && written < max) {
      const m = message();
      ws.send(m);
      written += m.length;
    }
    await sleep(20);
    const gone = written - ws.bufferedAmount;
    still = gone === last ? still + 20 : 0;
    last = gone;
    if (still >= stallMs) break;
  }
  return { written, taken: written - ws.bufferedAmount };
}

function openWs(url: string, protocol: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
  ws.on('error', () => {});
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('unexpected-response', () => reject(new Error('upgrade refused'))));
}

/** PATTERN is what stdin floods send: a byte pattern whose hash the reader computes. */
const PATTERN = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 31 + 7) % 251));

/** readerScript waits for /tmp/go-NAME (holding a byte count), then hashes exactly that many bytes of stdin. */
const readerScript = (name: string, tty: boolean) =>
  `${tty ? 'stty raw -echo; ' : ''}echo READY; while [ ! -e /tmp/go-${name} ]; do sleep 0.05; done; head -c $(cat /tmp/go-${name}) | sha256sum`;

async function release(ctx: FloodCtx, name: string, bytes: number): Promise<void> {
  await ctx.env.c.call('ExecSync', { container_id: ctx.sleeper, cmd: ['sh', '-c', `echo ${bytes} > /tmp/go-${name}.t && mv /tmp/go-${name}.t /tmp/go-${name}`], timeout: 10 });
}

/** hashOf gives the sha256 of the first `n` bytes of the repeated PATTERN. */
function hashOf(n: number): string {
  const h = createHash('sha256');
  for (let left = n; left > 0; left -= PATTERN.length) h.update(left >= PATTERN.length ? PATTERN : PATTERN.subarray(0, left));
  return h.digest('hex');
}

/** finish closes the client, waits 3 s and reads the RSS. */
async function after(ctx: FloodCtx, close: () => void): Promise<number> {
  close();
  await sleep(3000);
  return rss(ctx.daemonPid);
}

/** wsExecStdin: WebSocket exec; stdin into a process that does not read until released. */
async function wsExecStdin(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  const { url } = await ctx.env.c.call('Exec', { container_id: ctx.sleeper, cmd: ['sh', '-c', readerScript('ws', false)], stdin: true, stdout: true, stderr: true });
  const ws = await openWs(url, 'v5.channel.k8s.io');
  let out = '';
  ws.on('message', (m: Buffer) => m[0] === 1 && (out += m.subarray(1).toString()));
  await until(() => out.includes('READY'), 20_000, 'READY');
  const rssBefore = rss(ctx.daemonPid);
  const w = new RssWatch(ctx.daemonPid);
  const msg = Buffer.concat([Buffer.of(0), PATTERN]);
  const { written, taken } = await offerWs(ws, () => msg, offered + offered / PATTERN.length);
  w.stop();
  let verified: boolean | undefined;
  if (verify) {
    const sent = (written / msg.length) * PATTERN.length;
    await release(ctx, 'ws', sent);
    await until(() => /[0-9a-f]{64}/.test(out), 60_000, 'the reader to hash its stdin');
    verified = /[0-9a-f]{64}/.exec(out)![0] === hashOf(sent);
  }
  const rssAfter = await after(ctx, () => ws.terminate());
  return { name: 'ws-exec-stdin', offered, taken: (taken / msg.length) * PATTERN.length, rssBefore, rssPeak: w.peak, rssAfter, verified };
}

/** spdy exec of `script` with the remotecommand v4 streams; stdout collected through `onOut`. */
async function spdyExec(ctx: FloodCtx, script: string, tty: boolean, onOut: (b: Buffer) => void) {
  const { url } = await ctx.env.c.call('Exec', { container_id: ctx.sleeper, cmd: ['sh', '-c', script], tty, stdin: true, stdout: true, stderr: !tty });
  const c = (await upgrade(url, ['v4.channel.k8s.io'])).client!;
  c.open({ streamtype: 'error' });
  const stdin = c.open({ streamtype: 'stdin' });
  const stdout = c.open({ streamtype: 'stdout' });
  stdout.keep = false;
  stdout.on('data', onOut);
  if (tty) c.open({ streamtype: 'resize' }).write('{"Width":80,"Height":24}\n');
  else c.open({ streamtype: 'stderr' });
  return { c, stdin };
}

/** PIECE is the payload of one stdin DATA frame of the TTY flood (spdystream writes up to 32 KiB per frame). */
const PIECE = 16 * 1024;

/** spdyTtyStdin: SPDY exec with a TTY; stdin into a raw terminal whose program does not read until released. */
async function spdyTtyStdin(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  let out = '';
  const { c, stdin } = await spdyExec(ctx, readerScript('tty', true), true, (b) => (out += b.toString()));
  await until(() => out.includes('READY'), 20_000, 'READY');
  const rssBefore = rss(ctx.daemonPid);
  const w = new RssWatch(ctx.daemonPid);
  const frame = encodeData(stdin.id, PATTERN.subarray(0, PIECE));
  const { written, taken } = await offerSocket(c.socket, () => frame, (offered / PIECE) * frame.length);
  w.stop();
  let verified: boolean | undefined;
  if (verify) {
    const sent = (written / frame.length) * PIECE;
    await release(ctx, 'tty', sent);
    await until(() => /[0-9a-f]{64}/.test(out), 60_000, 'the reader to hash its stdin');
    const h = createHash('sha256');
    for (let i = 0; i < sent / PIECE; i++) h.update(PATTERN.subarray(0, PIECE));
    verified = /[0-9a-f]{64}/.exec(out)![0] === h.digest('hex');
  }
  const rssAfter = await after(ctx, () => c.close());
  return { name: 'spdy-tty-stdin', offered, taken: (taken / frame.length) * PIECE, rssBefore, rssPeak: w.peak, rssAfter, verified };
}

/** podServer runs, in the pod's network namespace, a server on `port` that reads nothing until told how much. */
function podServer(ctx: FloodCtx, port: number): Promise<ChildProcess> {
  const code = `const h=require('crypto').createHash('sha256');let want=-1,got=0,sock;
require('net').createServer((s)=>{sock=s;s.pause();s.on('data',(b)=>{const k=Math.min(b.length,want-got);h.update(b.subarray(0,k));got+=k;if(got>=want){console.log('hash '+h.digest('hex'));s.destroy();}});}).listen(${port},'127.0.0.1',()=>console.log('up'));
process.stdin.on('data',(d)=>{want=Number(String(d).trim());sock.resume();});`;
  const p = spawn('nsenter', [`--net=${ctx.netns}`, process.execPath, '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve) => p.stdout.once('data', () => resolve(p)));
}

/** wsPortForwardUp: WebSocket port-forward; an upload to a pod socket that nobody reads until released. */
async function wsPortForwardUp(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  const port = 9100 + Math.floor(Math.random() * 800);
  const server = await podServer(ctx, port);
  let hash = '';
  server.stdout!.on('data', (b: Buffer) => (hash += b.toString()));
  try {
    const { url } = await ctx.env.c.call('PortForward', { pod_sandbox_id: ctx.pod, port: [port] });
    const ws = await openWs(url, 'v4.channel.k8s.io');
    await sleep(300); // the connection to the pod is made when the port's channels are announced
    const rssBefore = rss(ctx.daemonPid);
    const w = new RssWatch(ctx.daemonPid);
    const msg = Buffer.concat([Buffer.of(0), PATTERN]);
    const { written, taken } = await offerWs(ws, () => msg, offered + offered / PATTERN.length);
    w.stop();
    let verified: boolean | undefined;
    if (verify) {
      const sent = (written / msg.length) * PATTERN.length;
      server.stdin!.write(`${sent}\n`);
      await until(() => hash.includes('hash '), 60_000, 'the pod server to hash the upload');
      verified = hash.includes(`hash ${hashOf(sent)}`);
    }
    const rssAfter = await after(ctx, () => ws.terminate());
    return { name: 'ws-portforward-up', offered, taken: (taken / msg.length) * PATTERN.length, rssBefore, rssPeak: w.peak, rssAfter, verified };
  } finally {
    server.kill('SIGKILL');
  }
}

/** spdyPing: PINGs from a client that reads none of the replies; then it reads them all and the session works. */
async function spdyPing(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  let out = '';
  const { c, stdin } = await spdyExec(ctx, 'cat', false, (b) => (out += b.toString()));
  await sleep(300);
  c.socket.pause();
  let replies = 0;
  c.on('ping', () => replies++);
  const rssBefore = rss(ctx.daemonPid);
  const w = new RssWatch(ctx.daemonPid);
  const pings = Buffer.concat(Array.from({ length: 5461 }, (_, i) => encodePing(2 * i + 1)));
  const { written, taken } = await offerSocket(c.socket, () => pings, offered);
  w.stop();
  let verified: boolean | undefined;
  if (verify) {
    c.socket.resume();
    await until(() => replies === written / 12, 60_000, `${written / 12} PING replies (${replies} so far)`);
    stdin.write('still there\n');
    await until(() => out.includes('still there'), 10_000, 'the session to echo');
    verified = true;
  }
  const rssAfter = await after(ctx, () => c.close());
  return { name: 'spdy-ping', offered, taken, rssBefore, rssPeak: w.peak, rssAfter, verified };
}

/** holdThenRead keeps a client from reading for HOLD_MS, then (verify) reads until `want` bytes were checked. */
async function holdThenRead(ctx: FloodCtx, pause: () => void, resume: () => void, check: LineChecker, want: number, verify: boolean) {
  pause();
  const rssBefore = rss(ctx.daemonPid);
  const w = new RssWatch(ctx.daemonPid);
  await sleep(HOLD_MS);
  w.stop();
  const taken = NaN;
  if (verify) {
    resume();
    await until(() => check.bytes >= want, 120_000, `${want} bytes of output (${check.bytes} so far)`);
  }
  return { rssBefore, rssPeak: w.peak, taken };
}

/** spdyTtyOutput: a program under a TTY writes `offered` bytes to a client that does not read. */
async function spdyTtyOutput(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  const check = new LineChecker();
  let started = false;
  const { c } = await spdyExec(ctx, `stty raw -echo; ${program(offered)}`, true, (b) => {
    started = true;
    check.push(b);
  });
  await until(() => started, 20_000, 'output');
  const want = Math.min(offered, 32 * MiB);
  const r = await holdThenRead(ctx, () => c.socket.pause(), () => c.socket.resume(), check, want, verify);
  const rssAfter = await after(ctx, () => c.close());
  return { name: 'spdy-tty-output', offered, ...r, rssAfter, verified: verify ? check.ok && check.lines > 0 : undefined };
}

/** wsAttachOutput: a container writes `offered` bytes to an attached WebSocket client that does not read. */
async function wsAttachOutput(ctx: FloodCtx, offered: number, verify: boolean): Promise<FloodResult> {
  const name = `writer-${Date.now()}`;
  const ctr = await startContainer(ctx.env, ctx.pod, ctx.sandboxConfig, name, `while [ ! -e /tmp/go ]; do sleep 0.05; done; ${program(offered)}`);
  try {
    const { url } = await ctx.env.c.call('Attach', { container_id: ctr, stdout: true, stderr: true });
    const ws = await openWs(url, 'v4.channel.k8s.io');
    const check = new LineChecker();
    ws.on('message', (m: Buffer) => m[0] === 1 && m.length > 1 && check.push(m.subarray(1)));
    await sleep(300);
    await ctx.env.c.call('ExecSync', { container_id: ctr, cmd: ['touch', '/tmp/go'], timeout: 10 });
    await until(() => check.bytes > 0, 20_000, 'attach output');
    const sock = (ws as unknown as { _socket: net.Socket })._socket; // the client's own socket: paused = not read
    const want = Math.min(offered, 32 * MiB);
    const r = await holdThenRead(ctx, () => sock.pause(), () => sock.resume(), check, want, verify);
    const rssAfter = await after(ctx, () => ws.terminate());
    return { name: 'ws-attach-output', offered, ...r, rssAfter, verified: verify ? check.ok && check.lines > 0 : undefined };
  } finally {
    await ctx.env.c.call('StopContainer', { container_id: ctr, timeout: 0 }).catch(() => undefined);
    await ctx.env.c.call('RemoveContainer', { container_id: ctr }).catch(() => undefined);
  }
}

/** FLOODS are every flood by name. */
export const FLOODS: Record<string, (ctx: FloodCtx, offered: number, verify: boolean) => Promise<FloodResult>> = {
  'ws-exec-stdin': wsExecStdin,
  'spdy-tty-stdin': spdyTtyStdin,
  'ws-portforward-up': wsPortForwardUp,
  'spdy-ping': spdyPing,
  'spdy-tty-output': spdyTtyOutput,
  'ws-attach-output': wsAttachOutput,
};

const fmt = (b: number) => `${(b / MiB).toFixed(1)}`;

/** report prints one line per flood and whether it meets the targets (+64 MiB during, within 64 MiB after). */
export function report(results: FloodResult[]): string {
  const rows = [['flood', 'offered MiB', 'taken MiB', 'RSS before', 'peak +MiB', 'after close +MiB', 'verified', 'target']];
  for (const r of results) {
    const ok = r.rssPeak - r.rssBefore <= 64 * MiB && r.rssAfter - r.rssBefore <= 64 * MiB;
    rows.push([r.name, fmt(r.offered), Number.isNaN(r.taken) ? '-' : fmt(r.taken), fmt(r.rssBefore), fmt(r.rssPeak - r.rssBefore), fmt(r.rssAfter - r.rssBefore), String(r.verified ?? '-'), ok ? 'met' : 'MISSED']);
  }
  return rows.map((row) => row.map((c, i) => c.padEnd(i === 0 ? 20 : 17)).join('')).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' }, only: { type: 'string' }, out: { type: 'string' }, verify: { type: 'boolean', default: false } } });
  const offered = Number(values.mib) * MiB;
  const names = values.only ? values.only.split(',') : Object.keys(FLOODS);
  const saved = process.env.NODE_OPTIONS;
  const results: FloodResult[] = [];
  for (const n of names) {
    const f = FLOODS[n];
    if (!f) throw new Error(`unknown flood ${n} (${Object.keys(FLOODS).join(', ')})`);
    // A daemon of its own per flood: memory one flood left to the allocator would hide the next one's growth.
    // It runs with the node flags of its shipped start (package.json, systemd/fune.service).
    process.env.NODE_OPTIONS = `${saved ?? ''} --max-semi-space-size=1 --v8-pool-size=1`.trim();
    const env = await startEnv();
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    try {
      const ctx = await setUp(env);
      await sleep(1000);
      console.error(`[${new Date().toISOString().slice(11, 19)}] ${n}: offering ${values.mib} MiB`);
      results.push(await f(ctx, offered, values.verify));
      await env.c.call('RemovePodSandbox', { pod_sandbox_id: ctx.pod }).catch(() => undefined);
    } catch (err) {
      console.error(`the daemon's log ends:\n${env.d.logs().split('\n').slice(-30).join('\n')}`);
      throw err;
    } finally {
      await env.cleanup();
    }
  }
  const text = `stream floods, ${values.mib} MiB offered each (RSS of the daemon, MiB; load ${(await import('node:os')).loadavg()[0]!.toFixed(2)})\n${report(results)}`;
  console.log(text);
  if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
}

if (process.argv[1]?.endsWith('stream-floods.js')) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

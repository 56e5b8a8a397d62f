import { mkdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import type { ChildProcess, ProcessRunner } from '../sys/process-runner.js';

/** DialerPoolOptions configure the per-pod port-forward helpers. */
export interface DialerPoolOptions {
  runner: ProcessRunner;
  clock: Clock;
  log: Logger;
  /** dir holds the helpers' unix sockets. */
  dir: string;
  nsenterPath?: string;
  /** idleMs stops a helper that served no connection for this long. */
  idleMs?: number;
}

interface Helper {
  child: ChildProcess;
  socket: string;
  ready: Promise<void>;
  active: number;
  cancelIdle: () => void;
}

/** HELPER is the compiled helper script (from sources run by the tests, the one in dist/). */
const HELPER = (() => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? here.replace(/\/src\/streaming\/[^/]+\.ts$/, '/dist/src/streaming/netns-dialer.js') : join(dirname(here), 'netns-dialer.js');
})();

/**
 * NetnsDialerPool opens TCP connections to localhost ports inside pod network namespaces through one
 * `netns-dialer` helper per namespace (see netns-dialer.ts for why), started on first use and stopped after
 * `idleMs` without connections, by `release`, or when fune stops (the helper exits when its stdin closes).
 * Host-network pods (netns null) are dialled directly.
 */
export class NetnsDialerPool {
  private readonly helpers = new Map<string, Helper>();

  constructor(private readonly o: DialerPoolOptions) {}

  /** helperCount is the number of helpers running (tests and cost measurements use it). */
  get helperCount(): number {
    return this.helpers.size;
  }

  /** helperPids gives the helpers' process ids. */
  helperPids(): number[] {
    return [...this.helpers.values()].map((h) => h.child.pid ?? 0);
  }

  /** dial connects to localhost:port in `netns` (null = the host) and resolves once the connection is up. */
  async dial(netns: string | null, port: number, signal: AbortSignal): Promise<Duplex> {
    if (netns === null) return connectHost(port);
    const h = this.ensure(netns);
    await h.ready;
    h.active++;
    h.cancelIdle();
    const sock = net.connect(h.socket);
    sock.setNoDelay?.(true);
    const release = () => {
      if (--h.active === 0) this.armIdle(netns, h);
    };
    sock.once('close', release);
    const abort = () => sock.destroy();
    signal.addEventListener('abort', abort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      sock.write(`${port}\n`);
      const line = await readLine(sock);
      if (line !== 'OK') {
        const [, code, ...msg] = line.split(' ');
        const err = new Error(`dial tcp localhost:${port}: ${msg.join(' ') || line}`) as NodeJS.ErrnoException;
        err.code = code;
        throw err;
      }
      return sock;
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  /** release stops the helper of a namespace (call it when the pod stops). */
  release(netns: string): void {
    const h = this.helpers.get(netns);
    if (!h) return;
    this.helpers.delete(netns);
    h.cancelIdle();
    h.child.stdin?.end();
    h.child.kill('SIGTERM');
    void rm(h.socket, { force: true });
  }

  /** stop stops every helper. */
  stop(): void {
    for (const ns of [...this.helpers.keys()]) this.release(ns);
  }

  private ensure(netns: string): Helper {
    const have = this.helpers.get(netns);
    if (have) return have;
    const socket = join(this.o.dir, `${createHash('sha256').update(netns).digest('hex').slice(0, 16)}.sock`);
    const child = this.o.runner.spawn(this.o.nsenterPath ?? 'nsenter', [`--net=${netns}`, process.execPath, HELPER, socket], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    const h: Helper = { child, socket, active: 0, cancelIdle: () => {}, ready: Promise.resolve() };
    h.ready = (async () => {
      await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
      await new Promise<void>((resolve, reject) => {
        child.stdout?.once('data', () => resolve());
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`port-forward helper for ${netns} exited (${code}): ${stderr.trim()}`)));
      });
    })();
    h.ready.catch(() => this.helpers.get(netns) === h && this.helpers.delete(netns));
    child.once('exit', () => {
      if (this.helpers.get(netns) === h) this.helpers.delete(netns);
    });
    this.helpers.set(netns, h);
    this.o.log.debug({ netns, pid: child.pid }, 'started port-forward helper');
    return h;
  }

  private armIdle(netns: string, h: Helper): void {
    h.cancelIdle();
    h.cancelIdle = this.o.clock.setTimeout(() => {
      if (h.active === 0 && this.helpers.get(netns) === h) this.release(netns);
    }, this.o.idleMs ?? 5 * 60_000);
  }
}

function connectHost(port: number): Promise<Duplex> {
  const attempt = (host: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  return attempt('127.0.0.1').catch((err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? attempt('::1').catch(() => Promise.reject(err)) : Promise.reject(err)));
}

function readLine(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.pause();
      const rest = buf.subarray(nl + 1);
      if (rest.length) sock.unshift(rest);
      resolve(buf.subarray(0, nl).toString());
    };
    const onEnd = () => reject(new Error('port-forward helper closed the connection'));
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('error', reject);
  });
}

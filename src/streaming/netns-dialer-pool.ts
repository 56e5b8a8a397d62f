import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import { netnsConnector, type NetnsConnector } from '../sys/netns-connect.js';
import type { ChildProcess, ProcessRunner } from '../sys/process-runner.js';
import type { DialReply, DialRequest } from './netns-dialer.js';

/** DialerPoolOptions configure the per-pod port-forward helpers. */
export interface DialerPoolOptions {
  runner: ProcessRunner;
  clock: Clock;
  log: Logger;
  nsenterPath?: string;
  /** dir is no longer used (the helpers have no socket files); accepted until daemon.ts stops passing it. */
  dir?: string;
  /** idleMs stops a helper that served no connection for this long. */
  idleMs?: number;
  /**
   * connector dials from a thread that enters the namespace (the setns addon, src/sys/netns-connect.ts); null uses
   * the helper processes; undefined takes the addon when it was built, else the helpers.
   */
  connector?: NetnsConnector | null;
}

interface Helper {
  child: ChildProcess;
  ready: Promise<void>;
  pending: Map<number, (reply: DialReply, socket: net.Socket | undefined) => void>;
  active: number;
  cancelIdle: () => void;
}

/** HELPER is the compiled helper script (from sources run by the tests, the one in dist/). */
const HELPER = (() => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? here.replace(/\/src\/streaming\/[^/]+\.ts$/, '/dist/src/streaming/netns-dialer.js') : join(dirname(here), 'netns-dialer.js');
})();

/**
 * HELPER_FLAGS keep the helper's V8 heap small: it holds a few sockets at a time, never the data (private memory
 * ~9.5 MiB; the rest of its RSS is the node binary, shared with fune).
 */
const HELPER_FLAGS = ['--max-old-space-size=16', '--max-semi-space-size=1', '--single-threaded'];

/**
 * NetnsDialerPool opens TCP connections to localhost ports inside pod network namespaces: through the setns addon
 * (`connector`, a thread that enters the namespace, connects and exits: nothing to start, stop or release) when
 * it is there, else through one `netns-dialer` helper per namespace (see netns-dialer.ts for both mechanisms and
 * the measurements behind them), started on first use and stopped after `idleMs` without connections, by
 * `release`, or when fune stops (the helper exits when its IPC channel closes). Either way fune gets the
 * connected socket itself. Host-network pods (netns null) are dialled directly.
 */
export class NetnsDialerPool {
  private readonly helpers = new Map<string, Helper>();
  private readonly connector: NetnsConnector | null;
  private nextId = 1;

  constructor(private readonly o: DialerPoolOptions) {
    const auto = o.connector === undefined ? netnsConnector() : undefined;
    this.connector = auto ? auto.connector : (o.connector ?? null);
    o.log.debug({ via: auto?.why ?? (this.connector ? 'the given connector' : 'helper processes (configured)') }, 'port-forward into pod namespaces dials through this');
  }

  /** mechanism says how connections into a namespace are made: 'setns' (the addon's thread) or 'helper'. */
  get mechanism(): 'setns' | 'helper' {
    return this.connector ? 'setns' : 'helper';
  }

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
    if (this.connector) return this.connect(this.connector, netns, port, signal);
    const h = this.ensure(netns);
    h.active++;
    h.cancelIdle();
    let sock: net.Socket | undefined;
    try {
      await h.ready;
      signal.throwIfAborted();
      sock = await this.request(h, port, signal);
    } finally {
      if (!sock) this.done(netns, h);
    }
    const conn = sock;
    conn.once('close', () => this.done(netns, h));
    conn.setNoDelay(true);
    conn.resume();
    return conn;
  }

  /** release stops the helper of a namespace (call it when the pod stops). */
  release(netns: string): void {
    const h = this.helpers.get(netns);
    if (!h) return;
    this.helpers.delete(netns);
    h.cancelIdle();
    if (h.child.connected) h.child.disconnect();
    h.child.kill('SIGTERM');
  }

  /** stop stops every helper. */
  stop(): void {
    for (const ns of [...this.helpers.keys()]) this.release(ns);
  }

  private async connect(c: NetnsConnector, netns: string, port: number, signal: AbortSignal): Promise<Duplex> {
    let conn: net.Socket;
    try {
      conn = await c.connect(netns, port, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      // The helper's wording: the pair's error stream says which port and why.
      const cause = e as NodeJS.ErrnoException;
      throw dialError(port, cause.message, cause.code);
    }
    conn.setNoDelay(true);
    conn.resume();
    return conn;
  }

  private request(h: Helper, port: number, signal: AbortSignal): Promise<net.Socket> {
    const id = this.nextId++;
    return new Promise<net.Socket>((resolve, reject) => {
      const abort = () => {
        h.pending.delete(id);
        reject(signal.reason instanceof Error ? signal.reason : new Error("port-forward dial aborted"));
      };
      signal.addEventListener('abort', abort, { once: true });
      h.pending.set(id, (reply, socket) => {
        signal.removeEventListener('abort', abort);
        if (!reply.code && socket) return resolve(socket);
        socket?.destroy();
        reject(dialError(port, reply.message ?? reply.code, reply.code));
      });
      const msg: DialRequest = { id, port };
      h.child.send(msg, (err: Error | null) => {
        if (err) h.pending.get(id)?.({ id, code: 'EIO', message: `port-forward helper: ${err.message}` }, undefined);
      });
    });
  }

  private done(netns: string, h: Helper): void {
    if (--h.active === 0) this.armIdle(netns, h);
  }

  private ensure(netns: string): Helper {
    const have = this.helpers.get(netns);
    if (have) return have;
    const child = this.o.runner.spawn(this.o.nsenterPath ?? 'nsenter', [`--net=${netns}`, process.execPath, ...HELPER_FLAGS, HELPER], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // A clean environment: the daemon's own (NODE_OPTIONS with an inspector or heap sizes, …) is not the helper's.
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    const h: Helper = { child, pending: new Map(), active: 0, cancelIdle: () => {}, ready: Promise.resolve() };
    child.on('message', (reply: DialReply, socket: net.Socket | undefined) => {
      const waiter = h.pending.get(reply?.id);
      if (!waiter) return void socket?.destroy(); // its dial was aborted
      h.pending.delete(reply.id);
      waiter(reply, socket);
    });
    h.ready = new Promise<void>((resolve, reject) => {
      h.pending.set(0, () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`port-forward helper for ${netns} exited (${code}): ${stderr.trim()}`)));
    });
    h.ready.catch(() => undefined);
    child.once('exit', () => {
      if (this.helpers.get(netns) === h) this.helpers.delete(netns);
      h.cancelIdle();
      const left = [...h.pending.values()];
      h.pending.clear();
      for (const w of left) w({ id: -1, code: 'EIO', message: `port-forward helper exited: ${stderr.trim()}` }, undefined);
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

/** dialError is a failed dial as the pair's error stream reports it, with the cause's errno code (EIO if none). */
function dialError(port: number, message: string | undefined, code: string | undefined): NodeJS.ErrnoException {
  const err = new Error(`dial tcp localhost:${port}: ${message}`) as NodeJS.ErrnoException;
  err.code = code ?? 'EIO';
  return err;
}

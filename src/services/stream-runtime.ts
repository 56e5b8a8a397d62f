import { constants as fsc } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';
import { createRequire } from 'node:module';
import type * as Pty from 'node-pty';
import { RuntimeError, errorMessage, internal } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { ChildProcess, ProcessRunner } from '../sys/process-runner.js';
import { connectSeqpacket, type PacketSocket } from '../sys/seqpacket.js';
import { removeFile } from '../store/atomic-file.js';
import { outputTo, pumpPackets, pumpToFd, sharedSource, terminalSource } from './stream-flow.js';

// node-pty (and its native addon) is loaded at the first exec with a TTY (createRequire keeps that synchronous): an
// idle daemon does not need it.
const requireLazy = createRequire(import.meta.url);
let ptyModule: typeof Pty | undefined;
const pty = (): typeof Pty => (ptyModule ??= requireLazy('node-pty') as typeof Pty);

/** StreamContainer is what exec and attach need to know about a running container. */
export interface StreamContainer {
  id: string;
  /** runcRoot is the `--root` runc was given for this container. */
  runcRoot: string;
  bundleDir: string;
  /** attachSocketPath is conmon's SEQPACKET attach socket. */
  attachSocketPath: string;
  /** ctlPipePath is conmon's control FIFO (`<bundle>/ctl`): "1 <height> <width>\n" resizes the terminal. */
  ctlPipePath: string;
  tty: boolean;
  stdin: boolean;
}

/**
 * ContainerLookup is what streaming needs from the container lifecycle. `runningContainer` throws NotFound for an
 * unknown id and FailedPrecondition for a container that is not running; `podNetns` gives the path of a ready pod's
 * network namespace (null for a host-network pod) and throws NotFound or FailedPrecondition likewise.
 */
export interface ContainerLookup {
  runningContainer(id: string): Promise<StreamContainer>;
  podNetns(podSandboxId: string): Promise<string | null>;
}

/** PodDialer opens a TCP connection to localhost:port inside a network namespace (null = the host's). */
export interface PodDialer {
  dial(netnsPath: string | null, port: number, signal: AbortSignal): Promise<Duplex>;
}

interface TerminalSize {
  width: number;
  height: number;
}

/** CommandIO mirrors the streaming package's StreamIO (services cannot import streaming). */
export interface CommandIO {
  tty: boolean;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize: EventEmitter;
  terminalSize(): TerminalSize | undefined;
  signal: AbortSignal;
}

/**
 * ExecLauncher is what streaming exec needs from the runc module (src/runtime/runc.ts, the one place that knows
 * runc's command line; its `Runc` satisfies this as it is): the program and the full argv of `runc exec`. The
 * stream runtime starts it itself, through the ProcessRunner with pipes, or under a node-pty terminal with a TTY.
 */
export interface ExecLauncher {
  readonly path: string;
  execArgs(id: string, cmd: readonly string[], o: { pidFile?: string; tty?: boolean }): string[];
}

/** RuncStreamRuntimeDeps are the parts the stream runtime drives. */
export interface RuncStreamRuntimeDeps {
  lookup: ContainerLookup;
  runner: ProcessRunner;
  dialer: PodDialer;
  /** exec is the lifecycle's Runc; without it, `runcPath` with the container's `--root` is used (a stand-in). */
  exec?: ExecLauncher;
  runcPath?: string;
  log: Logger;
}

/** standInLauncher builds `runc --root R exec …` until the daemon passes the lifecycle's Runc as `exec`. */
function standInLauncher(path: string, root: string): ExecLauncher {
  return { path, execArgs: (id, cmd, o) => ['--root', root, 'exec', ...(o.tty ? ['-t'] : []), ...(o.pidFile ? ['--pid-file', o.pidFile] : []), id, ...cmd] };
}

/** ATTACH_STDOUT and ATTACH_STDERR are the pipe numbers conmon puts first in each attach packet (1 is stdin). */
const ATTACH_STDOUT = 2;
const ATTACH_STDERR = 3;

/** STDIN_PACKET caps one packet written to conmon's attach socket (conmon reads at most 32 KiB − 1 per packet). */
const STDIN_PACKET = 8192;
/** STDIN_IN_FLIGHT bounds the stdin bytes written to the attach socket that the kernel has not taken yet. */
const STDIN_IN_FLIGHT = 64 * 1024;
/** EOT is a terminal's end-of-file character (^D), what the end of a client's stdin becomes under a TTY. */
const EOT = Buffer.from([4]);

/**
 * RuncStreamRuntime carries out streaming exec, attach and port-forward: `runc exec` with pipes, or with `-t` under
 * a node-pty terminal; attach through conmon's attach socket and control pipe; port-forward through a PodDialer.
 * It implements the streaming server's StreamRuntime interface.
 */
export class RuncStreamRuntime {
  constructor(private readonly d: RuncStreamRuntimeDeps) {}

  /** exec runs `cmd` in a running container and resolves with its exit code. */
  async exec(containerId: string, cmd: readonly string[], io: CommandIO): Promise<{ exitCode: number }> {
    const c = await this.d.lookup.runningContainer(containerId);
    // The pid file names the exec'd process, so that a departed client's command can be killed itself: SIGKILL to
    // runc would orphan it (runc forwards catchable signals only).
    const pidFile = join(c.bundleDir, `exec-${randomBytes(6).toString('hex')}.pid`);
    const runc = this.d.exec ?? standInLauncher(this.d.runcPath ?? 'runc', c.runcRoot);
    const args = runc.execArgs(c.id, cmd, { tty: io.tty, pidFile });
    const kill = () => void this.killExec(pidFile);
    io.signal.addEventListener('abort', kill, { once: true });
    try {
      // A client that left during the lookup would leave a process nobody kills.
      if (io.signal.aborted) throw internal(`exec in ${c.id}: the client went away`);
      return { exitCode: io.tty ? await this.execTty(runc.path, args, io) : await this.execPipes(runc.path, args, io) };
    } finally {
      io.signal.removeEventListener('abort', kill);
      // runc wrote the pid file and has exited: the status need not wait for its removal (~1-2 ms on a busy host).
      removeFile(pidFile).catch((err: unknown) => this.d.log.warn({ err, pidFile }, 'removing an exec pid file failed'));
    }
  }

  private async killExec(pidFile: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async execPipes(runc: string, args: string[], io: CommandIO): Promise<number> {
    const child: ChildProcess = this.d.runner.spawn(runc, args, {
      stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', 'pipe'],
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + 9 : 255)));
    });
    const copies: Promise<unknown>[] = [];
    if (io.stdin && child.stdin) {
      const cin = child.stdin;
      cin.on('error', () => {});
      io.stdin.pipe(cin);
      io.stdin.once('end', () => cin.end());
    }
    if (io.stdout && child.stdout) copies.push(copyOut(child.stdout, io.stdout));
    // runc's own errors arrive on stderr too; without a stderr stream they are only logged.
    if (child.stderr) {
      if (io.stderr) copies.push(copyOut(child.stderr, io.stderr));
      else child.stderr.on('data', (b: Buffer) => this.d.log.debug({ stderr: b.toString().slice(0, 500) }, 'exec stderr'));
    }
    const code = await exited;
    await Promise.all(copies);
    io.stdin?.unpipe();
    return code;
  }

  private async execTty(runc: string, args: string[], io: CommandIO): Promise<number> {
    const size = io.terminalSize();
    const term = pty().spawn(runc, args, { name: 'xterm', cols: size?.width || 80, rows: size?.height || 24, env: { TERM: 'xterm' } });
    const onResize = (s: TerminalSize) => s.width > 0 && s.height > 0 && term.resize(s.width, s.height);
    io.resize.on('resize', onResize);
    // Output waits for the client: the terminal is not read while the client's stream is full.
    const source = terminalSource(term);
    const write = io.stdout ? outputTo(io.stdout, source) : undefined;
    const out = term.onData((d) => write?.(d));
    // Input is written to the terminal's descriptor one chunk at a time, raw bytes; a terminal has no half-close:
    // the end of the client's stdin becomes the terminal's EOF character, after the last byte.
    const fd = (term as unknown as { fd?: unknown }).fd;
    const pump = io.stdin && typeof fd === 'number' ? pumpToFd(io.stdin, fd, EOT) : undefined;
    try {
      return await new Promise<number>((resolve) => term.onExit(({ exitCode, signal }) => resolve(signal ? 128 + signal : exitCode)));
    } finally {
      out.dispose();
      source.stop();
      pump?.stop();
      io.resize.off('resize', onResize);
    }
  }

  /** attach joins the container's stdio through conmon until the container exits or the client leaves. */
  async attach(containerId: string, io: CommandIO): Promise<void> {
    const c = await this.d.lookup.runningContainer(containerId);
    let sock: PacketSocket;
    try {
      sock = await connectSeqpacket(c.attachSocketPath);
    } catch (e) {
      throw internal(`connecting to the attach socket of ${containerId}: ${errorMessage(e)}`);
    }
    const done = new Promise<void>((resolve) => {
      sock.once('end', () => resolve());
      sock.once('close', () => resolve());
      sock.on('error', () => resolve());
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    // The socket is not read while the client's stdout or stderr is full; conmon's writes to it then block.
    const source = sharedSource(sock);
    const toOut = io.stdout ? outputTo(io.stdout, source) : undefined;
    const toErr = io.tty ? toOut : io.stderr ? outputTo(io.stderr, source) : undefined;
    sock.on('data', (pkt: Buffer) => {
      if (pkt.length < 2 || (pkt[0] !== ATTACH_STDOUT && pkt[0] !== ATTACH_STDERR)) return;
      // conmon's first byte names the pipe (its stdpipe_t): 2 stdout, 3 stderr; with a terminal all is stdout.
      (pkt[0] === ATTACH_STDERR ? toErr : toOut)?.(pkt.subarray(1));
    });
    const onResize = (s: TerminalSize) => void this.resize(c.ctlPipePath, s);
    if (io.tty) io.resize.on('resize', onResize);
    if (io.stdin && c.stdin) {
      pumpPackets(io.stdin, sock, STDIN_PACKET, STDIN_IN_FLIGHT);
      // Half-closing makes conmon close the container's stdin unless it runs with --leave-stdin-open (stdin_once).
      io.stdin.once('end', () => sock.end());
    } else {
      io.stdin?.resume();
    }
    try {
      await done;
    } finally {
      io.resize.off('resize', onResize);
      sock.destroy();
    }
  }

  private async resize(ctlPipe: string, s: TerminalSize): Promise<void> {
    try {
      const fh = await open(ctlPipe, fsc.O_WRONLY | fsc.O_NONBLOCK);
      try {
        await fh.write(`1 ${s.height} ${s.width}\n`);
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.d.log.debug({ err, ctlPipe }, 'terminal resize through conmon failed');
    }
  }

  /** portForward connects `stream` to localhost:port in the pod's network namespace until both sides are done. */
  async portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    const netns = await this.d.lookup.podNetns(podSandboxId);
    const conn = await this.d.dialer.dial(netns, port, signal);
    const kill = () => conn.destroy();
    signal.addEventListener('abort', kill, { once: true });
    try {
      const [up, down] = await Promise.allSettled([forward(stream, conn), forward(conn, stream)]);
      const failed = [up, down].find((r) => r.status === 'rejected');
      if (failed && !signal.aborted) {
        const err = failed.reason as NodeJS.ErrnoException;
        if (err.code === 'ECONNRESET' || err.code === 'EPIPE') throw internal(`connection reset by the pod's port ${port}: ${err.message}`);
      }
    } finally {
      signal.removeEventListener('abort', kill);
      conn.destroy();
    }
  }
}

/** StreamRequestShape mirrors the streaming package's StreamRequest: what a token stands for. */
export type StreamRequestShape =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; podSandboxId: string; ports: number[] };

/** StreamUrlIssuer stores a request and gives its one-time URL (the streaming server implements it). */
export interface StreamUrlIssuer {
  issue(req: StreamRequestShape): string;
}

/**
 * StreamService backs the Exec, Attach and PortForward verbs: it checks that the container runs (or the pod is
 * ready) and returns the URL the client upgrades. The request's shape was checked by the verb already.
 */
export class StreamService {
  constructor(
    private readonly lookup: ContainerLookup,
    private readonly issuer: StreamUrlIssuer,
  ) {}

  /** exec issues an exec URL. */
  async exec(r: { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<string> {
    await this.lookup.runningContainer(r.containerId);
    return this.issuer.issue({ kind: 'exec', ...r });
  }

  /** attach issues an attach URL. */
  async attach(r: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<string> {
    await this.lookup.runningContainer(r.containerId);
    return this.issuer.issue({ kind: 'attach', ...r });
  }

  /** portForward issues a port-forward URL. */
  async portForward(podSandboxId: string, ports: number[]): Promise<string> {
    await this.lookup.podNetns(podSandboxId);
    return this.issuer.issue({ kind: 'portforward', podSandboxId, ports });
  }
}

/** noContainerLookup knows no containers and no pods: the stand-in until the lifecycle provides a lookup. */
export const noContainerLookup: ContainerLookup = {
  runningContainer: (id) => Promise.reject(new RuntimeError('NotFound', `container ${JSON.stringify(id)} not found`)),
  podNetns: (id) => Promise.reject(new RuntimeError('NotFound', `pod sandbox ${JSON.stringify(id)} not found`)),
};

/**
 * copyOut copies a child's output into a client's stream without ending that stream, and resolves once the output
 * has ended (or failed). A client stream that goes away first destroys the child's pipe, so that the program gets
 * EPIPE instead of blocking on a full pipe. (stream.promises.pipeline does the same with an AbortController per
 * copy, whose AbortError with its stack trace cost ~0.1 ms per exec.)
 */
function copyOut(src: Readable, dst: Writable): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      src.unpipe(dst);
      dst.off('close', gone);
      dst.off('error', gone);
      resolve();
    };
    const gone = () => {
      src.destroy();
      done();
    };
    src.once('end', done);
    src.once('error', done);
    src.once('close', done);
    dst.once('close', gone);
    dst.once('error', gone);
    src.pipe(dst, { end: false });
  });
}

/**
 * forward copies `src` into `dst` and ends `dst` once `src` has ended, as stream.pipeline does: it resolves when
 * `dst` has finished, and on the first error of either side (or a close before the end) destroys both and rejects.
 * pipeline's AbortController costs an AbortError with its stack trace per call, two per port-forward connection.
 */
function forward(src: Readable, dst: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = () => {
      settled = true;
      src.off('error', fail);
      dst.off('error', fail);
      src.off('close', srcClosed);
      dst.off('close', dstClosed);
      dst.off('finish', done);
    };
    const done = () => {
      if (settled) return;
      settle();
      resolve();
    };
    const fail = (err: Error) => {
      if (settled) return;
      settle();
      src.destroy();
      dst.destroy();
      reject(err);
    };
    const srcClosed = () => {
      if (!src.readableEnded) fail(prematureClose());
    };
    const dstClosed = () => {
      if (!dst.writableFinished) fail(prematureClose());
    };
    src.on('error', fail);
    dst.on('error', fail);
    src.once('close', srcClosed);
    dst.once('close', dstClosed);
    dst.once('finish', done);
    src.pipe(dst);
  });
}

/** prematureClose is the error pipeline gives for a stream closed before its end. */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

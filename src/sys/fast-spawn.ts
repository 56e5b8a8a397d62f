import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

/**
 * SpawnAddon is the native part (native/spawn/spawn.c): posix_spawn(3), a pidfd watched on Node's loop, and
 * waitid(P_PIDFD) to reap. See that file for the meaning of each argument.
 */
export interface SpawnAddon {
  probe(): number;
  spawn(
    file: string,
    argv: string[],
    envp: string[] | null,
    cwd: string | null,
    stdio: number[],
    setsid: boolean,
    onexit: (code: number, signo: number) => void,
  ): number | [unknown, number, ...number[]];
  /**
   * spawnAsync is spawn with posix_spawn on a thread of its own (its vfork holds the calling thread until the child
   * has exec'd): it gives [handle, parent fds...] at once and calls onspawn with the pid or -errno later on the loop.
   * Absent from an addon built before it.
   */
  spawnAsync?(
    file: string,
    argv: string[],
    envp: string[] | null,
    cwd: string | null,
    stdio: number[],
    setsid: boolean,
    onexit: (code: number, signo: number) => void,
    onspawn: (pidOrErrno: number) => void,
  ): number | [unknown, ...number[]];
  kill(handle: unknown, signo: number): number;
  ref(handle: unknown, on: boolean): void;
}

const ADDON_PATH = join('native', 'spawn', 'build', 'Release', 'fune_spawn.node');
const IGNORE = -1;
const PIPE = -2;

/** loadSpawnAddon finds and loads the built addon above this module (src/sys or dist/src/sys); it throws why not. */
export function loadSpawnAddon(): SpawnAddon {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, ADDON_PATH);
    if (!existsSync(file)) continue;
    const addon = createRequire(import.meta.url)(file) as SpawnAddon;
    const probe = addon.probe();
    if (probe < 0) throw new Error(`pidfd_open does not work here: ${getSystemErrorName(probe)}`);
    return addon;
  }
  throw new Error(`${ADDON_PATH} was not built (hack/build-native.sh)`);
}

/** FastSpawnOptions are the spawn options the addon serves; anything else is left to child_process. */
export interface FastSpawnOptions {
  /** env is the child's environment; null gives it the daemon's own (C's environ, which process.env writes through). */
  env: NodeJS.ProcessEnv | null;
  cwd?: string | URL | undefined;
  stdio?: unknown;
  detached?: boolean | undefined;
}

const SERVED = new Set(['env', 'cwd', 'stdio', 'detached']);

/**
 * stdioPlan turns Node's stdio option into the addon's per-fd plan (IGNORE, PIPE or an fd to inherit), or undefined
 * when it holds something the addon does not do ('ipc', streams).
 */
export function stdioPlan(stdio: unknown): number[] | undefined {
  const list: unknown[] = Array.isArray(stdio) ? [...(stdio as unknown[])] : [stdio ?? 'pipe', stdio ?? 'pipe', stdio ?? 'pipe'];
  while (list.length < 3) list.push(undefined);
  const plan: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (s === 'pipe' || s === 'overlapped' || ((s === null || s === undefined) && i < 3)) plan.push(PIPE);
    else if (s === 'ignore' || s === null || s === undefined) plan.push(IGNORE);
    else if (s === 'inherit') plan.push(i);
    else if (typeof s === 'number' && Number.isInteger(s) && s >= 0) plan.push(s);
    else return undefined;
  }
  return plan;
}

const hasNul = (s: string) => s.includes('\0');
const signalNames = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));

function errnoError(errno: number, syscall: string, file?: string, args?: string[]): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  const e: NodeJS.ErrnoException & { spawnargs?: string[] } = new Error(`${syscall} ${code}`);
  e.errno = errno;
  e.code = code;
  e.syscall = syscall;
  if (file !== undefined) e.path = file;
  if (args) e.spawnargs = args;
  return e;
}

/**
 * FastChild is what the addon's spawn hands back: the parts of ChildProcess that fune's callers use, with the same
 * events in the same order ('spawn'; 'exit' (code, signal) once reaped; 'close' once exited and every stdio pipe
 * of fd 1 and above has closed; 'error' instead of 'exit' when the program could not be started).
 */
export class FastChild extends EventEmitter {
  pid: number | undefined = undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  readonly stdio: [Writable | null, Readable | null, Readable | null, Readable | Writable | null | undefined, Readable | Writable | null | undefined];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  readonly connected = false;
  readonly spawnfile: string;
  readonly spawnargs: string[];
  private handle: unknown = undefined;
  /** pendingSignal is the last signal asked for before the addon's thread had started the child. */
  private pendingSignal: number | undefined = undefined;
  private closesNeeded = 1;
  private closesGot = 0;

  constructor(
    private readonly addon: SpawnAddon,
    file: string,
    args: readonly string[],
    opts: FastSpawnOptions,
    plan: number[],
    env: string[] | null,
  ) {
    super();
    this.spawnfile = file;
    this.spawnargs = [file, ...args];
    const cwd = opts.cwd === undefined ? null : opts.cwd instanceof URL ? fileURLToPath(opts.cwd) : opts.cwd;
    const streams: (Readable | Writable | null)[] = plan.map(() => null);
    const pipes = (fds: number[]) =>
      plan.forEach((p, i) => {
        const fd = fds[i];
        if (p !== PIPE || fd === undefined || fd < 0) return;
        const s = i === 0 ? new Socket({ fd, readable: false, writable: true }) : new Socket({ fd, readable: true, writable: false });
        streams[i] = s;
        if (i > 0) {
          this.closesNeeded++;
          s.once('close', () => this.maybeClose());
        }
      });
    const failed = (res: number) => {
      this.exitCode = res;
      this.emit('error', errnoError(res, `spawn ${file}`, file, [...args]));
      this.maybeClose();
    };
    const onExit = (code: number, signo: number) => this.onExit(code, signo);
    if (addon.spawnAsync) {
      // posix_spawn on the addon's thread: the pipes exist now, the pid comes with onspawn (then 'spawn', or
      // 'error' as child_process reports a program it could not start, the pipes' ends then closed).
      const res = addon.spawnAsync(file, this.spawnargs, env, cwd, plan, !!opts.detached, onExit, (pid) => {
        if (pid > 0) {
          this.pid = pid;
          this.emit('spawn');
          if (this.pendingSignal !== undefined) this.kill(this.pendingSignal);
          return;
        }
        this.handle = undefined;
        for (const s of streams) s?.destroy();
        failed(pid);
      });
      if (typeof res === 'number') throw errnoError(res, 'spawn');
      this.handle = res[0];
      pipes(res.slice(1) as number[]);
    } else {
      const res = addon.spawn(file, this.spawnargs, env, cwd, plan, !!opts.detached, onExit);
      if (typeof res === 'number') {
        // Like child_process: a missing or unexecutable program (or no fds/processes left) is an 'error' event;
        // anything else throws.
        if (![-2, -13, -11, -24, -23].includes(res)) throw errnoError(res, 'spawn');
        plan.forEach((p, i) => p === PIPE && (streams[i] = new Socket()));
        process.nextTick(() => failed(res));
      } else {
        this.handle = res[0];
        this.pid = res[1];
        pipes(res.slice(2) as number[]);
        process.nextTick(() => this.emit('spawn'));
      }
    }
    this.stdio = [streams[0] as Writable | null, streams[1] as Readable | null, streams[2] as Readable | null, streams[3], streams[4]];
    for (let i = 5; i < streams.length; i++) (this.stdio as unknown[]).push(streams[i]);
    this.stdin = this.stdio[0];
    this.stdout = this.stdio[1];
    this.stderr = this.stdio[2];
  }

  /** kill sends a signal (SIGTERM by default) through the pidfd; false once the child was reaped. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const signo = typeof signal === 'number' ? signal : osConstants.signals[signal];
    if (signo === undefined) throw new TypeError(`Unknown signal: ${String(signal)}`);
    if (this.handle === undefined) return false;
    const err = this.addon.kill(this.handle, signo);
    if (err === -11 /* EAGAIN: not started yet */) {
      this.pendingSignal = signo;
      this.killed = true;
      return true;
    }
    if (err === 0) {
      this.killed = true;
      return true;
    }
    if (err !== -3 /* ESRCH */) this.emit('error', errnoError(err, 'kill'));
    return false;
  }

  /** ref makes the running child keep Node's loop alive (the default). */
  ref(): void {
    if (this.handle !== undefined) this.addon.ref(this.handle, true);
  }

  /** unref lets Node's loop end while the child runs. */
  unref(): void {
    if (this.handle !== undefined) this.addon.ref(this.handle, false);
  }

  private onExit(code: number, signo: number): void {
    if (signo) this.signalCode = signalNames.get(signo) ?? null;
    else if (code >= 0) this.exitCode = code;
    this.stdin?.destroy();
    this.handle = undefined;
    this.emit('exit', this.exitCode, this.signalCode);
    // As child_process does: output nobody reads is drained so that its pipe closes and 'close' can come.
    process.nextTick(() => {
      for (const s of this.stdio) {
        const r = s as Readable | null | undefined;
        if (r && r.readable && r.readableFlowing === null && r.listenerCount('readable') === 0) r.resume();
      }
    });
    this.maybeClose();
  }

  private maybeClose(): void {
    if (++this.closesGot === this.closesNeeded) this.emit('close', this.exitCode, this.signalCode);
  }
}

/**
 * fastSpawn starts `file` through the addon, or gives undefined when an option is one the addon does not serve (the
 * caller then uses child_process, which also reports bad arguments the usual way).
 */
export function fastSpawn(addon: SpawnAddon, file: string, args: readonly string[], opts: FastSpawnOptions): FastChild | undefined {
  for (const [k, v] of Object.entries(opts)) if (v !== undefined && !SERVED.has(k)) return undefined;
  const plan = stdioPlan(opts.stdio);
  if (!plan || plan.length > 64) return undefined;
  if (typeof file !== 'string' || file === '' || hasNul(file) || args.some((a) => typeof a !== 'string' || hasNul(a))) return undefined;
  if (opts.cwd !== undefined && typeof opts.cwd !== 'string' && !(opts.cwd instanceof URL)) return undefined;
  let env: string[] | null = null;
  if (opts.env) {
    env = [];
    for (const [k, v] of Object.entries(opts.env)) {
      if (v === undefined) continue;
      const pair = `${k}=${v}`;
      if (hasNul(pair)) return undefined;
      env.push(pair);
    }
  }
  return new FastChild(addon, file, args, opts, plan, env);
}

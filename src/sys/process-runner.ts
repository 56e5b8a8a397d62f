import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';
import { RuntimeError, type ErrorKind } from '../errors/index.js';
import { fastSpawn, loadSpawnAddon, type FastChild, type SpawnAddon } from './fast-spawn.js';

export type { ChildProcess, SpawnOptions } from 'node:child_process';

/** RunOptions tune one run of a helper program. */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** input is written to the program's stdin, which is then closed. */
  input?: string | Buffer;
  /** timeoutMs kills the program (SIGKILL) when it runs longer; 0 or absent = no limit. */
  timeoutMs?: number;
  /** signal aborts the run (SIGKILL) when it fires. */
  signal?: AbortSignal;
  /** maxOutput caps the bytes kept of stdout and of stderr each (the rest is read and dropped). */
  maxOutput?: number;
}

/** RunResult is what a finished program left behind. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** timedOut is true when the run was ended by timeoutMs. */
  timedOut: boolean;
}

/**
 * ProcessRunner is the seam through which fune starts every helper program (runc, conmon, CNI plugins, mount, …).
 * This module is the only importer of `node:child_process`.
 */
export interface ProcessRunner {
  /** run starts `cmd` and collects its output until it exits. It never rejects for a non-zero exit. */
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** spawn starts `cmd` and hands the child over, for streaming and long-lived helpers. */
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * The members of ChildProcess that fune's callers use (with the EventEmitter methods); FastChild must provide them
 * all (checked below). It has no IPC channel: 'ipc' stdio always goes to child_process.
 */
type UsedOfChild = Pick<ChildProcess, 'pid' | 'stdin' | 'stdout' | 'stderr' | 'stdio' | 'exitCode' | 'signalCode' | 'killed' | 'kill' | 'ref' | 'unref' | 'spawnfile' | 'spawnargs'>;

/**
 * createProcessRunner makes a runner that starts programs through the posix_spawn addon when it is given and the
 * options are ones it serves (env, cwd, detached, stdio of 'pipe'/'ignore'/'inherit'/fd numbers), else through
 * child_process.spawn. Node's spawn forks the whole daemon and holds the event loop until the child has exec'd;
 * posix_spawn (clone with CLONE_VM|CLONE_VFORK) copies no page tables.
 */
export function createProcessRunner(addon: SpawnAddon | null): ProcessRunner {
  const start = (cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess => {
    // The daemon's own environment is handed over as C's environ (process.env writes through to it on the main
    // thread), which spares copying it into strings for every start.
    const env = opts.env ?? process.env;
    const fast: FastChild | undefined = addon ? fastSpawn(addon, cmd, args, { ...opts, env: env === process.env && isMainThread ? null : env }) : undefined;
    if (!fast) return nodeSpawn(cmd, [...args], opts);
    const used: UsedOfChild = fast;
    return used as ChildProcess;
  };
  return {
    spawn: (cmd, args, opts = {}) => start(cmd, args, opts),
    run(cmd, args, opts = {}) {
      return new Promise((resolve, reject) => {
        const max = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
        const child = start(cmd, args, {
          env: opts.env ?? process.env,
          cwd: opts.cwd,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let outLen = 0;
        let errLen = 0;
        let timedOut = false;
        const stdout = child.stdout!;
        const stderr = child.stderr!;
        const stdin = child.stdin!;
        stdout.on('data', (b: Buffer) => {
          if (outLen < max) out.push(b.subarray(0, max - outLen));
          outLen += b.length;
        });
        stderr.on('data', (b: Buffer) => {
          if (errLen < max) err.push(b.subarray(0, max - errLen));
          errLen += b.length;
        });
        const kill = () => child.kill('SIGKILL');
        const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
        opts.signal?.addEventListener('abort', kill, { once: true });
        stdin.on('error', () => {}); // the program may exit before reading its input
        child.on('error', (e) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', kill);
          reject(e);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', kill);
          resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut });
        });
        stdin.end(opts.input ?? undefined);
      });
    },
  };
}

let addonState: { addon: SpawnAddon | null; why: string } | undefined;

/**
 * spawnerInUse loads the addon once and says which spawner the default runner uses, and why. FUNE_SPAWNER=
 * child_process (or posix_spawn) overrides the default, for side-by-side measurements and as an escape hatch;
 * FUNE_SPAWNER=posix_spawn_sync runs the addon's posix_spawn on Node's own thread (its spawn, not spawnAsync).
 */
export function spawnerInUse(): { addon: SpawnAddon | null; why: string } {
  if (!addonState) {
    const choice = process.env.FUNE_SPAWNER ?? 'posix_spawn';
    if (choice === 'child_process') addonState = { addon: null, why: 'child_process.spawn (FUNE_SPAWNER=child_process)' };
    else {
      try {
        const addon = loadSpawnAddon();
        // posix_spawn_sync: the addon's spawn on Node's own thread, as before spawnAsync (for A/B measurements).
        const onMainThread: SpawnAddon = { probe: () => addon.probe(), spawn: (...a) => addon.spawn(...a), kill: (h, s) => addon.kill(h, s), ref: (h, on) => addon.ref(h, on) };
        if (choice === 'posix_spawn_sync') addonState = { addon: onMainThread, why: 'posix_spawn addon, on the main thread (FUNE_SPAWNER=posix_spawn_sync)' };
        else addonState = { addon, why: addon.spawnAsync ? 'posix_spawn addon' : 'posix_spawn addon (built without spawnAsync: on the main thread)' };
      } catch (e) {
        addonState = { addon: null, why: `child_process.spawn: ${(e as Error).message}` };
      }
    }
  }
  return addonState;
}

/**
 * nodeProcessRunner runs programs for real: through the posix_spawn addon when it was built (and not switched off),
 * else through child_process.
 */
export const nodeProcessRunner: ProcessRunner = createProcessRunner(spawnerInUse().addon);

/** tail gives the last `n` characters of a buffer as trimmed text, for error messages. */
export function tail(buf: Buffer | string, n = 2000): string {
  const s = buf.toString().trim();
  return s.length > n ? '…' + s.slice(-n) : s;
}

/**
 * runChecked runs a program and throws a RuntimeError (of `kind`, Internal by default) naming argv, the exit
 * status and the stderr tail when it does not exit 0.
 */
export async function runChecked(
  runner: ProcessRunner,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
  kind: ErrorKind = 'Internal',
): Promise<RunResult> {
  const res = await runner.run(cmd, args, opts);
  if (res.code !== 0) {
    const how = res.timedOut ? `timed out after ${opts.timeoutMs} ms` : res.signal ? `killed by ${res.signal}` : `exit status ${res.code}`;
    const detail = tail(res.stderr) || tail(res.stdout);
    throw new RuntimeError(kind, `${cmd} ${args.join(' ')}: ${how}${detail ? `: ${detail}` : ''}`);
  }
  return res;
}

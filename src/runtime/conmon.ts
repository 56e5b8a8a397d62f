import { constants as fsc, existsSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RuntimeError, internal } from '../errors/index.js';
import type { ProcessRunner } from '../sys/process-runner.js';
import { classifyRuncError, runcMessage } from './runc.js';

/** ConmonDeps configure the one module that runs conmon. */
export interface ConmonDeps {
  runner: ProcessRunner;
  /**
   * env is added to conmon's (and so runc's) environment: inside a user namespace the user bus (userBusEnv), which
   * runc's systemd driver needs to reach the user's manager; without it runc tries /run/user/0/bus (EACCES).
   */
  env?: Record<string, string>;
  conmonPath: string;
  runcPath: string;
  /** runcRoot and runcLogDir are passed on to runc (`--runtime-arg`), the same as Runc uses. */
  runcRoot: string;
  runcLogDir: string;
  /** exitDir receives one file per container, named by its id, holding its exit code. */
  exitDir: string;
  /** socketDir holds `<id>` → bundle links; the attach socket is `<socketDir>/<id>/attach`. */
  socketDir: string;
  systemdCgroup: boolean;
  /** logLevel is conmon's own log level (its stderr goes to `<bundle>/conmon.log`). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** timeoutMs bounds the wait for `runc create` under conmon (default 60 s). */
  timeoutMs?: number;
}

/** ConmonCreate describes one container for conmon to create. */
export interface ConmonCreate {
  id: string;
  bundle: string;
  /** logPath is the CRI log file conmon writes ('' = /dev/null). */
  logPath: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

/** ExitInfo is what an exit file says: the exit code, and when it was written (ns since the epoch, as a string). */
export interface ExitInfo {
  exitCode: number;
  finishedAt: string;
}

/** conmonEnv is the environment conmon runs with: no inheritance, so nothing of the daemon's leaks to containers. */
const CONMON_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };

/** conmonArgs builds conmon's argv for one container (exported for tests). */
export function conmonArgs(d: ConmonDeps, c: ConmonCreate): string[] {
  const args = [
    '--api-version', '1',
    '-c', c.id,
    '-u', c.id,
    '-n', c.id,
    '-r', d.runcPath,
    '-b', c.bundle,
    '-p', join(c.bundle, 'pidfile'),
    '-P', join(c.bundle, 'conmon.pid'),
    '-l', c.logPath ? `k8s-file:${c.logPath}` : 'k8s-file:/dev/null',
    '--exit-dir', d.exitDir,
    '--socket-dir-path', d.socketDir,
    '--persist-dir', c.bundle,
    '--runtime-arg', `--root=${d.runcRoot}`,
    '--runtime-arg', `--log=${join(d.runcLogDir, `${c.id}.log`)}`,
    '--runtime-arg', '--log-format=json',
    '--log-level', d.logLevel ?? 'error',
  ];
  if (d.systemdCgroup) args.push('-s', '--runtime-arg', '--systemd-cgroup');
  if (c.terminal) args.push('-t');
  if (c.stdin) args.push('-i');
  // conmon closes the container's stdin when an attached client leaves (the CRI's stdin_once) unless it is told to
  // leave it open; there is no flag for the default.
  if (c.stdin && !c.stdinOnce) args.push('--leave-stdin-open');
  return args;
}

/**
 * readSyncMessage reads conmon's first sync-pipe message, `{"data": <pid or -1>, "message": "..."}` (API 1).
 * It resolves undefined when the pipe closes without one.
 */
export function readSyncMessage(pipe: Readable): Promise<{ data: number; message?: string } | undefined> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (v: { data: number; message?: string } | undefined, err?: Error) => {
      pipe.removeAllListeners('data');
      pipe.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    pipe.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done(JSON.parse(buf.slice(0, nl)) as { data: number; message?: string });
      } catch (e) {
        done(undefined, internal(`conmon sent a bad sync message ${JSON.stringify(buf.slice(0, 200))}: ${(e as Error).message}`));
      }
    });
    pipe.once('end', () => done(undefined));
    pipe.once('error', (e) => done(undefined, e));
  });
}

/**
 * Conmon is the only place fune runs conmon, CRI-O's container monitor. conmon runs `runc create` for a
 * container, tells fune the container's pid (or runc's error) through a sync pipe (`_OCI_SYNCPIPE`), then stays
 * behind, detached: it holds the container's stdio, writes the CRI log, serves the attach socket and the control
 * FIFO, and writes the exit code to `<exitDir>/<id>`, so containers keep running and their exits are known across
 * daemon restarts.
 */
export class Conmon {
  private readonly timeoutMs: number;

  constructor(private readonly d: ConmonDeps) {
    this.timeoutMs = d.timeoutMs ?? 60_000;
  }

  private dirs?: Promise<unknown>;

  /** dirsMade makes the directories conmon writes into, once per daemon (again after a failure). */
  private async dirsMade(): Promise<void> {
    this.dirs ??= Promise.all([this.d.exitDir, this.d.socketDir, this.d.runcLogDir].map((dir) => mkdir(dir, { recursive: true, mode: 0o700 })));
    try {
      await this.dirs;
    } catch (e) {
      this.dirs = undefined;
      throw e;
    }
  }

  /** create has conmon run `runc create` and gives the container's pid once it exists (not yet started). */
  async create(c: ConmonCreate, signal?: AbortSignal): Promise<{ pid: number }> {
    await this.dirsMade();
    const errLog = await open(join(c.bundle, 'conmon.log'), 'a', 0o600);
    const args = conmonArgs(this.d, c);
    let child;
    try {
      // conmon writes some files (its `oom` marker among them) into its working directory: keep them in the bundle.
      child = this.d.runner.spawn(this.d.conmonPath, args, {
        stdio: ['ignore', 'ignore', errLog.fd, 'pipe'],
        env: this.d.env ? { ...this.d.env, ...CONMON_ENV } : CONMON_ENV,
        detached: true,
        cwd: c.bundle,
      });
    } finally {
      await errLog.close();
    }
    const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(internal(`starting conmon: ${e.message}`))));
    const pipe = child.stdio[3] as Readable;
    const onAbort = () => pipe.destroy(new Error(signal?.aborted ? 'the call was cancelled' : `no answer from conmon within ${this.timeoutMs} ms`));
    const timer = setTimeout(onAbort, this.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let msg: { data: number; message?: string } | undefined;
    try {
      msg = await Promise.race([readSyncMessage(pipe), spawnError]);
    } catch (e) {
      await this.killMonitor(c.bundle);
      throw e instanceof RuntimeError ? e : internal(`conmon for ${c.id}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      child.unref();
    }
    if (!msg || msg.data <= 0) {
      const stderr = msg?.message ?? (await readFile(join(c.bundle, 'conmon.log'), 'utf8').catch(() => ''));
      const text = runcMessage(stderr) || 'conmon exited without reporting the container';
      throw new RuntimeError(classifyRuncError(text) === 'Internal' ? 'Internal' : classifyRuncError(text), `creating container ${c.id}: ${text}`);
    }
    return { pid: msg.data };
  }

  /**
   * killMonitor kills the conmon of a bundle (after a failed create, or at removal). The pid in the bundle may
   * be long gone and reused, so it is killed only while /proc says it is a conmon.
   */
  async killMonitor(bundle: string): Promise<void> {
    const pid = Number((await readFile(join(bundle, 'conmon.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0 && (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'conmon') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** monitorPid gives the pid conmon recorded for itself in the bundle, or 0. */
  async monitorPid(bundle: string): Promise<number> {
    return Number((await readFile(join(bundle, 'conmon.pid'), 'utf8').catch(() => '')).trim()) || 0;
  }

  /** attachSocketPath is conmon's attach socket of container `id` (a short path through the socket dir link). */
  attachSocketPath(id: string): string {
    return join(this.d.socketDir, id, 'attach');
  }

  /** ctlPath is conmon's control FIFO of a bundle. */
  ctlPath(bundle: string): string {
    return join(bundle, 'ctl');
  }

  /** exitFilePath is where conmon writes container `id`'s exit code. */
  exitFilePath(id: string): string {
    return join(this.d.exitDir, id);
  }

  /** hasExit tells whether conmon has written container `id`'s exit file (one stat(), synchronous). */
  hasExit(id: string): boolean {
    return existsSync(this.exitFilePath(id));
  }

  /** readExit reads container `id`'s exit file, or undefined when the container has not exited (as far as conmon knows). */
  async readExit(id: string): Promise<ExitInfo | undefined> {
    const p = this.exitFilePath(id);
    // Every exec, attach and status asks this of a running container, whose exit file does not exist: one stat()
    // in the state directory answers in microseconds, where the thread-pool read below costs two round trips.
    if (!existsSync(p)) return undefined;
    try {
      const [text, st] = await Promise.all([readFile(p, 'utf8'), stat(p, { bigint: true })]);
      const code = Number.parseInt(text.trim(), 10);
      return { exitCode: Number.isFinite(code) ? code : -1, finishedAt: String(st.mtimeNs) };
    } catch {
      return undefined;
    }
  }

  /** oomKilled tells whether conmon saw the container killed for lack of memory (it leaves an `oom` file). */
  async oomKilled(bundle: string): Promise<boolean> {
    try {
      await stat(join(bundle, 'oom'));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * markOom leaves in the bundle the `oom` marker conmon leaves when it sees the container OOM-killed (oomKilled
   * reads it), for a kill fune saw itself (OomWatches). Synchronous: it is written before an exit that follows it
   * can be read.
   */
  markOom(bundle: string): void {
    writeFileSync(join(bundle, 'oom'), '', { mode: 0o600 });
  }

  /** reopenLog asks conmon to reopen the container's log file (control message 2). */
  async reopenLog(bundle: string): Promise<void> {
    const fh = await open(this.ctlPath(bundle), fsc.O_WRONLY | fsc.O_NONBLOCK);
    try {
      await fh.write('2 0 0\n');
    } finally {
      await fh.close();
    }
  }

  /** removeArtifacts removes the exit file and socket link of container `id`. */
  async removeArtifacts(id: string): Promise<void> {
    await rm(this.exitFilePath(id), { force: true });
    await rm(join(this.d.socketDir, id), { force: true });
  }
}

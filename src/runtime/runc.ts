import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rm, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { RuntimeError, type ErrorKind } from '../errors/index.js';
import { tail, type ProcessRunner, type RunOptions } from '../sys/process-runner.js';
import { processAlive } from './proc.js';
import type { Resources as LinuxResources } from '../oci/spec.js';

/** RuncDeps configure the one module that runs runc. */
export interface RuncDeps {
  runner: ProcessRunner;
  runcPath: string;
  /** root is runc's state directory (`--root`), under fune's state dir. */
  root: string;
  /** logDir holds one runc log per container (`--log <logDir>/<id>.log --log-format json`). */
  logDir: string;
  systemdCgroup: boolean;
  /** timeoutMs bounds each runc call (default 60 s). */
  timeoutMs?: number;
}

/** RuncState is `runc state` of one container. */
export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/**
 * classifyRuncError turns runc's stderr into the RuntimeError kind the CRI caller should see: an absent container
 * is NotFound, a container in the wrong state FailedPrecondition, a clash AlreadyExists, the rest Internal.
 */
export function classifyRuncError(stderr: string): ErrorKind {
  if (/does not exist|container not found|no such container/i.test(stderr)) return 'NotFound';
  if (/not running|is stopped|stopped container|process already finished|already finished|is paused|not paused/i.test(stderr)) return 'FailedPrecondition';
  if (/already exists|id already in use/i.test(stderr)) return 'AlreadyExists';
  return 'Internal';
}

/** runcMessage extracts the human part of runc's stderr (plain text or logrus/JSON lines). */
export function runcMessage(stderr: string): string {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith('{')) {
      try {
        const j = JSON.parse(t) as { msg?: string };
        if (j.msg) out.push(j.msg);
        continue;
      } catch {
        // not JSON after all
      }
    }
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(t);
    out.push(m ? m[1]!.replace(/\\"/g, '"') : t);
  }
  return out.join('; ');
}

/**
 * Runc is the only place fune runs runc: every call carries `--root`, a per-container `--log` in JSON and, with
 * the systemd driver, `--systemd-cgroup`; it has a timeout and the caller's signal; a failure becomes a
 * RuntimeError naming argv and runc's message, of the kind classifyRuncError picks.
 */
export class Runc {
  private readonly timeoutMs: number;

  constructor(private readonly d: RuncDeps) {
    this.timeoutMs = d.timeoutMs ?? 60_000;
  }

  get path(): string {
    return this.d.runcPath;
  }
  get root(): string {
    return this.d.root;
  }

  /** logPath is where runc logs about container `id`. */
  logPath(id: string): string {
    return join(this.d.logDir, `${id}.log`);
  }

  /** globalArgs are the options before runc's subcommand, for container `id`. */
  globalArgs(id: string): string[] {
    return ['--root', this.d.root, '--log', this.logPath(id), '--log-format', 'json', ...(this.d.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  private async call(id: string, args: string[], opts: RunOptions = {}): Promise<Buffer> {
    await mkdir(this.d.logDir, { recursive: true, mode: 0o700 });
    const argv = [...this.globalArgs(id), ...args];
    const res = await this.d.runner.run(this.d.runcPath, argv, { timeoutMs: this.timeoutMs, ...opts });
    if (res.code === 0) return res.stdout;
    const stderr = res.stderr.toString();
    const how = res.timedOut ? `timed out after ${opts.timeoutMs ?? this.timeoutMs} ms` : res.signal ? `killed by ${res.signal}` : `exit status ${res.code}`;
    const msg = runcMessage(stderr) || tail(res.stdout);
    throw new RuntimeError(res.timedOut ? 'DeadlineExceeded' : classifyRuncError(stderr), `runc ${args[0] ?? ''} ${id}: ${how}${msg ? `: ${msg}` : ''}`);
  }

  /**
   * run creates and starts container `id` detached from bundle `bundle`, with no monitor (the infra process).
   * runc's stdio is /dev/null so that the container, which inherits it, holds no pipe of ours; errors are read
   * back from runc's JSON log.
   */
  async run(id: string, bundle: string, pidFile: string, signal?: AbortSignal): Promise<void> {
    await mkdir(this.d.logDir, { recursive: true, mode: 0o700 });
    const argv = [...this.globalArgs(id), 'run', '--detach', '--bundle', bundle, '--pid-file', pidFile, id];
    const child = this.d.runner.spawn(this.d.runcPath, argv, { stdio: 'ignore' });
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(kill, this.timeoutMs);
    signal?.addEventListener('abort', kill, { once: true });
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (c) => resolve(c));
      });
      if (code === 0) return;
      const log = await readFile(this.logPath(id), 'utf8').catch(() => '');
      const msg = runcMessage(log.split('\n').filter((l) => /"level":"(error|fatal)"/.test(l)).join('\n') || log);
      throw new RuntimeError(classifyRuncError(msg), `runc run ${id}: exit status ${code}${msg ? `: ${msg}` : ''}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', kill);
    }
  }

  /**
   * start starts a created container. A container made by `runc create` waits in `runc init`, blocked opening
   * its exec FIFO (`<root>/<id>/exec.fifo`) for writing; `runc start` does nothing but open that FIFO, read the
   * byte init writes, wait for end of file (init's descriptor closes on exec), and remove the FIFO (which is what
   * makes runc report the container running). fune does the same in-process, which saves a runc process (10-20 ms
   * of StartContainer). Whenever the FIFO is not there or gives no byte (init gone, or a runtime that works
   * differently), `runc start` runs as before and has the last word, with its own error.
   */
  async start(id: string, signal?: AbortSignal, initPid?: number): Promise<void> {
    if (await this.startThroughFifo(id, signal, initPid)) return;
    await this.call(id, ['start', id], { signal });
  }

  /** startThroughFifo is `runc start` done in-process (see start); false when it could not be done that way. */
  private async startThroughFifo(id: string, signal?: AbortSignal, initPid?: number): Promise<boolean> {
    const fifo = join(this.d.root, id, 'exec.fifo');
    // O_NONBLOCK: the open never waits for a writer. init, blocked in its open for writing, already counts as
    // one, so reads give EAGAIN until its byte arrives and end of file once it has exec'd (or died).
    const fh = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return false;
    let got = 0;
    try {
      const buf = Buffer.alloc(16);
      const deadline = Date.now() + this.timeoutMs;
      for (let wait = 0; ; wait = Math.min(wait ? wait * 2 : 1, 50)) {
        signal?.throwIfAborted();
        try {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          // End of file before any byte: no writer has the FIFO open. Either init died, or `runc create` returned
          // before init reached its open. In the second case our open read end lets init's open succeed at any
          // moment, write its byte and exec, so giving up now would race it (`runc start` then finds the container
          // already stopped): wait for the byte while init lives.
          if (bytesRead === 0 && got === 0 && initPid && (await processAlive(initPid)) && Date.now() <= deadline) {
            await sleep(wait);
            continue;
          }
          if (bytesRead === 0) break;
          got += bytesRead;
          wait = 0;
          continue;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (Date.now() > deadline) throw new RuntimeError('DeadlineExceeded', `runc start ${id}: init did not take the start signal within ${this.timeoutMs} ms`);
        await sleep(wait);
      }
    } finally {
      await fh.close();
    }
    if (got === 0) return false;
    await unlink(fifo).catch(() => undefined);
    return true;
  }

  /** kill sends `sig` (a number) to the container's init, or with `all` to every process in it. */
  async kill(id: string, sig: number, all = false): Promise<void> {
    await this.call(id, ['kill', ...(all ? ['--all'] : []), id, String(sig)]);
  }

  /** delete removes the container from runc (its state and cgroup); `force` kills it first. Absent is fine. */
  async delete(id: string, force = false): Promise<void> {
    // runc keeps a container's state in <root>/<id>: without it there is nothing to delete, and no runc to start.
    if (!(await access(join(this.d.root, id)).then(() => true, () => false))) {
      await rm(this.logPath(id), { force: true });
      return;
    }
    try {
      await this.call(id, ['delete', ...(force ? ['--force'] : []), id]);
    } catch (e) {
      if (!(e instanceof RuntimeError && e.kind === 'NotFound')) throw e;
    }
    await rm(this.logPath(id), { force: true });
  }

  /** state gives `runc state`, or undefined when runc does not know the container. */
  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse((await this.call(id, ['state', id])).toString()) as RuncState;
    } catch (e) {
      if (e instanceof RuntimeError && e.kind === 'NotFound') return undefined;
      throw e;
    }
  }

  /** list gives every container runc knows under fune's root. */
  async list(): Promise<RuncState[]> {
    const out = await this.call('list', ['list', '--format', 'json']);
    const parsed = JSON.parse(out.toString() || 'null') as RuncState[] | null;
    return parsed ?? [];
  }

  /** update applies new resources to a container's cgroup (`runc update --resources -`). */
  async update(id: string, resources: LinuxResources, signal?: AbortSignal): Promise<void> {
    await this.call(id, ['update', '--resources', '-', id], { input: JSON.stringify(resources), signal });
  }

  /**
   * checkpoint dumps container `id` with CRIU into `imagePath` (`runc checkpoint --leave-running`: the container
   * goes on running), CRIU's own files in `workPath`.
   */
  async checkpoint(id: string, imagePath: string, workPath: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.call(id, ['checkpoint', '--image-path', imagePath, '--work-path', workPath, '--leave-running', '--tcp-established', '--file-locks', id], { timeoutMs, signal });
  }

  /** execArgs gives the full argv (after the runc path) of `runc exec` of `cmd` in container `id`. */
  execArgs(id: string, cmd: readonly string[], o: { pidFile?: string; tty?: boolean } = {}): string[] {
    return [...this.globalArgs(id), 'exec', ...(o.tty ? ['--tty'] : []), ...(o.pidFile ? ['--pid-file', o.pidFile] : []), id, ...cmd];
  }
}

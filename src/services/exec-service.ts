import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '../log/index.js';
import { deadlineExceeded, invalidArgument, internal } from '../errors/index.js';
import type { Runc } from '../runtime/runc.js';
import { killSession, pidNamespace, processAlive, sleep } from '../runtime/proc.js';
import type { ProcessRunner } from '../sys/process-runner.js';
import type { StreamContainer } from './stream-runtime.js';
import { removeFile } from '../store/atomic-file.js';
import type { LifecycleMetrics } from '../domain/metrics-port.js';

/** ExecServiceDeps are what ExecSync works with. */
export interface ExecServiceDeps {
  runc: Runc;
  runner: ProcessRunner;
  lookup: { runningContainer(id: string): Promise<StreamContainer> };
  /** maxOutput caps the bytes kept of each stream (16 MiB). */
  maxOutput: number;
  /** drainMs bounds the wait for stdio EOF once the exec'd process has exited. */
  drainMs: number;
  /** metrics counts timeouts (undefined when `[metrics]` is off). */
  metrics?: Pick<LifecycleMetrics, 'execSyncTimeout'>;
}

/** ExecResult is ExecSync's answer. */
export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** containerPidNs gives the pid namespace of a container's init (its pid is in conmon's `<bundle>/pidfile`). */
async function containerPidNs(bundle: string): Promise<string> {
  const pid = Number((await readFile(join(bundle, 'pidfile'), 'utf8').catch(() => '')).trim()) || 0;
  return pid ? pidNamespace(pid) : '';
}

/** Capture keeps up to `max` bytes of a stream and drops the rest (still reading it, so the writer never blocks). */
class Capture {
  private readonly parts: Buffer[] = [];
  private len = 0;
  readonly ended: Promise<void>;

  constructor(
    stream: Readable,
    private readonly max: number,
  ) {
    stream.on('data', (b: Buffer) => {
      if (this.len < this.max) this.parts.push(b.subarray(0, this.max - this.len));
      this.len += b.length;
    });
    this.ended = new Promise((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
  }

  get value(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/**
 * ExecService is ExecSync: `runc exec` of a command in a running container with stdout and stderr apart. The
 * timeout is fune's: when it passes, every process of the exec's session (runc makes the exec'd process a session
 * leader; what it starts stays in the session even when reparented) is SIGKILLed inside the container's pid
 * namespace, runc is reaped, and the call fails with DEADLINE_EXCEEDED. Output beyond the cap is dropped. Once the
 * exec'd process has exited, a background child still holding stdio can delay the answer by the drain bound only.
 */
export class ExecService {
  constructor(private readonly d: ExecServiceDeps) {}

  /** execSync runs `cmd` in container `id` and gives its output and exit code. */
  async execSync(id: string, cmd: string[], timeoutSec: number, signal: AbortSignal, log: Logger): Promise<ExecResult> {
    if (!cmd || cmd.length === 0) throw invalidArgument('exec command is required');
    if (!(timeoutSec >= 0)) throw invalidArgument(`exec timeout ${timeoutSec} is negative`);
    const c = await this.d.lookup.runningContainer(id);
    const pidFile = join(c.bundleDir, `execsync-${randomBytes(6).toString('hex')}.pid`);
    const child = this.d.runner.spawn(this.d.runc.path, this.d.runc.execArgs(c.id, cmd, { pidFile }), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = new Capture(child.stdout as Readable, this.d.maxOutput);
    const err = new Capture(child.stderr as Readable, this.d.maxOutput);
    const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve({ code, sig }));
    });
    let timedOut = false;
    let killing: Promise<void> | undefined;
    const killTree = (why: string) => {
      killing ??= this.killExec(pidFile, c.bundleDir, child.pid ?? 0, log, why);
    };
    const timer = timeoutSec > 0 ? setTimeout(() => ((timedOut = true), killTree('timeout')), timeoutSec * 1000) : undefined;
    const onAbort = () => killTree('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    let runcDone = false;
    void exited.finally(() => (runcDone = true)).catch(() => undefined);
    // runc copies the exec's stdio through its own pipes and exits only at their EOF; a background child that
    // keeps them open would hold the call. Once the exec'd process itself is gone, wait the drain bound, then kill
    // what is left of its session so that runc can report the exit code.
    const watchdog = this.watchMain(pidFile, c.bundleDir, () => runcDone, exited).then(async (main) => {
      if (!main || runcDone) return;
      await Promise.race([exited.catch(() => undefined), sleep(this.d.drainMs)]);
      if (!runcDone && !killing) {
        const n = await killSession(main.pid, main.ns);
        log.debug({ execPid: main.pid, killed: n }, 'exec finished; killed background processes that held its output');
      }
    });
    try {
      const { code, sig } = await exited;
      clearTimeout(timer);
      if (killing) await killing;
      await watchdog;
      // Bounded drain of what is still buffered in the pipes.
      const drained = await Promise.race([Promise.all([out.ended, err.ended]).then(() => true), sleep(timedOut ? 100 : this.d.drainMs).then(() => false)]);
      if (!drained) {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      if (timedOut) {
        this.d.metrics?.execSyncTimeout();
        throw deadlineExceeded(`command ${JSON.stringify(cmd)} timed out: timeout ${timeoutSec}s exceeded: context deadline exceeded`);
      }
      if (signal.aborted) throw internal(`exec in ${c.id} cancelled`);
      const stderr = err.value;
      if (code === 255 && /exec failed|container not running|does not exist/.test(stderr.toString())) {
        throw internal(`runc exec in ${c.id}: ${stderr.toString().trim().slice(0, 2000)}`);
      }
      return { stdout: out.value, stderr, exitCode: code ?? (sig ? 128 + 9 : -1) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // runc has exited: nothing reads the pid file any more, and the answer need not wait for its removal.
      removeFile(pidFile).catch((err: unknown) => log.warn({ err, pidFile }, 'removing an exec pid file failed'));
    }
  }

  /** watchMain waits until the exec'd process (named by the pid file) has exited, or runc has. */
  private async watchMain(pidFile: string, bundle: string, runcDone: () => boolean, exited: Promise<unknown>): Promise<{ pid: number; ns: string } | undefined> {
    // Most execs end well within the first moments: only then start reading /proc, off the common path. runc's
    // exit ends the wait at once (a polling loop here would hold the answer up to its interval).
    await Promise.race([exited.catch(() => undefined), sleep(50)]);
    if (runcDone()) return undefined;
    let pid = 0;
    const ns = await containerPidNs(bundle);
    while (!runcDone()) {
      if (!pid) {
        pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || 0;
      } else if (!(await processAlive(pid))) {
        return ns ? { pid, ns } : undefined;
      }
      await sleep(pid ? 50 : 10);
    }
    return undefined;
  }

  /** killExec kills the exec'd process and its session inside the container, then runc exec itself. */
  private async killExec(pidFile: string, bundle: string, runcPid: number, log: Logger, why: string): Promise<void> {
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || 0;
      if (!pid) await sleep(10);
    }
    if (pid) {
      const ns = (await containerPidNs(bundle)) || (await pidNamespace(pid));
      const n = ns ? await killSession(pid, ns) : 0;
      log.debug({ execPid: pid, killed: n, why }, 'exec session killed');
    }
    if (runcPid) {
      try {
        process.kill(runcPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { RuntimeError, type ErrorKind } from '../errors/index.js';

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

/** nodeProcessRunner runs programs for real. */
export const nodeProcessRunner: ProcessRunner = {
  spawn: (cmd, args, opts = {}) => nodeSpawn(cmd, [...args], opts),
  run(cmd, args, opts = {}) {
    return new Promise((resolve, reject) => {
      const max = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
      const child = nodeSpawn(cmd, [...args], {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let timedOut = false;
      child.stdout.on('data', (b: Buffer) => {
        if (outLen < max) out.push(b.subarray(0, max - outLen));
        outLen += b.length;
      });
      child.stderr.on('data', (b: Buffer) => {
        if (errLen < max) err.push(b.subarray(0, max - errLen));
        errLen += b.length;
      });
      const kill = () => child.kill('SIGKILL');
      const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
      opts.signal?.addEventListener('abort', kill, { once: true });
      child.stdin.on('error', () => {}); // the program may exit before reading its input
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
      child.stdin.end(opts.input ?? undefined);
    });
  },
};

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

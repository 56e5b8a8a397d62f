import { lstat, mkdir, readFile, realpath, rm } from 'node:fs/promises';
import { nodeProcessRunner, type ProcessRunner } from './process-runner.js';

/** readUidMap reads /proc/self/uid_map ('' where there is none). */
export function readUidMap(proc = '/proc'): Promise<string> {
  return readFile(`${proc}/self/uid_map`, 'utf8').catch(() => '');
}

/** RootlesskitRun is one re-exec of fune under RootlessKit. */
export interface RootlesskitRun {
  rootlesskit: string;
  /** args are rootlesskit's whole command line, the command to run included (config/rootless.ts rootlesskitArgs). */
  args: string[];
  env: NodeJS.ProcessEnv;
  runner?: ProcessRunner;
}

/**
 * runUnderRootlesskit runs rootlesskit with the terminal's stdio, passes SIGTERM and SIGINT on
 * (rootlesskit hands them to its child), and gives the exit status to exit with (128 + n for a signal, as a shell).
 * A rootlesskit that cannot be started is an Error that says how to get it.
 */
export function runUnderRootlesskit(r: RootlesskitRun): Promise<number> {
  const runner = r.runner ?? nodeProcessRunner;
  return new Promise((resolve, reject) => {
    const child = runner.spawn(r.rootlesskit, r.args, { stdio: 'inherit', env: r.env });
    const pass = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGTERM', pass);
    process.on('SIGINT', pass);
    const done = () => {
      process.off('SIGTERM', pass);
      process.off('SIGINT', pass);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(e.code === 'ENOENT' ? new Error(`--rootless needs ${r.rootlesskit} (Debian: apt-get install rootlesskit slirp4netns uidmap), and subordinate ids for this user in /etc/subuid and /etc/subgid`) : e);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[sig] ?? 1;
}

/**
 * prepareRootlessChild fixes up what --copy-up=/run left that would fail inside: /run/xtables.lock is a symlink to
 * the host's lock, which the namespace's root may not open, so iptables (CNI's portmap and bridge plugins) would
 * fail; removed, iptables makes a lock of its own in the namespace's /run (as containerd-rootless.sh does).
 */
export async function prepareRootlessChild(run = '/run'): Promise<void> {
  const lock = `${run}/xtables.lock`;
  const st = await lstat(lock).catch(() => undefined);
  if (st?.isSymbolicLink()) await rm(lock, { force: true });
}

/**
 * realDir makes `dir` (mode 0700 where it is new) and gives its path without symlinks. Inside RootlessKit, --copy-up=/run
 * turns /run's entries into symlinks into a hidden copy (/run/user → /run/.ro…/user), and runc refuses a rootfs
 * whose path goes through a symlink ("invalid rootfs: not an absolute path, or a symlink"), so the state under
 * $XDG_RUNTIME_DIR is used by its real path. The socket is still reachable at the given path from outside.
 */
export async function realDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return realpath(dir);
}

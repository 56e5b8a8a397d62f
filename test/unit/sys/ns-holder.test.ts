import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { holdNamespaces } from '../../../src/sys/ns-holder.js';
import type { ProcessRunner } from '../../../src/sys/process-runner.js';

/**
 * A child as the posix_spawn addon hands it over: pipes at once, the pid only with 'spawn' on a later turn of the
 * loop, so its first output can be read before the pid is known (a race seen in the suite: "unshare has no pid").
 */
function lateChild(opts: { pid: number; pidAfterMs: number; ready: boolean; exitAfterMs?: number }) {
  const child = Object.assign(new EventEmitter(), {
    pid: undefined as number | undefined,
    exitCode: null as number | null,
    signalCode: null as string | null,
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    killed: false,
    kill(): boolean {
      child.killed = true;
      queueMicrotask(() => child.emit('exit', null, 'SIGKILL'));
      return true;
    },
  });
  setImmediate(() => {
    if (opts.ready) child.stdout.write('fune-ns-ready\n');
    else child.stderr.write('unshare: unshare failed: Operation not permitted\n');
    if (opts.exitAfterMs !== undefined) {
      setTimeout(() => {
        child.exitCode = 1;
        child.emit('exit', 1, null);
      }, opts.exitAfterMs);
    }
  });
  setTimeout(() => {
    child.pid = opts.pid;
    child.emit('spawn');
  }, opts.pidAfterMs);
  return child;
}

const runnerOf = (child: ReturnType<typeof lateChild>) => ({ spawn: () => child }) as unknown as ProcessRunner;

describe('holdNamespaces', () => {
  it('waits for the pid when the ready line comes before it', async () => {
    const child = lateChild({ pid: 4242, pidAfterMs: 30, ready: true });
    const h = await holdNamespaces(runnerOf(child), ['unshare', '--ipc'], '');
    expect(h.pid).toBe(4242);
  });

  it('gives the pid at once when it was known before the ready line', async () => {
    const child = lateChild({ pid: 77, pidAfterMs: 0, ready: true });
    await new Promise((r) => setTimeout(r, 5));
    expect((await holdNamespaces(runnerOf(child), ['unshare', '--uts'], '')).pid).toBe(77);
  });

  it('fails with the helper\'s stderr when it exits before it is ready', async () => {
    const child = lateChild({ pid: 9, pidAfterMs: 1, ready: false, exitAfterMs: 10 });
    await expect(holdNamespaces(runnerOf(child), ['unshare', '--net'], '')).rejects.toThrow(/unshare --net exited \(1\): unshare: unshare failed: Operation not permitted/);
  });
});

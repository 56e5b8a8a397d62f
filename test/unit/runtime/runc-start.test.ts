// Runc.start opens runc's exec FIFO in-process, as `runc start` would, and falls back to `runc start` whenever the
// FIFO is absent or gives no byte. A shell that writes to the FIFO plays `runc init`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runc } from '../../../src/runtime/runc.js';
import type { ProcessRunner } from '../../../src/sys/process-runner.js';

let dir = '';
let init: ChildProcess | undefined;
const ran: string[][] = [];
const runner: ProcessRunner = {
  spawn: () => {
    throw new Error('not used');
  },
  async run(_cmd, args) {
    ran.push([...args]);
    return { code: 0, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false };
  },
};
const runc = () => new Runc({ runner, runcPath: '/nonexistent/runc', root: join(dir, 'root'), logDir: join(dir, 'logs'), systemdCgroup: false, timeoutMs: 5000 });
const exists = (p: string) => access(p).then(() => true, () => false);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fune-runc-start-'));
  ran.length = 0;
});
afterEach(async () => {
  init?.kill('SIGKILL');
  init = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** createdContainer makes `<root>/<id>/exec.fifo` and, with `write`, a process blocked writing `0` into it. */
async function createdContainer(id: string, write: boolean): Promise<string> {
  const fifo = join(dir, 'root', id, 'exec.fifo');
  await mkdir(join(dir, 'root', id), { recursive: true });
  execFileSync('mkfifo', [fifo]);
  if (write) {
    init = spawn('sh', ['-c', `printf 0 > "${fifo}"`], { stdio: 'ignore' });
    // Give the writer time to block in its open, as runc init does before `runc start`.
    await new Promise((r) => setTimeout(r, 100));
  }
  return fifo;
}

describe('Runc.start', () => {
  it('starts a created container through its exec FIFO without running runc, and removes the FIFO', async () => {
    const fifo = await createdContainer('c1', true);
    const exited = new Promise<number | null>((r) => init!.once('exit', r));
    await runc().start('c1');
    expect(ran).toEqual([]);
    expect(await exists(fifo)).toBe(false);
    expect(await exited).toBe(0);
  });

  it('runs `runc start` when there is no exec FIFO', async () => {
    await runc().start('c2');
    expect(ran).toHaveLength(1);
    expect(ran[0]!.slice(-2)).toEqual(['start', 'c2']);
  });

  it('waits for an init that opens the FIFO only after the read end was opened (runc create returns before init reaches its open)', async () => {
    const fifo = await createdContainer('c4', false);
    // init is alive but not yet a writer: the first read gives end of file, not EAGAIN.
    init = spawn('sh', ['-c', `sleep 0.3; printf 0 > "${fifo}"`], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => init!.once('exit', r));
    await runc().start('c4', undefined, init.pid);
    expect(ran).toEqual([]);
    expect(await exited).toBe(0);
    expect(await exists(fifo)).toBe(false);
  });

  it('runs `runc start` (and does not hang) when nobody writes to the FIFO', async () => {
    const fifo = await createdContainer('c3', false);
    await runc().start('c3');
    expect(ran.map((a) => a.slice(-2))).toEqual([['start', 'c3']]);
    // The FIFO is left to runc, which owns the error.
    expect(await exists(fifo)).toBe(true);
  });
});

// Launcher with the real perl: the child it gives must behave as a spawned one (pid, pipes, environment, working
// directory, exit status, signals), and it must step aside where it cannot serve.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { Launcher } from '../../../src/sys/launcher.js';

let l: Launcher | undefined;
afterEach(() => {
  l?.close();
  l = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ready makes a launcher and waits until its first launcher process runs; `started` counts perl starts. */
async function ready(): Promise<{ l: Launcher; started: () => number }> {
  let n = 0;
  l = new Launcher((cmd, args, opts) => (n++, spawn(cmd, args, opts)), '/usr/bin/perl', 1);
  expect(l.take('/bin/true', [], { env: {} })).toBeUndefined(); // nothing ready yet: the caller spawns
  await sleep(50);
  return { l, started: () => n };
}

function collect(c: ChildProcess): Promise<{ out: string; err: string; code: number | null; sig: NodeJS.Signals | null }> {
  let out = '';
  let err = '';
  c.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => c.once('close', (code, sig) => resolve({ out, err, code, sig })));
}

describe('Launcher', () => {
  it('runs the program in place of the launcher, with its arguments, environment, working directory and stdin', async () => {
    const { l, started } = await ready();
    expect(started()).toBe(1);
    const c = l.take('/bin/sh', ['-c', 'echo "$1|$FOO|$(pwd)"; cat; exit 3', 'sh', 'two words\nand a line'], { env: { FOO: 'x=y', PATH: '/usr/bin:/bin' }, cwd: '/tmp', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(c).toBeDefined();
    const pid = c!.pid;
    c!.stdin!.end('from stdin');
    const r = await collect(c!);
    expect(r).toMatchObject({ out: 'two words\nand a line|x=y|/tmp\nfrom stdin', code: 3 });
    expect(c!.pid).toBe(pid);
    // The next launcher starts a moment later.
    await sleep(50);
    expect(started()).toBe(2);
  });

  it('points ignored stdio at /dev/null and gives null streams for them', async () => {
    const { l } = await ready();
    const c = l.take('/bin/sh', ['-c', 'cat; echo done >&2'], { env: {}, stdio: ['ignore', 'ignore', 'pipe'] });
    expect(c?.stdin).toBeNull();
    expect(c?.stdout).toBeNull();
    const r = await collect(c!);
    expect(r).toMatchObject({ err: 'done\n', code: 0 });
  });

  it('ends with 127 and says why when the program cannot be run', async () => {
    const { l } = await ready();
    const r = await collect(l.take('/nonexistent/program', [], { env: {} })!);
    expect(r.code).toBe(127);
    expect(r.err).toContain('fune launcher: exec /nonexistent/program');
  });

  it('delivers signals to the program', async () => {
    const { l } = await ready();
    const c = l.take('/bin/sleep', ['100'], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] })!;
    const done = collect(c);
    await sleep(50);
    c.kill('SIGKILL');
    expect((await done).sig).toBe('SIGKILL');
  });

  it('steps aside for relative paths, detached children, custom fds and values it cannot encode', async () => {
    const { l } = await ready();
    expect(l.take('sh', [], { env: {} })).toBeUndefined();
    expect(l.take('/bin/sh', [], { env: {}, detached: true })).toBeUndefined();
    expect(l.take('/bin/sh', [], { env: {}, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })).toBeUndefined();
    expect(l.take('/bin/sh', ['a\0b'], { env: {} })).toBeUndefined();
    expect(l.take('/bin/sh', [], {})).toBeUndefined(); // no explicit environment
    // The launcher is still there for the next program.
    const r = await collect(l.take('/bin/echo', ['still'], { env: {} })!);
    expect(r.out).toBe('still\n');
  });
});

import { spawn as nodeSpawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastChild, fastSpawn, loadSpawnAddon, stdioPlan, type SpawnAddon } from '../../../src/sys/fast-spawn.js';
import { createProcessRunner, nodeProcessRunner, spawnerInUse, type ChildProcess } from '../../../src/sys/process-runner.js';
import { ROOT } from '../../helpers/daemon.js';

// The posix_spawn addon (native/spawn) behind ProcessRunner, against the behaviour of child_process it replaces.

let addon: SpawnAddon;
let dir: string;
const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

beforeAll(() => {
  addon = loadSpawnAddon(); // throws (and fails the suite) when the addon was not built
  dir = mkdtempSync(join(tmpdir(), 'fune-spawn-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(file: string, args: string[], opts: Partial<Parameters<typeof fastSpawn>[3]> = {}): FastChild {
  const c = fastSpawn(addon, file, args, { env, ...opts });
  if (!c) throw new Error('the addon refused these options');
  return c;
}

function text(s: Readable | null | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    s!.on('data', (b: Buffer) => (acc += b.toString()));
    s!.on('end', () => resolve(acc));
    s!.on('error', reject);
  });
}

function closed(c: FastChild | ChildProcess): Promise<{ code: number | null; signal: string | null; events: string[] }> {
  const events: string[] = [];
  c.once('exit', () => events.push('exit'));
  return new Promise((resolve) => c.once('close', (code: number | null, signal: string | null) => resolve({ code, signal, events: [...events, 'close'] })));
}

/** statFields gives state, ppid, pgrp and session of /proc/<pid>/stat as printed by the process itself. */
const statFields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(0, 4);

describe('posix_spawn addon', () => {
  it('is the spawner of the default runner', () => {
    expect(spawnerInUse().why).toBe('posix_spawn addon');
    const c = nodeProcessRunner.spawn('true', [], { stdio: 'ignore' });
    expect(c).toBeInstanceOf(FastChild);
    return closed(c);
  });

  it('pipes stdin, stdout and stderr; exit comes before close', async () => {
    const c = start('sh', ['-c', 'cat; echo oops >&2; exit 3'], { stdio: ['pipe', 'pipe', 'pipe'] });
    // posix_spawn runs on the addon's thread: the pid comes with 'spawn', the pipes are there at once.
    expect(c.pid).toBeUndefined();
    await new Promise((r) => c.once('spawn', r));
    expect(c.pid).toBeGreaterThan(0);
    const out = text(c.stdout);
    const err = text(c.stderr);
    c.stdin!.end('hello\n');
    const res = await closed(c);
    expect(res).toEqual({ code: 3, signal: null, events: ['exit', 'close'] });
    expect(await out).toBe('hello\n');
    expect(await err).toBe('oops\n');
    expect(c.exitCode).toBe(3);
  });

  it('reports exit codes 0..255', async () => {
    for (const n of [0, 1, 42, 255]) expect((await closed(start('sh', ['-c', `exit ${n}`], { stdio: 'ignore' }))).code).toBe(n);
  });

  it('kills with a signal and reports it; kill after the exit is false', async () => {
    const c = start('sleep', ['30'], { stdio: 'ignore' });
    const done = closed(c);
    expect(c.kill('SIGTERM')).toBe(true);
    expect(await done).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(c.killed).toBe(true);
    expect(c.signalCode).toBe('SIGTERM');
    expect(c.kill('SIGKILL')).toBe(false);
    expect(() => c.kill('SIGNOPE' as NodeJS.Signals)).toThrow(/Unknown signal/);
  });

  it('gives the child exactly the environment asked for', async () => {
    const c = start('sh', ['-c', 'echo "$FOO|${HOME-unset}"'], { env: { ...env, FOO: 'a b=c', SKIP: undefined }, stdio: ['ignore', 'pipe', 'ignore'] });
    const out = text(c.stdout);
    await closed(c);
    expect(await out).toBe('a b=c|unset\n');
  });

  it('hands the daemon\'s own environment over, changes included, when none is given', async () => {
    process.env.FUNE_SPAWN_TEST = 'set after start';
    try {
      const r = await nodeProcessRunner.run('sh', ['-c', 'echo "$FUNE_SPAWN_TEST"']);
      expect(r.stdout.toString()).toBe('set after start\n');
      const c = fastSpawn(addon, 'sh', ['-c', 'echo "$FUNE_SPAWN_TEST"'], { env: null, stdio: ['ignore', 'pipe', 'ignore'] })!;
      const out = text(c.stdout);
      await closed(c);
      expect(await out).toBe('set after start\n');
    } finally {
      delete process.env.FUNE_SPAWN_TEST;
    }
  });

  it('searches PATH of the given environment, not the daemon\'s', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'fune-only-here'), '#!/bin/sh\necho found\n');
    chmodSync(join(bin, 'fune-only-here'), 0o755);
    writeFileSync(join(bin, 'fune-not-exec'), '#!/bin/sh\necho no\n');
    const c = start('fune-only-here', [], { env: { PATH: `/nonexistent:${bin}` }, stdio: ['ignore', 'pipe', 'ignore'] });
    const out = text(c.stdout);
    await closed(c);
    expect(await out).toBe('found\n');
    const e = await new Promise<NodeJS.ErrnoException>((r) => start('fune-not-exec', [], { env: { PATH: bin }, stdio: 'ignore' }).once('error', r));
    expect(e.code).toBe('EACCES');
  });

  it('runs in the cwd asked for; a missing cwd is an error event', async () => {
    const c = start('pwd', [], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    const out = text(c.stdout);
    await closed(c);
    expect(await out).toBe(realpathSync(dir) + '\n');
    const e = await new Promise<NodeJS.ErrnoException>((r) => start('pwd', [], { cwd: join(dir, 'nope'), stdio: 'ignore' }).once('error', r));
    expect(e.code).toBe('ENOENT');
  });

  it('makes a detached child the leader of a new session, else it stays in ours', async () => {
    for (const detached of [true, false]) {
      const c = start('cat', ['/proc/self/stat'], { detached, stdio: ['ignore', 'pipe', 'ignore'] });
      const out = text(c.stdout);
      await closed(c);
      const [, ppid, pgrp, session] = statFields(await out);
      expect(Number(ppid)).toBe(process.pid);
      const own = statFields(readFileSync('/proc/self/stat', 'utf8'))[3];
      if (detached) expect([Number(pgrp), Number(session)]).toEqual([c.pid, c.pid]);
      else expect(session).toBe(own);
    }
  });

  it('gives fd 3 as a pipe and passes an inherited fd number', async () => {
    const file = join(dir, 'inherited.txt');
    const fd = openSync(file, 'w');
    try {
      const c = start('sh', ['-c', 'echo to3 >&3; echo to1'], { stdio: ['ignore', fd, 'ignore', 'pipe'] });
      expect(c.stdout).toBeNull();
      const three = text(c.stdio[3] as Readable);
      const res = await closed(c);
      expect(res.code).toBe(0);
      expect(await three).toBe('to3\n');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('to1\n');
  });

  it('gives the child no fd above its stdio, even one the daemon inherited without close-on-exec', async () => {
    // A node started by bash (dash takes one-digit fds only) with its fd 200 on a file, as a caller's lock or pipe
    // would be (node marks a few low inherited fds close-on-exec at start, not this one), runs `sh` with the addon
    // and with child_process, each listing the child's fds.
    const held = join(dir, 'held-by-the-caller.txt');
    const mod = join(ROOT, 'dist', 'src', 'sys', 'fast-spawn.js');
    const script = join(dir, 'inherit.mjs');
    writeFileSync(script, `import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fastSpawn, loadSpawnAddon } from ${JSON.stringify(mod)};
const list = 'for f in /proc/self/fd/*; do echo "$f $(readlink $f)"; done';
const out = (c) => new Promise((r) => { let s = ''; c.stdout.on('data', (b) => (s += b)); c.once('close', () => r(s)); });
const flags = readFileSync('/proc/self/fdinfo/200', 'utf8').match(/^flags:\\s+(\\d+)/m)[1];
const viaAddon = await out(fastSpawn(loadSpawnAddon(), 'sh', ['-c', list], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'ignore'] }));
const viaNode = await out(spawn('sh', ['-c', list], { stdio: ['ignore', 'pipe', 'ignore'] }));
console.log(JSON.stringify({ flags, viaAddon, viaNode }));
`);
    const c = nodeSpawn('bash', ['-c', 'exec "$0" "$1" 200>"$2"', process.execPath, script, held], { stdio: ['ignore', 'pipe', 'inherit'] });
    const res = JSON.parse(await text(c.stdout)) as { flags: string; viaAddon: string; viaNode: string };
    // O_CLOEXEC (02000000) is not set on the inherited fd: an exec keeps it unless the spawner closes it.
    expect(parseInt(res.flags, 8) & 0o2000000).toBe(0);
    expect(res.viaNode).toContain(held);
    expect(res.viaAddon).not.toContain(held);
    // Beyond 0-2 the listing shows only the fd sh read the directory through, closed (no target) by then.
    const open = res.viaAddon.trim().split('\n').map((l) => /^\/proc\/self\/fd\/(\d+) (.*)$/.exec(l)).filter((m) => m && m[2] !== '');
    expect(open.map((m) => Number(m![1]))).toEqual([0, 1, 2]);
  });

  it('starts off Node\'s thread: an fd passed on may close as spawn returns; a kill before the start arrives', async () => {
    // conmon's start closes its log fd right after spawn: the addon passes its own duplicate on.
    const file = join(dir, 'closed-at-once.txt');
    const fd = openSync(file, 'w');
    const c = start('sh', ['-c', 'echo kept'], { stdio: ['ignore', fd, 'ignore'] });
    closeSync(fd);
    expect((await closed(c)).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('kept\n');
    // A kill asked for before the thread started the child is sent once it runs.
    const k = start('sleep', ['30'], { stdio: 'ignore' });
    expect(k.pid).toBeUndefined();
    expect(k.kill('SIGTERM')).toBe(true);
    expect(await closed(k)).toMatchObject({ code: null, signal: 'SIGTERM' });
    // The loop keeps running while children start: many at once all come back.
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => closed(start('sh', ['-c', `exit ${i}`], { stdio: 'ignore' }))));
    expect(many.map((r) => r.code)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('starts the child with no signal ignored or blocked (Node ignores SIGPIPE)', async () => {
    const c = start('cat', ['/proc/self/status'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const out = text(c.stdout);
    await closed(c);
    const status = await out;
    const mask = (name: string) => BigInt('0x' + (new RegExp(`^${name}:\\s+([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? 'x'));
    // Signals 1-31 and the real-time ones from SIGRTMIN (34) on; 32 and 33 are glibc's own, which neither
    // posix_spawn nor libuv may touch.
    expect(mask('SigIgn') & ~0x180000000n).toBe(0n);
    expect(mask('SigBlk')).toBe(0n);
    // A writer into a pipe whose reader is gone dies of SIGPIPE (with SIGPIPE ignored it would exit 1 on EPIPE).
    const w = start('yes', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    w.stdout!.destroy();
    expect(await closed(w)).toMatchObject({ code: null, signal: 'SIGPIPE' });
  });

  it('reports a missing program as child_process does: error then close, no exit', async () => {
    const file = join(dir, 'no-such-program');
    const theirs = nodeSpawn(file, ['x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ours = start(file, ['x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const errs = await Promise.all([theirs, ours].map((c) => new Promise<NodeJS.ErrnoException & { spawnargs?: string[] }>((r) => c.once('error', r))));
    const pick = (e: (typeof errs)[0]) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, spawnargs: e.spawnargs });
    expect(pick(errs[1]!)).toEqual(pick(errs[0]!));
    expect(pick(errs[1]!)).toMatchObject({ code: 'ENOENT', syscall: `spawn ${file}` });
    expect(ours.pid).toBeUndefined();
    const events: string[] = [];
    ours.once('exit', () => events.push('exit'));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([]);
    const err2 = new Promise((r) => start('fune-no-such-program', [], { stdio: 'ignore' }).once('error', r));
    await expect(err2).resolves.toMatchObject({ code: 'ENOENT' });
  });

  it('reaps every child it started and leaks no fd: no zombie stays in /proc', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    await closed(start('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })); // warm-up (lazily opened fds)
    const before = fds();
    const pids: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = start('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
        c.once('spawn', () => pids.push(c.pid!));
        await closed(c);
      }),
    );
    expect(pids).toHaveLength(20);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    // A child's pidfd closes in the close phase of the loop turn that saw its exit, after that turn's setImmediate
    // callbacks: the last children's can still be open here (CI read 23 against 21). Wait a few turns for them; a
    // leak per spawn would stay 20 above the baseline. At most the baseline: a warm-up fd may close meanwhile.
    let now = fds();
    for (let i = 0; i < 100 && now > before; i++) {
      await new Promise((r) => setTimeout(r, 10));
      now = fds();
    }
    expect(now).toBeLessThanOrEqual(before);
  });

  it('is not reaped by libuv while child_process children exit at the same time', async () => {
    const mine = Array.from({ length: 15 }, (_, i) => closed(start('sh', ['-c', `exit ${i + 1}`], { stdio: 'ignore' })));
    const theirs = Array.from({ length: 15 }, (_, i) => closed(nodeSpawn('sh', ['-c', `exit ${i + 100}`], { stdio: 'ignore' })));
    expect((await Promise.all(mine)).map((r) => r.code)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect((await Promise.all(theirs)).map((r) => r.code)).toEqual(Array.from({ length: 15 }, (_, i) => i + 100));
  });

  it('closes after the exit even when nobody reads the output', async () => {
    // More than a socket reads ahead on its own, less than the pipe holds: the child exits with output unread.
    const c = start('sh', ['-c', 'head -c 60000 /dev/zero; head -c 60000 /dev/zero >&2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect((await closed(c)).code).toBe(0);
  });

  it('unref and ref take effect without disturbing the exit', async () => {
    const c = start('sleep', ['0.05'], { stdio: 'ignore' });
    c.unref();
    c.ref();
    expect((await closed(c)).code).toBe(0);
  });

  it('plans stdio like child_process and refuses what it does not do', () => {
    expect(stdioPlan(undefined)).toEqual([-2, -2, -2]);
    expect(stdioPlan('ignore')).toEqual([-1, -1, -1]);
    expect(stdioPlan('inherit')).toEqual([0, 1, 2]);
    expect(stdioPlan(['ignore', null, 7, 'pipe', undefined])).toEqual([-1, -2, 7, -2, -1]);
    expect(stdioPlan(['ignore', 'ipc'])).toBeUndefined();
    expect(fastSpawn(addon, 'true', [], { env, uid: 0 } as never)).toBeUndefined();
    expect(fastSpawn(addon, 'true', ['a\0b'], { env })).toBeUndefined();
  });
});

describe('process runner', () => {
  for (const [name, runner] of [
    ['addon', createProcessRunner(spawnerInUse().addon)],
    ['child_process fallback', createProcessRunner(null)],
  ] as const) {
    it(`${name}: run feeds input, collects output, caps it, and times out`, async () => {
      const r = await runner.run('sh', ['-c', 'cat; echo e >&2; exit 4'], { input: 'in\n' });
      expect(r).toMatchObject({ code: 4, signal: null, timedOut: false });
      expect([r.stdout.toString(), r.stderr.toString()]).toEqual(['in\n', 'e\n']);
      const capped = await runner.run('head', ['-c', '100000', '/dev/zero'], { maxOutput: 10 });
      expect(capped.stdout.length).toBe(10);
      const slow = await runner.run('sleep', ['5'], { timeoutMs: 50 });
      expect(slow).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
      await expect(runner.run(join(dir, 'missing'), [])).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }

  it('falls back to child_process without the addon, and for options the addon does not serve', async () => {
    const plain = createProcessRunner(null).spawn('true', [], { stdio: 'ignore' });
    expect(plain.constructor.name).toBe('ChildProcess');
    const ipc = createProcessRunner(spawnerInUse().addon).spawn('true', [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    expect(ipc.constructor.name).toBe('ChildProcess');
    await Promise.all([closed(plain), closed(ipc)]);
  });
});

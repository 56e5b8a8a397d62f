import { describe, expect, it } from 'vitest';
import { createNetnsConnector, type NetnsAddon } from '../../../src/sys/netns-connect.js';

/** FakeAddon stands in for native/netns: each connect is a "thread" the test finishes by hand. */
class FakeAddon implements NetnsAddon {
  calls: { path: string; hosts: string[]; port: number; cb: (rc: number, stage: number, host: number) => void }[] = [];
  startRc = 0;
  connect(path: string, hosts: string[], port: number, cb: (rc: number, stage: number, host: number) => void): number {
    if (this.startRc < 0) return this.startRc;
    this.calls.push({ path, hosts, port, cb });
    return 0;
  }
}

const ECONNREFUSED = -111;
const EAGAIN = -11;
const CONNECT = 3;
const settled = async <T>(p: Promise<T>) => p.then((v) => ({ ok: v }), (e: NodeJS.ErrnoException) => ({ err: e }));
const tick = () => new Promise((r) => setImmediate(r));

describe('createNetnsConnector thread bound', () => {
  it('starts at most maxThreads dials, queues the rest in order, and aborts a queued dial at once', async () => {
    const addon = new FakeAddon();
    const c = createNetnsConnector(addon, 2);
    const ac = [0, 1, 2, 3].map(() => new AbortController());
    const p = [0, 1, 2, 3].map((i) => settled(c.connect('/run/netns/a', 8000 + i, ac[i]!.signal)));
    expect(addon.calls.map((x) => x.port)).toEqual([8000, 8001]);

    ac[3]!.abort(new Error('client went away'));
    expect(await p[3]).toEqual({ err: new Error('client went away') });

    addon.calls[0]!.cb(ECONNREFUSED, CONNECT, 0);
    const r0 = (await p[0]) as { err: NodeJS.ErrnoException };
    expect(r0.err.code).toBe('ECONNREFUSED');
    expect(r0.err.message).toBe('connect ECONNREFUSED 127.0.0.1:8000');
    // The freed slot went to the next waiting dial, not to the aborted one.
    expect(addon.calls.map((x) => x.port)).toEqual([8000, 8001, 8002]);
    expect(addon.calls[2]).toMatchObject({ path: '/run/netns/a', hosts: ['127.0.0.1', '::1'] });

    // An aborted dial in flight rejects at once but holds its slot until its thread is done.
    ac[2]!.abort(new Error('stream timed out'));
    expect(await p[2]).toEqual({ err: new Error('stream timed out') });
    const p4 = settled(c.connect('/run/netns/a', 8004));
    await tick();
    expect(addon.calls).toHaveLength(3);
    addon.calls[2]!.cb(ECONNREFUSED, CONNECT, 1);
    expect(addon.calls.map((x) => x.port)).toEqual([8000, 8001, 8002, 8004]);

    addon.calls[1]!.cb(ECONNREFUSED, CONNECT, 1);
    expect(((await p[1]) as { err: NodeJS.ErrnoException }).err.message).toBe('connect ECONNREFUSED ::1:8001');
    addon.calls[3]!.cb(ECONNREFUSED, CONNECT, 0);
    expect(((await p4) as { err: NodeJS.ErrnoException }).err.code).toBe('ECONNREFUSED');
  });

  it('gives the slot back when the thread cannot be started, and refuses an already aborted signal', async () => {
    const addon = new FakeAddon();
    const c = createNetnsConnector(addon, 1);
    addon.startRc = EAGAIN;
    const r = (await settled(c.connect('/run/netns/b', 80))) as { err: NodeJS.ErrnoException };
    expect(r.err.syscall).toBe('pthread_create');
    expect(r.err.code).toBe('EAGAIN');
    addon.startRc = 0;
    const next = settled(c.connect('/run/netns/b', 81));
    expect(addon.calls.map((x) => x.port)).toEqual([81]);
    addon.calls[0]!.cb(ECONNREFUSED, CONNECT, 0);
    expect(((await next) as { err: NodeJS.ErrnoException }).err.code).toBe('ECONNREFUSED');

    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(c.connect('/run/netns/b', 82, ac.signal)).rejects.toThrow('gone');
    expect(addon.calls).toHaveLength(1);
  });
});

describe('createNetnsConnector queue draining', () => {
  it('rejects a long queue of dials whose threads cannot start without recursing through it, and a throwing addon too', async () => {
    const addon = new FakeAddon();
    const c = createNetnsConnector(addon, 1);
    const first = settled(c.connect('/run/netns/c', 1));
    const queued = Array.from({ length: 20_000 }, (_, i) => settled(c.connect('/run/netns/c', 2 + i)));
    addon.startRc = EAGAIN;
    addon.calls[0]!.cb(ECONNREFUSED, CONNECT, 0);
    const all = (await Promise.all(queued)) as { err: NodeJS.ErrnoException }[];
    expect(all.every((r) => r.err?.syscall === 'pthread_create')).toBe(true);
    expect(((await first) as { err: NodeJS.ErrnoException }).err.code).toBe('ECONNREFUSED');

    // Once the queue is empty the bound is whole again: a throwing addon rejects and frees its slot.
    addon.startRc = 0;
    const thrower: NetnsAddon = { connect: () => { throw new TypeError('bad arguments'); } };
    const t = createNetnsConnector(thrower, 1);
    await expect(t.connect('/run/netns/c', 1)).rejects.toThrow('bad arguments');
    await expect(t.connect('/run/netns/c', 2)).rejects.toThrow('bad arguments');
    const next = settled(c.connect('/run/netns/c', 3));
    expect(addon.calls.at(-1)!.port).toBe(3);
    addon.calls.at(-1)!.cb(ECONNREFUSED, CONNECT, 0);
    expect(((await next) as { err: NodeJS.ErrnoException }).err.code).toBe('ECONNREFUSED');
  });
});

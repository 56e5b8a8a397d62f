// The setns addon (native/netns, src/sys/netns-connect.ts) against a network namespace made here, and the
// port-forward dialer pool over it and over its fallback (the helper processes). Needs root (ip netns add).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '../../../src/log/index.js';
import { NetnsDialerPool } from '../../../src/streaming/netns-dialer-pool.js';
import { systemClock } from '../../../src/sys/clock.js';
import { createNetnsConnector, loadNetnsAddon, netnsConnector, type NetnsConnector } from '../../../src/sys/netns-connect.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';

const name = `fune-nc-${process.pid}`;
const nsPath = `/run/netns/${name}`;
const dir = mkdtempSync(join(tmpdir(), 'fune-nc-'));
const servers: ChildProcess[] = [];
let connector: NetnsConnector;

// In the namespace: 7001 echoes after saying which namespace it is in; 7002 answers the byte count after the
// client's FIN (half-close); 7003 listens on ::1 only; 7004 (python) never accepts, with a backlog of 0.
const NODE_SERVERS = `
const net = require('net'), fs = require('fs');
const ino = fs.statSync('/proc/self/ns/net').ino;
net.createServer((s) => { s.on('error', () => {}); s.write('ns ' + ino + '\\n'); s.pipe(s); }).listen(7001, '127.0.0.1');
net.createServer({ allowHalfOpen: true }, (s) => { let n = 0; s.on('error', () => {}); s.on('data', (b) => (n += b.length)); s.on('end', () => s.end('got ' + n)); }).listen(7002, '127.0.0.1');
net.createServer((s) => s.on('error', () => {}).end('v6')).listen(7003, '::1', () => console.log('up'));
`;
const STUCK = `
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 7004)); s.listen(0); print('up', flush=True); sys.stdin.read()
`;

function start(cmd: string, args: string[]): Promise<void> {
  const p = spawn('nsenter', [`--net=${nsPath}`, cmd, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  servers.push(p);
  return new Promise((resolve, reject) => {
    p.stdout.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`${cmd} exited ${code}`)));
  });
}

beforeAll(async () => {
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('nsenter', [`--net=${nsPath}`, 'ip', 'link', 'set', 'lo', 'up']);
  // SYNs that a full accept queue drops are retried once (~3 s in all) instead of six times (~2 min).
  execFileSync('nsenter', [`--net=${nsPath}`, 'sysctl', '-qw', 'net.ipv4.tcp_syn_retries=1']);
  await Promise.all([start(process.execPath, ['-e', NODE_SERVERS]), start('python3', ['-c', STUCK])]);
  connector = createNetnsConnector(loadNetnsAddon()); // throws (and fails the file) when native/netns was not built
  // libuv starts its pool threads on first use: start them now, or an fs call during a test counts as a leak.
  await readFile('/proc/self/stat');
}, 30_000);

afterAll(() => {
  for (const p of servers) p.kill('SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', name]);
  } catch {
    // not there
  }
  rmSync(dir, { recursive: true, force: true });
});

const fds = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;
const sig = () => new AbortController().signal;

function read(s: net.Socket, until: (t: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let t = '';
    const on = (b: Buffer) => {
      t += b.toString();
      if (until(t)) {
        s.off('data', on);
        resolve(t);
      }
    };
    s.on('data', on);
    s.once('error', reject);
  });
}

/** settle waits until the process is back to `n` fds and `t` threads (sockets close and threads exit a bit later). */
async function settle(n: number, t: number): Promise<void> {
  for (let i = 0; i < 200 && (fds() > n || threads() > t); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('connectInNetns (the setns addon)', () => {
  it('connects from inside the namespace and gives a connected TCP socket: reads, writes, setNoDelay, close', async () => {
    const s = await connector.connect(nsPath, 7001, sig());
    expect(s.remoteAddress).toBe('127.0.0.1');
    expect(s.remotePort).toBe(7001);
    expect(s.connecting).toBe(false);
    expect(s.setNoDelay(true)).toBe(s);
    const hello = await read(s, (t) => t.endsWith('\n'));
    expect(hello).toBe(`ns ${statSync(nsPath).ino}\n`); // the server runs in the namespace file we named
    s.write('ping');
    expect(await read(s, (t) => t === 'ping')).toBe('ping');
    const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(true);
    const closed = new Promise<boolean>((r) => s.once('close', r));
    s.destroy();
    expect(await closed).toBe(false);
  });

  it('half-close: end() sends FIN and the answer still comes back, then end and close', async () => {
    const s = await connector.connect(nsPath, 7002, sig());
    const events: string[] = [];
    s.on('end', () => events.push('end'));
    const closed = new Promise<void>((r) => s.once('close', () => (events.push('close'), r())));
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.end('twelve bytes');
    await closed;
    expect(got).toBe('got 12');
    expect(events).toEqual(['end', 'close']);
  });

  it('falls back to ::1 when 127.0.0.1 refuses, as the helper did', async () => {
    const s = await connector.connect(nsPath, 7003, sig());
    expect(s.remoteAddress).toBe('::1');
    expect(await read(s, (t) => t === 'v6')).toBe('v6');
    s.destroy();
  });

  it('a refused port rejects with ECONNREFUSED in the words Node uses', async () => {
    const err = await connector.connect(nsPath, 7009, sig()).catch((e: NodeJS.ErrnoException) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 7009, message: 'connect ECONNREFUSED 127.0.0.1:7009' });
  });

  it('a namespace path that is not there, or not a namespace, is a clear error', async () => {
    const missing = await connector.connect('/run/netns/fune-no-such-ns', 7001, sig()).catch((e: NodeJS.ErrnoException) => e);
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/run/netns/fune-no-such-ns' });
    expect((missing as Error).message).toBe('cannot enter network namespace /run/netns/fune-no-such-ns: open ENOENT (no such file or directory)');
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    const notNs = await connector.connect(file, 7001, sig()).catch((e: NodeJS.ErrnoException) => e);
    expect(notNs).toMatchObject({ code: 'EINVAL', syscall: 'setns', path: file });
  });

  it('bad arguments are refused before any thread starts', async () => {
    const t0 = threads();
    await expect(connector.connect(nsPath, 0, sig())).rejects.toThrow(/port must be 1-65535/);
    await expect(connector.connect(nsPath, 70000, sig())).rejects.toThrow(/port must be 1-65535/);
    await expect(connector.connect(nsPath, 7001, sig(), ['localhost'])).rejects.toThrow(/numeric/);
    await expect(connector.connect('', 7001, sig())).rejects.toThrow(/non-empty/);
    await expect(connector.connect('/run/netns/a\0b', 7001, sig())).rejects.toThrow(/non-empty/);
    expect(threads()).toBe(t0);
  });

  it('1,000 sequential and 200 concurrent connections (and 100 refused) leak no fd and no thread', async () => {
    const one = async (port: number) => {
      const s = await connector.connect(nsPath, port, sig());
      await read(s, (t) => t.endsWith('\n'));
      await new Promise((r) => s.once('close', r).destroy());
    };
    await one(7001);
    const f0 = fds();
    const t0 = threads();
    const start = performance.now();
    for (let i = 0; i < 1000; i++) await one(7001);
    const perMs = (performance.now() - start) / 1000;
    await Promise.all(Array.from({ length: 200 }, () => one(7001)));
    const refused = await Promise.allSettled(Array.from({ length: 100 }, () => connector.connect(nsPath, 7009, sig())));
    expect(refused.every((r) => r.status === 'rejected' && (r.reason as NodeJS.ErrnoException).code === 'ECONNREFUSED')).toBe(true);
    await settle(f0, t0);
    console.log(`setns addon: ${perMs.toFixed(3)} ms per sequential connection (with a server round trip); fds ${f0} -> ${fds()}, threads ${t0} -> ${threads()}`);
    // At most the baseline: something else in the test process may close an fd or end a thread meanwhile.
    expect(fds()).toBeLessThanOrEqual(f0);
    expect(threads()).toBeLessThanOrEqual(t0);
  }, 60_000);

  it('a connect that hangs (full accept queue) holds neither the event loop nor libuv\u2019s pool, and abort rejects at once', async () => {
    const f0 = fds();
    const t0 = threads();
    // backlog 0: one connection fills the queue, the next SYNs are dropped and the connects wait.
    const first = await connector.connect(nsPath, 7004, sig());
    const ac = new AbortController();
    const hung = Array.from({ length: 6 }, () => connector.connect(nsPath, 7004, ac.signal).then(
      (s) => (s.destroy(), 'connected'),
      (e: Error) => e.message,
    ));
    await new Promise((r) => setTimeout(r, 200));
    // More hanging connects than libuv has pool threads (4), and fs calls still complete at once.
    const t = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => readFile('/proc/self/stat')));
    expect(performance.now() - t).toBeLessThan(500);
    ac.abort(new Error('dial aborted by the test'));
    expect(await Promise.all(hung)).toEqual(Array(6).fill('dial aborted by the test'));
    first.destroy();
    // The threads give up after the namespace's SYN retries (~3 s) and their results are dropped.
    for (let i = 0; i < 100 && (threads() > t0 || fds() > f0); i++) await new Promise((r) => setTimeout(r, 100));
    expect(threads()).toBeLessThanOrEqual(t0);
    expect(fds()).toBeLessThanOrEqual(f0);
  }, 30_000);

  it('netnsConnector says why it falls back when the addon cannot be loaded', () => {
    const r = netnsConnector(() => {
      throw new Error('native/netns/build/Release/fune_netns.node was not built (hack/build-native.sh)');
    });
    expect(r).toEqual({ connector: null, why: 'helper processes: native/netns/build/Release/fune_netns.node was not built (hack/build-native.sh)' });
    expect(netnsConnector().why).toBe('setns addon');
  });
});

describe.each(['setns', 'helper'] as const)('NetnsDialerPool through %s', (mechanism) => {
  let pool: NetnsDialerPool;
  beforeAll(() => {
    pool = new NetnsDialerPool({ runner: nodeProcessRunner, clock: systemClock, log: nullLogger(), ...(mechanism === 'helper' ? { connector: null } : {}) });
  });
  afterAll(() => pool.stop());

  it('dials into the namespace and reports a refused port and a missing namespace', async () => {
    expect(pool.mechanism).toBe(mechanism);
    const s = (await pool.dial(nsPath, 7001, sig())) as net.Socket;
    expect(await read(s, (t) => t.endsWith('\n'))).toBe(`ns ${statSync(nsPath).ino}\n`);
    s.destroy();
    await expect(pool.dial(nsPath, 7009, sig())).rejects.toMatchObject({ code: 'ECONNREFUSED', message: 'dial tcp localhost:7009: connect ECONNREFUSED 127.0.0.1:7009' });
    const missing = pool.dial('/run/netns/fune-no-such-ns', 7001, sig());
    await expect(missing).rejects.toThrow(/fune-no-such-ns/);
    if (mechanism === 'setns') await expect(missing).rejects.toMatchObject({ code: 'ENOENT' });
    expect(pool.helperCount).toBe(mechanism === 'helper' ? 1 : 0);
  });

  it('an aborted dial rejects with the abort reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(pool.dial(nsPath, 7001, ac.signal)).rejects.toThrow('gone');
  });
});

it('no thread of this process is left in the test namespace', () => {
  const ns = statSync(nsPath).ino;
  const inNs = readdirSync('/proc/self/task').filter((t) => {
    try {
      return statSync(`/proc/self/task/${t}/ns/net`).ino === ns;
    } catch {
      return false; // the thread has exited
    }
  });
  expect(inNs).toEqual([]);
});

// The streaming server's connection cap and upgrade deadline, and WebSocket backpressure, with the fake runtime
// on loopback (the real daemon's floods are in test/integration/streaming/stream-floods.test.ts).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { nullLogger } from '../../../src/log/index.js';
import { StreamingServer } from '../../../src/streaming/server.js';
import type { ExecRequestInfo } from '../../../src/streaming/types.js';
import { upgrade, type SpdyClient } from '../../helpers/spdy-client.js';
import { FakeClock } from './fake-clock.js';
import { FakeRuntime } from './fake-runtime.js';

const V4 = ['v4.channel.k8s.io'];
const cat = (): ExecRequestInfo => ({ kind: 'exec', containerId: 'c', cmd: ['cat'], tty: false, stdin: true, stdout: true, stderr: false });
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const until = async (f: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !f(); await tick(5)) if (Date.now() > end) throw new Error('condition not met in time');
};

let server: StreamingServer;
let clock: FakeClock;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  cleanup.splice(0).forEach((f) => f());
  await server.stop();
});

async function start(o: { maxConnections?: number; upgradeTimeoutMs?: number; runtime?: FakeRuntime } = {}) {
  clock = new FakeClock();
  server = new StreamingServer({
    address: '127.0.0.1', port: 0, tokenTtlMs: 60_000, maxTokens: 100, idleTimeoutMs: 3_600_000, streamCreationTimeoutMs: 30_000,
    runtime: o.runtime ?? new FakeRuntime(), clock, log: nullLogger(), ...o,
  });
  await server.start();
}

/** catSession opens an exec of `cat` over SPDY and returns a function that round-trips a line through it. */
async function catSession(url: string) {
  const r = await upgrade(url, V4);
  expect(r.status).toBe(101);
  const c: SpdyClient = r.client!;
  cleanup.push(() => c.close());
  c.open({ streamtype: 'error' });
  const stdin = c.open({ streamtype: 'stdin' });
  const stdout = c.open({ streamtype: 'stdout' });
  return async (line: string) => {
    const before = stdout.text().length;
    stdin.write(line);
    await until(() => stdout.text().length >= before + line.length);
    return stdout.text().slice(before);
  };
}

/** rawConnection opens a TCP connection to the server and tells when the server closed it. */
async function rawConnection() {
  const u = new URL(server.baseUrl);
  const s = net.connect(Number(u.port), u.hostname);
  cleanup.push(() => s.destroy());
  let closed = false;
  s.on('close', () => (closed = true)).on('error', () => {});
  s.resume(); // read what the server answers, or 'close' waits for it
  await new Promise((r) => s.once('connect', r));
  return { s, closed: () => closed };
}

describe('connection cap', () => {
  it('refuses the upgrade beyond the cap with 503 while the running sessions go on; the token stays good', async () => {
    await start({ maxConnections: 2 });
    const a = await catSession(server.issue(cat()));
    const b = await catSession(server.issue(cat()));
    expect(server.connections).toBe(2);
    const third = server.issue(cat());
    for (const [protocols, kind] of [[V4, 'spdy'], [[], 'websocket']] as const) {
      const r = kind === 'spdy' ? await upgrade(third, [...protocols]) : await wsStatus(third);
      expect(r.status, kind).toBe(503);
    }
    expect(await a('still here\n')).toBe('still here\n');
    expect(await b('me too\n')).toBe('me too\n');
    cleanup.splice(0).forEach((f) => f());
    await until(() => server.connections === 0);
    expect(await (await catSession(third))('now in\n')).toBe('now in\n');
  });

  it('closes connections beyond the cap that wait to upgrade, at accept, and leaves upgraded ones alone', async () => {
    await start({ maxConnections: 2 });
    const session = await catSession(server.issue(cat()));
    const waiting = [await rawConnection(), await rawConnection()];
    await until(() => server.waiting === 2);
    const extra = await rawConnection();
    await until(() => extra.closed());
    expect(waiting.map((w) => w.closed())).toEqual([false, false]);
    expect(await session('ok\n')).toBe('ok\n');
  });
});

describe('upgrade deadline', () => {
  it('closes a connection that has not upgraded in time (silent, dribbling headers, plain requests), not a session', async () => {
    await start({ upgradeTimeoutMs: 10_000 });
    const session = await catSession(server.issue(cat()));
    const silent = await rawConnection();
    const dribble = await rawConnection();
    dribble.s.write(`POST /exec/${'x'.repeat(8)} HTTP/1.1\r\nHost: a\r\n`);
    const plain = await rawConnection();
    plain.s.write('GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => server.waiting === 3);
    clock.advance(9_999);
    await tick(50);
    expect([silent, dribble, plain].map((c) => c.closed())).toEqual([false, false, false]);
    clock.advance(1);
    await until(() => silent.closed() && dribble.closed() && plain.closed());
    expect(server.waiting).toBe(0);
    clock.advance(3_600_000 - 20_000); // well past any upgrade deadline, short of the idle timeout
    expect(await session('alive\n')).toBe('alive\n');
  });
});

function wsStatus(url: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws'), ['v4.channel.k8s.io']);
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.on('open', () => resolve({ status: 101 }));
    ws.on('error', reject);
  });
}

describe('WebSocket backpressure', () => {
  /**
   * flood sends 64 KiB messages while the socket takes them and returns how many bytes left the client (written
   * minus what its socket still holds) once nothing has moved for 300 ms, or when `max` bytes were sent.
   */
  async function flood(ws: WebSocket, channel: number, max: number): Promise<{ sent: number; taken: number }> {
    const msg = Buffer.alloc(64 * 1024 + 1, 0x61);
    msg[0] = channel;
    let sent = 0;
    let last = -1;
    let still = 0;
    while (sent < max) {
      while (ws.bufferedAmount < 1 << 20 && sent < max) {
        ws.send(msg);
        sent += msg.length;
      }
      await tick(20);
      const gone = sent - ws.bufferedAmount;
      still = gone === last ? still + 20 : 0;
      last = gone;
      if (still >= 300) break;
    }
    return { sent, taken: sent - ws.bufferedAmount };
  }

  it('stdin into a command that does not read stops the reading; the command then gets every byte in order', async () => {
    const runtime = new FakeRuntime();
    await start({ runtime });
    const url = server.issue({ ...cat(), cmd: ['hold'] });
    const ws = new WebSocket(url.replace('http', 'ws'), ['v4.channel.k8s.io']);
    cleanup.push(() => ws.terminate());
    await new Promise((r) => ws.once('open', r));
    const { sent, taken } = await flood(ws, 0, 256 << 20);
    console.log(`WebSocket stdin flood: ${(taken / 2 ** 20).toFixed(1)} MiB left the client of 256 MiB offered`);
    expect(taken).toBeLessThan(64 << 20);
    runtime.release();
    const payload = sent - (sent / (64 * 1024 + 1)); // without the channel bytes
    await until(() => runtime.held >= payload, 20_000);
    expect(runtime.held).toBe(payload);
    expect(runtime.heldOk).toBe(true);
  });
});

// The direct gRPC server (src/cri/h2-direct.ts), which serves the clients whose :authority is the socket path: Node's
// http2 client and raw frames as clients, every call going through the router as the daemon's do.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { encodeBlock, parseTimeout, percentEncode } from '../../../src/cri/h2-frames.js';
import { unary, type AnyRpc } from '../../../src/cri/rpc.js';
import { nullLogger } from '../../../src/log/index.js';
import { frame, grpcMessage, PREFACE, rawClient } from '../../helpers/h2-raw.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 200);
  l = undefined;
});

const VERSION = '/runtime.v1.RuntimeService/Version';

async function serve(rpcs: AnyRpc[] = [unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]): Promise<string> {
  const server = buildCriServer(new Map(rpcs.map((r) => [r.name, r])), nullLogger(), { ready: true });
  const path = join(mkdtempSync(join(tmpdir(), 'fune-direct-')), 'fune.sock');
  l = await listen(server, path);
  return path;
}

/** h2Call makes one gRPC call with Node's http2 client and gives its status and body. */
function h2Call(session: http2.ClientHttp2Session, authority: string, extra: Record<string, string> = {}, body = grpcMessage()) {
  return new Promise<{ status: string | undefined; message: string | undefined; http: number | undefined; body: Buffer }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': VERSION, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers', ...extra });
    let status: string | undefined;
    let message: string | undefined;
    let http: number | undefined;
    const chunks: Buffer[] = [];
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = String(h['grpc-message']);
    };
    req.on('response', (h) => ((http = Number(h[':status'])), take(h)));
    req.on('trailers', take);
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status, message, http, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('the direct gRPC server', () => {
  it('serves many calls per connection, over padded frames, HPACK dynamic-table references and CONTINUATION', async () => {
    const path = await serve();
    const session = http2.connect('http://localhost', { createConnection: () => connect(path), paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await h2Call(session, path);
        expect(r.status).toBe('0');
        expect(r.body.subarray(5).toString()).toContain('fune');
      }
      expect(l!.direct.size).toBe(1);
      const big = await h2Call(session, path, { 'x-big': 'y'.repeat(6_000), 'x-big2': 'z'.repeat(6_000), 'x-big3': 'w'.repeat(6_000) });
      expect(big.status).toBe('0');
      // Once the connection is the direct server's, a valid authority is served there too.
      expect((await h2Call(session, 'localhost')).status).toBe('0');
    } finally {
      session.close();
    }
  });

  it('sends responses larger than the client windows as the client opens them, several calls at once', async () => {
    const big = 'v'.repeat(3 * 1024 * 1024);
    const path = await serve([unary('Version', 'trace', async () => ({ runtime_name: 'fune', runtime_version: big }))]);
    const session = http2.connect('http://localhost', { createConnection: () => connect(path), settings: { initialWindowSize: 16_384 } });
    try {
      const rs = await Promise.all(Array.from({ length: 4 }, () => h2Call(session, path)));
      for (const r of rs) {
        expect(r.status).toBe('0');
        expect(r.body.readUInt32BE(1)).toBe(r.body.length - 5);
        expect(r.body.includes(big)).toBe(true);
      }
    } finally {
      session.close();
    }
  });

  it('holds response DATA back while a client with wide-open windows does not read, and loses nothing', async () => {
    const big = 'q'.repeat(20 * 1024 * 1024); // more than the 16 MiB a client may leave unread before it is cut off
    const path = await serve([unary('Version', 'trace', async () => ({ runtime_name: 'fune', runtime_version: big }))]);
    const c = await rawClient(path, false);
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x4, 0);
    settings.writeUInt32BE(2 ** 31 - 1, 2);
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(2 ** 31 - 1 - 65_535, 0);
    c.send(Buffer.concat([PREFACE, frame(4, 0, 0, settings), frame(8, 0, 0, inc)]));
    await c.until((f) => f.type === 4 && !(f.flags & 1));
    c.sock.pause();
    c.request(1, VERSION, path, grpcMessage());
    await new Promise((r) => setTimeout(r, 400));
    c.sock.resume();
    expect(await c.status(1)).toBe('0');
    const got = c.frames.filter((f) => f.type === 0 && f.stream === 1).reduce((n, f) => n + f.payload.length, 0);
    expect(got).toBeGreaterThan(big.length);
    c.close();
  });

  it('answers bad calls with the right status and keeps the connection: unknown method, wrong content type, GET, compressed, oversized, no message', async () => {
    const path = await serve();
    const session = http2.connect('http://localhost', { createConnection: () => connect(path) });
    try {
      const unknown = await h2Call(session, path, { ':path': '/runtime.v1.RuntimeService/Nope' });
      expect([unknown.status, unknown.message]).toEqual(['12', 'The server does not implement the method /runtime.v1.RuntimeService/Nope']);
      expect((await h2Call(session, path, { 'content-type': 'text/plain' })).http).toBe(415);
      expect((await h2Call(session, path, { 'grpc-encoding': 'gzip' })).status).toBe('12');
      expect((await h2Call(session, path, {}, grpcMessage(Buffer.alloc(0), 1))).status).toBe('12');
      const huge = Buffer.alloc(16 * 1024 * 1024 + 10);
      const over = await h2Call(session, path, {}, grpcMessage(huge));
      expect(over.status).toBe('8');
      expect(over.message).toMatch(/larger than max/);
      expect((await h2Call(session, path, {}, Buffer.alloc(0))).status).toBe('13');
      expect((await h2Call(session, path, {}, Buffer.from([0, 0, 0, 0, 9, 1]))).status).toBe('13');
      // A request message that does not decode as the method's type.
      expect((await h2Call(session, path, {}, grpcMessage(Buffer.from([0xff, 0xff, 0xff])))).status).toBe('13');
      expect((await h2Call(session, path)).status).toBe('0');
    } finally {
      session.close();
    }
  });

  it('cancels the handler when the client resets its stream, and answers PINGs', async () => {
    let aborted = false;
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const path = await serve([
      unary('Version', 'trace', async (_req, ctx) => {
        entered();
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
        aborted = true;
        return {};
      }),
    ]);
    const c = await rawClient(path);
    c.request(1, VERSION, path, grpcMessage());
    await inHandler;
    c.send(frame(6, 0, 0, Buffer.from('pingpong')));
    const pong = await c.until((f) => f.type === 6);
    expect([pong.flags, pong.payload.toString()]).toEqual([1, 'pingpong']);
    c.send(frame(3, 0, 1, Buffer.from([0, 0, 0, 8])));
    for (let i = 0; i < 50 && !aborted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(aborted).toBe(true);
    c.close();
  });

  it('passes grpc-timeout on as the call deadline', async () => {
    // The deadline runs from the request's arrival, which is after t0 here, so the abort can come no sooner than
    // 150 ms after t0 whatever the load (the handler itself may start late). A deadline that was not applied would
    // leave the handler waiting until the test's own timeout.
    let aborted = -1;
    const path = await serve([
      unary('Version', 'trace', async (_req, ctx) => {
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
        aborted = Date.now();
        return {};
      }),
    ]);
    const c = await rawClient(path);
    const t0 = Date.now();
    c.request(1, VERSION, path, grpcMessage(), [['grpc-timeout', '150m']]);
    await c.status(1);
    expect(aborted - t0).toBeGreaterThanOrEqual(149);
    c.close();
  });

  it('answers broken input with GOAWAY and closes only that connection', async () => {
    const path = await serve();
    const cases: [string, Buffer, number][] = [
      ['broken HPACK', frame(1, 4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff])), 0x9],
      ['a frame over the maximum size', frame(0, 0, 1, Buffer.alloc(20_000)), 0x6],
      ['DATA on an idle stream', frame(0, 0, 7, Buffer.alloc(3)), 0x1],
      ['an even stream id', frame(1, 4, 2, encodeBlock([[':authority', path]])), 0x1],
      ['CONTINUATION with no header block', frame(9, 4, 1, Buffer.alloc(0)), 0x1],
      ['a SETTINGS frame of 5 bytes', frame(4, 0, 0, Buffer.alloc(5)), 0x6],
    ];
    // Frames that are not a header block keep the router waiting for one for a second, so all cases run at once.
    await Promise.all(
      cases.map(async ([what, bytes, code]) => {
        const c = await rawClient(path);
        c.send(bytes);
        const g = await c.until((f) => f.type === 7);
        expect(g.payload.readUInt32BE(4), what).toBe(code);
        await c.closed;
      }),
    );
    const bad = await rawClient(path, false);
    bad.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect((await bad.until((f) => f.type === 7)).payload.readUInt32BE(4)).toBe(1);
    await bad.closed;
    const good = await rawClient(path);
    good.request(1, VERSION, path, grpcMessage());
    expect(await good.status(1)).toBe('0');
    good.close();
  });

  it('survives random frames and lying lengths, then still serves', async () => {
    const path = await serve();
    for (let i = 0; i < 60; i++) {
      const c = await rawClient(path, i % 2 === 0);
      const junk: Buffer[] = [];
      for (let k = 0; k < 8; k++) {
        const payload = randomBytes(Math.floor(Math.random() * 40));
        junk.push(frame(Math.floor(Math.random() * 11), Math.floor(Math.random() * 256), Math.floor(Math.random() * 5), payload));
      }
      if (i % 3 === 0) junk.push(randomBytes(30));
      c.send(i % 2 === 0 ? Buffer.concat(junk) : Buffer.concat([PREFACE, ...junk]));
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 20))]);
      c.close();
    }
    const good = await rawClient(path);
    good.request(1, VERSION, path, grpcMessage());
    expect(await good.status(1)).toBe('0');
    good.close();
  });

  it('refuses new calls after shutdown begins but finishes the one in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const path = await serve([
      unary('Version', 'trace', async () => {
        entered();
        await gate;
        return { runtime_name: 'late' };
      }),
    ]);
    const c = await rawClient(path);
    c.request(1, VERSION, path, grpcMessage());
    await inHandler;
    const stopping = shutdown(l!, 5000);
    l = undefined;
    const g = await c.until((f) => f.type === 7);
    expect(g.payload.readUInt32BE(0)).toBe(1); // the last stream it will answer
    release();
    expect(await c.status(1)).toBe('0');
    await stopping;
    await c.closed;
  });
});

describe('direct server helpers', () => {
  it('encodes header literals that an HPACK decoder reads back, and percent-encodes grpc-message', async () => {
    const block = encodeBlock([
      ['grpc-status', '5'],
      ['grpc-message', percentEncode('container "x" – 100% gone\n')],
    ]);
    const hpack = (await import('hpack.js')).default;
    const d = hpack.decompressor.create({ table: { maxSize: 4096 } });
    d.write(block);
    d.execute();
    const got: [string, string][] = [];
    for (let f = d.read(); f; f = d.read()) got.push([f.name, f.value]);
    expect(got).toEqual([
      ['grpc-status', '5'],
      ['grpc-message', 'container "x" %E2%80%93 100%25 gone%0A'],
    ]);
  });

  it('reads grpc-timeout in every unit and ignores malformed ones', () => {
    const now = Date.now();
    expect(parseTimeout('2S') - now).toBeGreaterThanOrEqual(1990);
    expect(parseTimeout('2S') - now).toBeLessThan(2100);
    expect(parseTimeout('1M') - now).toBeGreaterThanOrEqual(59_990);
    expect(parseTimeout('500000u') - now).toBeGreaterThanOrEqual(490);
    expect(parseTimeout('123456789S')).toBe(Infinity);
    expect(parseTimeout('5s')).toBe(Infinity);
    expect(parseTimeout('')).toBe(Infinity);
  });
});

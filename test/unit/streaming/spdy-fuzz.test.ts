// Seeded random-frame fuzzing of the SPDY parser and session: thousands of random and mutated frames (flipped bytes,
// lying lengths, truncated and garbage header blocks, unknown types, random chunking) must never throw out of the
// session, never loop, never make the server write a frame that does not parse, and leave nothing behind. No
// wall-clock bounds (a loaded CI host made one of them fail): a loop shows as the per-reader guard or the timeout.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { nullLogger } from '../../../src/log/index.js';
import { StreamingServer } from '../../../src/streaming/server.js';
import { systemClock } from '../../../src/sys/clock.js';
import { upgrade } from '../../helpers/spdy-client.js';
import { FakeRuntime } from './fake-runtime.js';
import {
  FrameReader,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../../src/streaming/spdy-frame.js';
import { SpdySession, type SpdyStream } from '../../../src/streaming/spdy-session.js';
import { HeaderCompressor, HeaderDecompressor } from '../../../src/streaming/spdy-zlib.js';

/** mulberry32 is a tiny seeded PRNG: the same seed gives the same cases, so a failure can be replayed. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, bytes, pick };
}
type Rng = ReturnType<typeof mulberry32>;

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

/** frames makes a plausible client byte stream: mostly valid frames, one zlib context for its header blocks. */
function frames(rng: Rng, n: number): Buffer[] {
  const z = new HeaderCompressor();
  const out: Buffer[] = [];
  let id = 1;
  const headers = (): Record<string, string> =>
    rng.pick<Record<string, string>>([
      { streamtype: rng.pick(['error', 'data', 'stdin', 'stdout', 'stderr', 'resize', 'bogus']), port: String(rng.int(70000)), requestid: String(rng.int(5)) },
      { streamtype: 'data' },
      {},
      { [`x-${rng.int(1000)}`]: 'v'.repeat(rng.int(3000)) },
    ]);
  for (let i = 0; i < n; i++) {
    const sid = rng.next() < 0.7 ? Math.max(1, id - 2 * rng.int(3)) : rng.int(2 ** 31);
    switch (rng.int(10)) {
      case 0:
      case 1:
        out.push(encodeSynStream(id, z.compress(encodeHeaderBlock(headers())), rng.next() < 0.2));
        id += 2;
        break;
      case 2:
      case 3:
        out.push(encodeData(Math.max(1, sid), rng.bytes(rng.int(200)), rng.next() < 0.3));
        break;
      case 4:
        out.push(encodePing(rng.int(2 ** 32)));
        break;
      case 5:
        out.push(encodeRstStream(Math.max(1, sid), rng.int(14)));
        break;
      case 6:
        out.push(encodeSettings(Array.from({ length: rng.int(20) }, () => ({ id: rng.int(10), value: rng.int(2 ** 31) }))));
        break;
      case 7:
        out.push(encodeWindowUpdate(sid, rng.int(2 ** 31)));
        break;
      case 8:
        out.push(rng.next() < 0.5 ? encodeGoAway(sid, rng.int(3)) : encodeSynReply(Math.max(1, sid), z.compress(encodeHeaderBlock(headers()))));
        break;
      default: {
        // An unknown or odd control type with a random payload.
        const body = rng.bytes(rng.int(64));
        const h = Buffer.alloc(8);
        h.writeUInt16BE(0x8000 | rng.pick([3, 3, 3, 2, 0x7fff]), 0);
        h.writeUInt16BE(rng.int(16), 2);
        h.writeUInt32BE(((rng.int(256) << 24) | body.length) >>> 0, 4);
        out.push(Buffer.concat([h, body]));
      }
    }
  }
  return out;
}

/** mutate damages one frame: flipped bytes, a lying length, truncation, insertion or plain garbage. */
function mutate(rng: Rng, f: Buffer): Buffer {
  const b = Buffer.from(f);
  switch (rng.int(7)) {
    case 0:
      for (let k = 0; k <= rng.int(4); k++) b[rng.int(b.length)] = rng.int(256);
      return b;
    case 1: // lying length: bigger, smaller, or huge
      b.writeUIntBE(rng.pick([0, 1, 7, b.length - 8 + 1 + rng.int(50), Math.max(0, b.length - 8 - 1 - rng.int(10)), 0xffffff]) & 0xffffff, 5, 3);
      return b;
    case 2: // truncated (a header block cut short when this was a SYN_STREAM)
      return b.subarray(0, rng.int(b.length));
    case 3:
      return Buffer.concat([b.subarray(0, 8), rng.bytes(rng.int(40)), b.subarray(8)]);
    case 4: // a header block that is not zlib, or zlib of something else
      return b.length > 18 ? Buffer.concat([b.subarray(0, 18), rng.bytes(b.length - 18)]) : b;
    case 5:
      return rng.bytes(rng.int(32));
    default:
      return b;
  }
}

/** chunks splits the bytes at random points, as TCP may. */
function chunks(rng: Rng, all: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < all.length; ) {
    const n = 1 + rng.int(rng.next() < 0.3 ? 8 : 4096);
    out.push(all.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** FakeSocket captures what the session writes and lets the test deliver bytes synchronously. */
class FakeSocket extends Duplex {
  written: Buffer[] = [];
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.written.push(c);
    cb();
  }
}

describe('SPDY fuzzing (seeded)', () => {
  it('the frame reader and header decoding throw nothing but SpdyProtocolError on random and mutated input', () => {
    const rng = mulberry32(SEED);
    let parsed = 0;
    let rejected = 0;
    for (let c = 0; c < 3000; c++) {
      const src = frames(rng, 1 + rng.int(8)).map((f) => (rng.next() < 0.5 ? mutate(rng, f) : f));
      const reader = new FrameReader();
      const inflate = new HeaderDecompressor(64 * 1024);
      try {
        for (const piece of chunks(rng, Buffer.concat(src))) {
          reader.push(piece);
          for (let f = reader.next(), guard = 0; f; f = reader.next(), guard++) {
            expect(guard).toBeLessThan(10_000);
            parsed++;
            if (f.type === 'syn_stream' || f.type === 'syn_reply' || f.type === 'headers') decodeHeaderBlock(inflate.decompress(f.headerBlock));
          }
          // A lying length never makes the reader hold more than one maximal frame.
          expect(reader.buffered).toBeLessThanOrEqual((1 << 20) + 8 + 4096);
        }
      } catch (e) {
        if (!(e instanceof SpdyProtocolError)) throw e;
        rejected++;
      }
    }
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(100);
  }, 60_000);

  it('a session fed thousands of random and mutated frames never throws, never loops, writes only valid frames and frees its streams', () => {
    const rng = mulberry32(SEED + 1);
    let goaways = 0;
    let streams = 0;
    const errors: Error[] = [];
    for (let c = 0; c < 1500; c++) {
      const socket = new FakeSocket();
      const session = new SpdySession(socket, nullLogger(), { maxStreams: 8 });
      const opened: SpdyStream[] = [];
      session.on('stream', (s: SpdyStream) => {
        streams++;
        opened.push(s);
        s.on('error', (e) => errors.push(e));
        // The session's users do all of these; each must stay safe against whatever arrives next.
        switch (rng.int(5)) {
          case 0:
            return s.reset();
          case 1:
            return void s.accept();
          case 2:
            s.accept();
            return void s.discard();
          case 3:
            s.accept();
            s.write(rng.bytes(rng.int(100)));
            return void s.end();
          default:
            s.accept();
            return void s.resume();
        }
      });
      const mutateRate = rng.pick([0, 0.05, 0.3, 1]);
      const bytes = Buffer.concat(frames(rng, 1 + rng.int(30)).map((f) => (rng.next() < mutateRate ? mutate(rng, f) : f)));
      // Synchronous: a parser that looped would never return here (the test's timeout ends it).
      for (const piece of chunks(rng, bytes)) socket.emit('data', piece);
      if (session.isClosed) goaways++;
      session.destroy();
      expect(session.openStreams).toBe(0);
      expect(opened.every((s) => s.destroyed)).toBe(true);
      // Whatever the session answered parses as SPDY frames (with a reader as lenient as the Go client).
      const reader = new FrameReader({ maxControlLength: 1 << 24, maxDataLength: 1 << 24, maxSettings: 1000 });
      reader.push(Buffer.concat(socket.written));
      while (reader.next());
      expect(reader.buffered).toBe(0);
    }
    // A stream error would be an uncaught exception in the daemon wherever nobody listens for it.
    expect(errors).toEqual([]);
    expect(streams).toBeGreaterThan(500);
    expect(goaways).toBeGreaterThan(100);
  }, 60_000);

  it('the streaming server survives fuzzed exec and port-forward connections and releases every one of them', async () => {
    const rng = mulberry32(SEED + 2);
    const echo = net.createServer((c) => c.pipe(c).on('error', () => {}));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as net.AddressInfo).port;
    const server = new StreamingServer({
      address: '127.0.0.1', port: 0, tokenTtlMs: 60_000, maxTokens: 1000, idleTimeoutMs: 3_600_000, streamCreationTimeoutMs: 30_000,
      runtime: new FakeRuntime(), clock: systemClock, log: nullLogger(),
    });
    await server.start();
    try {
      for (let c = 0; c < 150; c++) {
        const pf = rng.next() < 0.5;
        const url = server.issue(pf ? { kind: 'portforward', podSandboxId: 'p', ports: [] } : { kind: 'exec', containerId: 'c', cmd: ['cat'], tty: false, stdin: true, stdout: true, stderr: true });
        const { client } = await upgrade(url, [pf ? 'portforward.k8s.io' : 'v4.channel.k8s.io']);
        // Valid streams first (real pairs to the echo server, real exec streams), then damage.
        const z = frames(rng, 1 + rng.int(20)).map((f) => (rng.next() < 0.2 ? mutate(rng, f) : f));
        if (pf) {
          client!.open({ streamtype: 'error', port: String(port), requestid: '1' }).end();
          client!.open({ streamtype: 'data', port: String(port), requestid: '1' }).write('ping');
        } else {
          for (const t of ['error', 'stdin', 'stdout', 'stderr']) client!.open({ streamtype: t });
        }
        // The test client's own zlib context is now ahead of the random frames' one: their header blocks are
        // garbage to the server, which is the point.
        for (const piece of chunks(rng, Buffer.concat(z))) client!.raw(piece);
        await new Promise((r) => setTimeout(r, rng.int(5)));
        client!.close();
      }
      for (let i = 0; i < 400 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.connections).toBe(0);
      expect(server.openStreams).toBe(0);
      // Still serving: a clean exec works.
      const { client } = await upgrade(server.issue({ kind: 'exec', containerId: 'c', cmd: ['echo', 'alive'], tty: false, stdin: false, stdout: true, stderr: false }), ['v4.channel.k8s.io']);
      const error = client!.open({ streamtype: 'error' });
      const stdout = client!.open({ streamtype: 'stdout' });
      await Promise.all([stdout.done(), error.done()]);
      expect(stdout.text()).toBe('alive');
      client!.close();
    } finally {
      await server.stop();
      echo.close();
    }
  }, 60_000);
});

// The queue and high-water logic that bounds a streaming connection's memory, on fakes: a socket whose write side
// only drains when the test says so, and a SPDY session fed frames by hand.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { nullLogger } from '../../../src/log/index.js';
import { OutputWatch, ReadGate } from '../../../src/streaming/backpressure.js';
import { FrameReader, encodeData, encodeHeaderBlock, encodePing, encodeSynStream, type Frame } from '../../../src/streaming/spdy-frame.js';
import { SpdySession, type SpdyStream } from '../../../src/streaming/spdy-session.js';
import { HeaderCompressor } from '../../../src/streaming/spdy-zlib.js';

const tick = () => new Promise((r) => setImmediate(r));

/** FakeSocket is a peer that reads nothing until `drain()`: its writes wait, as on a socket whose peer is full. */
class FakeSocket extends Duplex {
  pending: (() => void)[] = [];
  written: Buffer[] = [];
  pauses = 0;
  resumes = 0;
  constructor() {
    super({ writableHighWaterMark: 16 * 1024 });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.written.push(chunk);
    this.pending.push(cb);
  }
  override pause(): this {
    this.pauses++;
    return super.pause();
  }
  override resume(): this {
    this.resumes++;
    return super.resume();
  }
  /** drain lets every waiting write complete (and the ones they release). */
  async drain(): Promise<void> {
    // The session sends small frames at the end of the loop's turn (corked until then).
    for (await tick(); this.pending.length > 0; await tick()) this.pending.splice(0).forEach((cb) => cb());
  }
  frames(): Frame[] {
    const r = new FrameReader({ maxControlLength: 1 << 24, maxDataLength: 1 << 24, maxSettings: 100 });
    r.push(Buffer.concat(this.written));
    const out: Frame[] = [];
    for (let f = r.next(); f; f = r.next()) out.push(f);
    return out;
  }
}


describe('ReadGate', () => {
  it('pauses on the first hold and resumes when the last holder lets go', () => {
    const calls: string[] = [];
    const g = new ReadGate(() => calls.push('pause'), () => calls.push('resume'));
    const table: [op: 'hold' | 'release', key: string, paused: boolean][] = [
      ['hold', 'a', true],
      ['hold', 'a', true],
      ['hold', 'b', true],
      ['release', 'a', true],
      ['release', 'c', true],
      ['release', 'b', false],
      ['release', 'b', false],
    ];
    for (const [op, key, paused] of table) {
      g[op](key);
      expect(g.paused).toBe(paused);
    }
    expect(calls).toEqual(['pause', 'resume']);
    g.hold('x');
    g.clear();
    expect(g.paused).toBe(false);
    expect(calls).toEqual(['pause', 'resume', 'pause']); // cleared for good: no resume of a dead source
  });
});

describe('OutputWatch', () => {
  it('holds the gate while the socket has more than its mark queued, until the socket drains', async () => {
    const s = new FakeSocket();
    const g = new ReadGate(() => {}, () => {});
    const w = new OutputWatch(s, g, 64 * 1024);
    for (const [bytes, held] of [[32 * 1024, false], [32 * 1024, false], [1, true]] as const) {
      s.write(Buffer.alloc(bytes));
      w.check();
      expect(g.paused).toBe(held);
    }
    await s.drain();
    expect(s.writableLength).toBe(0);
    expect(g.paused).toBe(false);
    w.stop();
  });
});

function session(limits = {}) {
  const socket = new FakeSocket();
  const s = new SpdySession(socket, nullLogger(), limits);
  const z = new HeaderCompressor();
  const streams: SpdyStream[] = [];
  s.on('stream', (st: SpdyStream) => {
    st.accept();
    streams.push(st);
  });
  const feed = (...b: Buffer[]) => socket.emit('data', Buffer.concat(b));
  const open = (id: number) => feed(encodeSynStream(id, z.compress(encodeHeaderBlock({ streamtype: 'stdin' }))));
  return { socket, s, feed, open, streams };
}

describe('SpdySession bounds', () => {
  it('a PING flood whose replies are not read stops the reading at the mark; the replies all follow, in order', async () => {
    const { socket, s, feed } = session({ maxQueuedBytes: 64 * 1024 });
    let id = 1;
    // 10,000 pings (120 kB) arrive in chunks of 1,000; reading stops once more than 64 KiB of replies wait.
    for (let chunk = 0; chunk < 10 && s.isReading; chunk++) feed(...Array.from({ length: 1000 }, () => encodePing((id += 2) - 2)));
    expect(s.isReading).toBe(false);
    expect(socket.pauses).toBeGreaterThan(0);
    const sent = id;
    expect(socket.writableLength).toBeGreaterThan(64 * 1024);
    expect(socket.writableLength).toBeLessThan(64 * 1024 + 12 * 1000 + 1);
    await socket.drain();
    expect(s.isReading).toBe(true);
    const pings = socket.frames().flatMap((f) => (f.type === 'ping' ? [f.id] : []));
    expect(pings).toEqual(Array.from({ length: (sent - 1) / 2 }, (_, i) => 2 * i + 1));
    s.destroy();
  });

  it('a stream nobody reads stops the reading above its buffer and grants no window; reading it grants it back', async () => {
    const { socket, s, feed, open, streams } = session({ streamBuffer: 128 * 1024 });
    open(1);
    await socket.drain();
    const st = streams[0]!;
    const chunk = Buffer.alloc(32 * 1024, 7);
    let fed = 0;
    while (s.isReading && fed < 1024 * 1024) {
      feed(encodeData(1, chunk));
      fed += chunk.length;
    }
    expect(s.isReading).toBe(false);
    expect(fed).toBeLessThanOrEqual(128 * 1024 + chunk.length);
    await socket.drain();
    expect(socket.frames().filter((f) => f.type === 'window_update')).toEqual([]);
    let read = 0;
    st.on('data', (b: Buffer) => (read += b.length));
    await tick();
    expect(read).toBe(fed);
    expect(s.isReading).toBe(true);
    await socket.drain();
    const grants = socket.frames().flatMap((f) => (f.type === 'window_update' ? [f] : []));
    const sum = (sid: number) => grants.filter((g) => g.streamId === sid).reduce((a, g) => a + g.delta, 0);
    expect(sum(1)).toBe(fed);
    expect(sum(0)).toBe(fed);
    s.destroy();
  });

  it('DATA for a stream that is gone is granted back to the session window only', async () => {
    const { socket, s, feed } = session();
    feed(encodeData(9, Buffer.alloc(40 * 1024)));
    await socket.drain();
    expect(socket.frames().filter((f) => f.type === 'window_update')).toEqual([{ type: 'window_update', streamId: 0, delta: 40 * 1024 }]);
    s.destroy();
  });
});

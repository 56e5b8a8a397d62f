// Flow control between a client's streams and a terminal or attach socket (src/services/stream-flow.ts), on fakes:
// a writable that takes nothing until released, a FIFO nobody reads, a packet sink that holds its callbacks.
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outputTo, pumpPackets, pumpToFd, sharedSource, writeFd } from '../../../src/services/stream-flow.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** slowWritable takes writes but completes none until `release()`. */
function slowWritable(hwm: number) {
  const held: (() => void)[] = [];
  const got: Buffer[] = [];
  const w = new Writable({
    highWaterMark: hwm,
    write(chunk: Buffer, _e, cb) {
      got.push(chunk);
      held.push(() => cb());
    },
  });
  const release = async () => {
    for (; held.length > 0; await tick()) held.splice(0).forEach((f) => f());
  };
  return { w, got, release };
}

function counter() {
  const c = { pauses: 0, resumes: 0, paused: false };
  return { c, src: { pause: () => ((c.pauses++), (c.paused = true)), resume: () => ((c.resumes++), (c.paused = false)) } };
}

describe('outputTo and sharedSource', () => {
  it('pauses the source when the destination is full and resumes it on drain, once per fill', async () => {
    const { w, release } = slowWritable(10);
    const { c, src } = counter();
    const write = outputTo(w, src);
    const table: [bytes: number, paused: boolean][] = [[4, false], [4, false], [4, true], [100, true]];
    for (const [n, paused] of table) {
      write(Buffer.alloc(n));
      expect(c.paused).toBe(paused);
    }
    expect(c.pauses).toBe(1);
    await release();
    expect(c).toEqual({ pauses: 1, resumes: 1, paused: false });
  });

  it('two outputs on one source: it runs again only when both have drained', async () => {
    const a = slowWritable(1);
    const b = slowWritable(1);
    const { c, src } = counter();
    const shared = sharedSource(src);
    const [wa, wb] = [outputTo(a.w, shared), outputTo(b.w, shared)];
    wa(Buffer.from('x'));
    wb(Buffer.from('y'));
    expect(c).toEqual({ pauses: 1, resumes: 0, paused: true });
    await a.release();
    expect(c.paused).toBe(true);
    await b.release();
    expect(c).toEqual({ pauses: 1, resumes: 1, paused: false });
  });
});

describe('writing to a descriptor nobody reads', () => {
  let dir: string;
  let fifo: string;
  let fd: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fune-flow-'));
    fifo = join(dir, 'f');
    execFileSync('mkfifo', [fifo]);
    fd = openSync(fifo, fsc.O_RDWR | fsc.O_NONBLOCK); // a pipe end that is full at 64 KiB, like a terminal's
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const drainFifo = async (want: number) => {
    const r = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const parts: Buffer[] = [];
    let n = 0;
    try {
      for (let i = 0; i < 2000 && n < want; i++) {
        const b = Buffer.alloc(65536);
        let k = 0;
        try {
          k = readSync(r, b);
        } catch {
          await tick(2);
        }
        parts.push(b.subarray(0, k));
        n += k;
      }
    } finally {
      closeSync(r);
    }
    return Buffer.concat(parts);
  };

  it('writeFd waits out EAGAIN and writes everything once the reader reads', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    let done = false;
    const p = writeFd(fd, data, () => false).then(() => (done = true));
    await tick(50);
    expect(done).toBe(false);
    const got = await drainFifo(data.length);
    await p;
    expect(got.equals(data)).toBe(true);
  });

  it('pumpToFd takes one chunk at a time, so the client stream fills and stops; EOF follows the last byte', async () => {
    const src = new PassThrough({ highWaterMark: 16 * 1024 });
    const pump = pumpToFd(src, fd, Buffer.from([4]));
    const chunk = Buffer.alloc(8192, 0x61);
    let accepted = 0;
    for (let i = 0; i < 1000 && src.write(chunk); i++) {
      accepted += chunk.length;
      await tick();
    }
    accepted += chunk.length; // the write that returned false was taken too
    // The fifo holds 64 KiB, the chunk being written, and the stream's 16 KiB: nothing grows beyond that.
    expect(accepted).toBeLessThan(128 * 1024);
    src.end();
    const got = await drainFifo(accepted + 1);
    expect(got.length).toBe(accepted + 1);
    expect(got.subarray(0, accepted).every((b) => b === 0x61)).toBe(true);
    expect(got[accepted]).toBe(4);
    pump.stop();
  });
});

describe('pumpPackets', () => {
  it('bounds the bytes in flight, cuts packets to size and keeps their order', async () => {
    const held: (() => void)[] = [];
    const packets: Buffer[] = [];
    const sink = { write: (b: Buffer, cb: () => void) => (packets.push(b), held.push(cb)) };
    const src = new PassThrough({ highWaterMark: 16 * 1024 });
    pumpPackets(src, sink, 8192, 64 * 1024);
    const data = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7) % 256));
    let offered = 0;
    for (; offered < data.length && src.write(data.subarray(offered, offered + 20000)); offered += 20000) await tick();
    await tick(10);
    const inFlight = packets.reduce((a, p) => a + p.length, 0);
    expect(inFlight).toBeGreaterThan(64 * 1024);
    expect(inFlight).toBeLessThanOrEqual(64 * 1024 + 20000);
    expect(offered).toBeLessThan(256 * 1024);
    src.end(data.subarray(offered + 20000)); // the write that returned false was taken too
    for (let i = 0; i < 500 && held.length > 0; i++) {
      held.splice(0).forEach((f) => f());
      await tick();
    }
    expect(packets.every((p) => p.length <= 8192)).toBe(true);
    expect(Buffer.concat(packets).equals(data)).toBe(true);
  });
});

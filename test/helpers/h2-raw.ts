// A raw HTTP/2 client for tests of fune's CRI socket: it writes exactly the frames a test asks for, in the order
// Go's gRPC client does (preface and SETTINGS, then nothing until the server's SETTINGS arrive, which it
// acknowledges), and records every frame the server sends.
import { connect, type Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';

/** frame builds one HTTP/2 frame. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** grpcMessage frames one gRPC message (uncompressed). */
export function grpcMessage(msg: Buffer = Buffer.alloc(0), compressed = 0): Buffer {
  const p = Buffer.alloc(5);
  p[0] = compressed;
  p.writeUInt32BE(msg.length, 1);
  return Buffer.concat([p, msg]);
}

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Received is one frame from the server, with its header block decoded when it carries one. */
export interface Received {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  headers?: Record<string, string>;
}

/** RawClient is a connection driven frame by frame. */
export interface RawClient {
  sock: Socket;
  frames: Received[];
  /** closed resolves when the server has closed the connection. */
  closed: Promise<void>;
  /** send writes raw bytes. */
  send(b: Buffer): void;
  /** headers encodes a header block with the client's HPACK context (so the server must keep its own in step). */
  headers(fields: [string, string][]): Buffer;
  /** request sends HEADERS (+ DATA with END_STREAM when `body` is given) for a gRPC call on `stream`. */
  request(stream: number, path: string, authority: string, body?: Buffer, extra?: [string, string][]): void;
  /** until waits for a frame matching `pred` (5 s at most). */
  until(pred: (f: Received) => boolean, ms?: number): Promise<Received>;
  /** status gives the grpc-status a stream ended with, once it has. */
  status(stream: number): Promise<string>;
  close(): void;
}

/** rawClient connects to `path` and does the opening handshake the way grpc-go does (unless `handshake` is false). */
export async function rawClient(path: string, handshake = true): Promise<RawClient> {
  const sock = connect(path);
  sock.on('error', () => {});
  const enc = hpack.compressor.create({ table: { maxSize: 4096 } });
  const dec = hpack.decompressor.create({ table: { maxSize: 4096 } });
  let buf = Buffer.alloc(0);
  const frames: Received[] = [];
  const waiters: (() => void)[] = [];
  let block: { f: Received; parts: Buffer[] } | undefined;
  let prefaceSent = false;
  let acksOwed = 0;
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const len = buf.readUIntBE(0, 3);
      const f: Received = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
      buf = buf.subarray(9 + len);
      // ACK every SETTINGS, as a client must (never before its own preface).
      if (f.type === 4 && !(f.flags & 1)) {
        if (prefaceSent) sock.write(frame(4, 1, 0));
        else acksOwed++;
      }
      if (f.type === 1) block = { f, parts: [f.payload] };
      else if (f.type === 9 && block) block.parts.push(f.payload);
      if ((f.type === 1 || f.type === 9) && f.flags & 4 && block) {
        dec.write(Buffer.concat(block.parts));
        dec.execute();
        const h: Record<string, string> = {};
        for (let x = dec.read() as HeaderField | null; x; x = dec.read() as HeaderField | null) h[x.name] = x.value;
        block.f.headers = h;
        if (f !== block.f) block.f.flags |= f.flags & 4;
        block = undefined;
      }
      frames.push(f);
      for (const w of waiters.splice(0)) w();
    }
  });
  const until = async (pred: (f: Received) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no such frame within ${ms} ms; got ${JSON.stringify(frames.map((f) => [f.type, f.flags, f.stream, f.headers]))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  const headers = (fields: [string, string][]) => {
    enc.write(fields.map(([name, value]) => ({ name, value })));
    const out: Buffer[] = [];
    for (let c = enc.read() as Buffer | null; c; c = enc.read() as Buffer | null) out.push(c);
    return Buffer.concat(out);
  };
  const c: RawClient = {
    sock,
    frames,
    closed,
    send(b) {
      sock.write(b);
      if (!prefaceSent && b.subarray(0, PREFACE.length).equals(PREFACE)) {
        prefaceSent = true;
        for (; acksOwed > 0; acksOwed--) sock.write(frame(4, 1, 0));
      }
    },
    headers,
    request(stream, path, authority, body, extra = []) {
      const block = headers([
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', path],
        [':authority', authority],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
        ...extra,
      ]);
      sock.write(Buffer.concat([frame(1, 4, stream, block), body ? frame(0, 1, stream, body) : Buffer.alloc(0)]));
    },
    until,
    async status(stream) {
      const f = await until((x) => x.stream === stream && x.headers?.['grpc-status'] !== undefined);
      return f.headers!['grpc-status']!;
    },
    close: () => sock.destroy(),
  };
  if (handshake) {
    c.send(Buffer.concat([PREFACE, frame(4, 0, 0)]));
    await until((f) => f.type === 4 && !(f.flags & 1));
  }
  return c;
}

// A tiny SPDY/3.1 client for tests: HTTP upgrade, SYN_STREAM with compressed headers, DATA, PING, and a frame log.
// It reuses fune's framing module; the Go client (crictl) is what proves interoperability.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  FrameReader,
  encodeData,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynStream,
  decodeHeaderBlock,
  type Frame,
} from '../../src/streaming/spdy-frame.js';
import { HeaderCompressor, HeaderDecompressor } from '../../src/streaming/spdy-zlib.js';

export interface UpgradeResult {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  client?: SpdyClient;
}

/** upgrade opens a TCP connection to `url`, sends the SPDY upgrade request and parses the reply. */
export async function upgrade(url: string, protocols: string[], extraHeaders: string[] = []): Promise<UpgradeResult> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines = [
    `POST ${u.pathname} HTTP/1.1`,
    `Host: ${u.host}`,
    'Connection: Upgrade',
    'Upgrade: SPDY/3.1',
    ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
    ...extraHeaders,
    'Content-Length: 0',
  ];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let buf = Buffer.alloc(0);
  const onData = (b: Buffer) => (buf = Buffer.concat([buf, b]));
  socket.on('data', onData);
  for (let i = 0; i < 500 && buf.indexOf('\r\n\r\n') < 0; i++) await new Promise((r) => setTimeout(r, 10));
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('no HTTP response');
  const [statusLine, ...hdrs] = buf.subarray(0, end).toString().split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const h of hdrs) {
    const i = h.indexOf(':');
    const k = h.slice(0, i).toLowerCase();
    (headers[k] ??= []).push(h.slice(i + 1).trim());
  }
  const status = Number(statusLine!.split(' ')[1]);
  const rest = buf.subarray(end + 4);
  socket.off('data', onData);
  if (status !== 101) {
    await new Promise((r) => (socket.readableEnded ? r(null) : socket.once('close', r)));
    return { status, headers, body: (rest.toString() + buf.subarray(end + 4 + rest.length).toString()).trim() };
  }
  const client = new SpdyClient(socket);
  if (rest.length) client.feed(rest);
  return { status, headers, body: '', client };
}

/** ClientStream collects what the server sends on one stream. */
export class ClientStream extends EventEmitter {
  data = Buffer.alloc(0);
  /** keep = false counts received bytes without keeping them (for bulk transfers). */
  keep = true;
  received = 0;
  replied = false;
  fin = false;
  reset?: number;
  constructor(
    readonly client: SpdyClient,
    readonly id: number,
  ) {
    super();
  }
  write(b: Buffer | string, fin = false) {
    this.client.socket.write(encodeData(this.id, Buffer.from(b), fin));
  }
  end() {
    this.write('', true);
  }
  text() {
    return this.data.toString();
  }
  /** done resolves when the server sent FIN or RST on this stream. */
  done(): Promise<void> {
    if (this.fin || this.reset !== undefined) return Promise.resolve();
    return new Promise((r) => this.once('done', r));
  }
}

export class SpdyClient extends EventEmitter {
  private reader = new FrameReader({ maxControlLength: 1 << 24, maxDataLength: 1 << 24, maxSettings: 1000 });
  private deflate = new HeaderCompressor();
  private inflate = new HeaderDecompressor(1 << 20);
  private nextId = 1;
  streams = new Map<number, ClientStream>();
  frames: Frame[] = [];
  pings: number[] = [];
  goaway?: number;
  closed = false;
  constructor(readonly socket: net.Socket) {
    super();
    socket.on('data', (b: Buffer) => this.feed(b));
    socket.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
    socket.on('error', () => {});
  }
  feed(b: Buffer) {
    this.reader.push(b);
    for (let f = this.reader.next(); f; f = this.reader.next()) this.onFrame(f);
  }
  private onFrame(f: Frame) {
    if (f.type !== 'data') this.frames.push(f);
    const s = 'streamId' in f ? this.streams.get(f.streamId) : undefined;
    switch (f.type) {
      case 'data':
        if (!s) return;
        s.received += f.data.length;
        if (s.keep) s.data = Buffer.concat([s.data, f.data]);
        s.emit('data', f.data);
        if (f.fin) {
          s.fin = true;
          s.emit('done');
        }
        return;
      case 'syn_reply':
        decodeHeaderBlock(this.inflate.decompress(f.headerBlock));
        if (s) {
          s.replied = true;
          s.emit('reply');
        }
        return;
      case 'rst_stream':
        if (s) {
          s.reset = f.status;
          s.emit('done');
        }
        return;
      case 'ping':
        this.pings.push(f.id);
        this.emit('ping', f.id);
        return;
      case 'goaway':
        this.goaway = f.status;
        this.emit('goaway', f.status);
        return;
      default:
    }
  }
  /** open sends a SYN_STREAM with `headers` and returns the stream (not waiting for the reply). */
  open(headers: Record<string, string>): ClientStream {
    const id = this.nextId;
    this.nextId += 2;
    const s = new ClientStream(this, id);
    this.streams.set(id, s);
    this.socket.write(encodeSynStream(id, this.deflate.compress(encodeHeaderBlock(headers))));
    return s;
  }
  ping(id: number) {
    this.socket.write(encodePing(id));
  }
  rst(id: number, status = 5) {
    this.socket.write(encodeRstStream(id, status));
  }
  raw(b: Buffer) {
    this.socket.write(b);
  }
  waitClose(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.once('close', r));
  }
  close() {
    this.socket.destroy();
  }
}

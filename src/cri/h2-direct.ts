import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { handleServerStreamingCall, handleUnaryCall, ServiceError } from '@grpc/grpc-js';
import { status } from './grpc-status.js';
import hpack, { type HeaderField } from 'hpack.js';
import { withoutTurbofan } from '../sys/turbofan.js';
import {
  ACK, COMPRESSION_ERROR, CONTINUATION, DATA, EMPTY, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR, GOAWAY, HEADERS, NO_ERROR, PADDED, PING, PREFACE, PRIORITY_FRAME, PROTOCOL_ERROR, PUSH_PROMISE,
  REFUSED_STREAM, RST_STREAM, SETTINGS, WINDOW_UPDATE, encodeBlock, frameHeader, frameOf, goaway, headerFrames,
  headersFragment, parseTimeout, percentEncode, rstStream, windowUpdate,
} from './h2-frames.js';

/**
 * DirectMethod is one gRPC method as a DirectConnection serves it: the same handler grpc-js is given, and the
 * message codecs of its service definition.
 */
export interface DirectMethod {
  responseStream: boolean;
  deserialize(b: Buffer): unknown;
  serialize(v: unknown): Buffer;
  handler: handleUnaryCall<unknown, unknown> | handleServerStreamingCall<unknown, unknown>;
}

/** DirectLimits bound what one connection may make the daemon hold. */
export interface DirectLimits {
  /** maxMessage is the largest request message accepted (grpc.max_receive_message_length). */
  maxMessage: number;
}

/** Our SETTINGS are the protocol defaults (the router sent an empty SETTINGS frame as the server preface). */
const OUR_MAX_FRAME = 16_384;
const OUR_WINDOW = 65_535;
/** MAX_STREAMS bounds the calls open at once on one connection; more are refused (REFUSED_STREAM). */
const MAX_STREAMS = 1000;
/** MAX_HEADER_BLOCK bounds a header block as sent (HEADERS + CONTINUATION) and MAX_HEADER_LIST as decoded. */
const MAX_HEADER_BLOCK = 256 * 1024;
const MAX_HEADER_LIST = 256 * 1024;
/** QUEUED_HIGH is how many response bytes of one stream may wait for the client's window before write() says "wait". */
const QUEUED_HIGH = 256 * 1024;
const MAX_WINDOW = 2 ** 31 - 1;
/** SOCKET_HIGH is how many bytes may wait in the socket before response DATA waits for 'drain'. */
const SOCKET_HIGH = 1024 * 1024;
/**
 * MAX_UNREAD is how many bytes may wait in the socket for a client that does not read before it is cut off: DATA
 * stops at SOCKET_HIGH, so only a flood of frames that must be answered (PING, SETTINGS) gets this far.
 */
const MAX_UNREAD = 16 * 1024 * 1024;

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** DirectCall is the call object a grpc-js handler gets, for the parts fune's handlers use (see instrument.ts). */
class DirectCall extends EventEmitter {
  cancelled = false;
  writableEnded = false;
  constructor(
    readonly request: unknown,
    private readonly deadline: number,
    private readonly stream: Stream,
    private readonly conn: DirectConnection,
  ) {
    super();
  }
  getDeadline(): number {
    return this.deadline;
  }
  /** write sends one message of a server-streaming call; false asks the handler to wait for 'drain'. */
  write(msg: unknown): boolean {
    if (this.cancelled || this.writableEnded) return false;
    return this.conn.sendMessage(this.stream, msg);
  }
  end(): void {
    if (this.writableEnded) return;
    this.writableEnded = true;
    this.conn.finish(this.stream, status.OK, '');
  }
  destroy(err?: Partial<ServiceError>): void {
    if (this.writableEnded) return;
    this.writableEnded = true;
    this.conn.finish(this.stream, err?.code ?? status.UNKNOWN, err?.details ?? err?.message ?? '');
  }
}

interface Stream {
  id: number;
  /** method is set once the header block named a method this server has. */
  method?: DirectMethod;
  deadline: number;
  body: Buffer[];
  bodyLen: number;
  /** remoteDone: the client sent END_STREAM (or the stream was answered before it did). */
  remoteDone: boolean;
  call?: DirectCall;
  headersSent: boolean;
  /** queue holds response bytes (gRPC-framed messages) waiting for window; trailers go out once it is empty. */
  queue: Buffer[];
  queued: number;
  window: number;
  trailers?: Buffer;
  answered: boolean;
}

let decompressors = 0;

/**
 * newDecompressor makes a connection's HPACK decoder. The first one loads the parts of readable-stream that it
 * requires lazily (module resolution: Node's path helpers, which the start-up left nearly hot), so it is made with
 * Turbofan off (see withoutTurbofan).
 */
function newDecompressor(): ReturnType<typeof hpack.decompressor.create> {
  const make = () => hpack.decompressor.create({ table: { maxSize: 4096 } });
  return decompressors++ === 0 ? withoutTurbofan(make) : make();
}

/**
 * DirectConnection serves gRPC over HTTP/2 on one accepted socket without Node's http2 module and grpc-js: it is
 * the path for the Go clients whose `:authority` is the socket path (crictl, kubelets before 1.26), which nghttp2
 * refuses (see h2-route.ts). It speaks the subset a gRPC server needs — unary and server-streaming calls, flow
 * control both ways, PING, SETTINGS, RST_STREAM, GOAWAY — and hands each call to the same handler grpc-js would
 * run, with a call object that behaves as grpc-js's does for those handlers. A client that breaks the protocol gets
 * GOAWAY and the connection is closed; nothing it sends can make the daemon hold more than the limits above.
 */
export class DirectConnection {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private readonly decoder = newDecompressor();
  private hpackError: Error | undefined;
  private block: { streamId: number; flags: number; parts: Buffer[]; len: number } | undefined;
  private readonly streams = new Map<number, Stream>();
  private lastStreamId = 0;
  private sendWindow = OUR_WINDOW;
  private peerInitialWindow = OUR_WINDOW;
  private peerMaxFrame = OUR_MAX_FRAME;
  private out: Buffer[] = [];
  private outLen = 0;
  private flushQueued = false;
  private goingAway = false;
  private closed = false;

  constructor(
    private readonly sock: Socket,
    initial: Buffer,
    private readonly methods: ReadonlyMap<string, DirectMethod>,
    private readonly limits: DirectLimits,
    private readonly onClosed: (c: DirectConnection) => void = () => {},
  ) {
    this.decoder.on('error', (e: Error) => (this.hpackError = e));
    sock.on('data', this.onData);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.onClose());
    sock.on('drain', () => {
      for (const s of this.streams.values()) this.pump(s);
      this.flushSoon();
    });
    if (initial.length) this.onData(initial);
    sock.resume();
  }

  /** shutdown refuses new calls; in-flight ones finish, then the connection closes. */
  shutdown(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.queue(goaway(this.lastStreamId, NO_ERROR));
    this.flush();
    if (this.streams.size === 0) this.sock.end();
  }

  /** destroy cuts the connection; open calls see 'cancelled'. */
  destroy(): void {
    this.sock.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    try {
      this.consume(chunk);
    } catch (e) {
      const code = e instanceof ConnectionError ? e.code : PROTOCOL_ERROR;
      this.queue(goaway(this.lastStreamId, code, (e as Error).message));
      this.flush();
      this.closed = true;
      this.sock.end();
      this.sock.destroySoon();
      return;
    }
    this.flushSoon();
  };

  private onClose(): void {
    this.closed = true;
    for (const s of this.streams.values()) this.cancel(s);
    this.streams.clear();
    this.onClosed(this);
  }

  private consume(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.prefaceSeen) {
      if (this.buf.length < PREFACE.length) {
        if (!PREFACE.subarray(0, this.buf.length).equals(this.buf)) throw new ConnectionError(PROTOCOL_ERROR, 'not an HTTP/2 client preface');
        return;
      }
      if (!this.buf.subarray(0, PREFACE.length).equals(PREFACE)) throw new ConnectionError(PROTOCOL_ERROR, 'not an HTTP/2 client preface');
      this.buf = this.buf.subarray(PREFACE.length);
      this.prefaceSeen = true;
    }
    while (this.buf.length >= 9 && !this.closed) {
      const len = this.buf.readUIntBE(0, 3);
      if (len > OUR_MAX_FRAME) throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${len} bytes, over SETTINGS_MAX_FRAME_SIZE`);
      if (this.buf.length < 9 + len) break;
      const frame = this.buf.subarray(0, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      this.frame(frame);
    }
    // Keep no reference into the large chunk a partial frame came in.
    if (this.buf.length && this.buf.length < 9 + OUR_MAX_FRAME && this.buf.byteOffset > 0) this.buf = Buffer.from(this.buf);
  }

  private frame(frame: Buffer): void {
    const type = frame[3]!;
    const flags = frame[4]!;
    const id = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(9);
    if (this.block && type !== CONTINUATION) throw new ConnectionError(PROTOCOL_ERROR, 'frame inside an unfinished header block');
    switch (type) {
      case DATA:
        return this.onDataFrame(id, flags, payload);
      case HEADERS:
        return this.onHeaders(id, flags, frame);
      case CONTINUATION:
        if (!this.block || this.block.streamId !== id) throw new ConnectionError(PROTOCOL_ERROR, 'CONTINUATION without a header block');
        this.addFragment(payload);
        if (flags & END_HEADERS) this.endBlock();
        return;
      case PRIORITY_FRAME:
        if (id === 0 || payload.length !== 5) throw new ConnectionError(PROTOCOL_ERROR, 'malformed PRIORITY');
        return;
      case RST_STREAM: {
        if (id === 0 || payload.length !== 4) throw new ConnectionError(PROTOCOL_ERROR, 'malformed RST_STREAM');
        const s = this.streams.get(id);
        if (s) {
          this.streams.delete(id);
          this.cancel(s);
        }
        return this.maybeEnd();
      }
      case SETTINGS:
        return this.onSettings(id, flags, payload);
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case PING:
        if (id !== 0 || payload.length !== 8) throw new ConnectionError(id ? PROTOCOL_ERROR : FRAME_SIZE_ERROR, 'malformed PING');
        if (!(flags & ACK)) this.queue(frameOf(PING, ACK, 0, payload));
        return;
      case GOAWAY:
        // The client will open no more streams; the ones in flight are still answered.
        this.goingAway = true;
        return this.maybeEnd();
      case WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onSettings(id: number, flags: number, payload: Buffer): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & ACK) {
      if (payload.length) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS acknowledgement with a payload');
      return;
    }
    if (payload.length % 6) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS payload not a multiple of 6');
    for (let off = 0; off < payload.length; off += 6) {
      const key = payload.readUInt16BE(off);
      const value = payload.readUInt32BE(off + 2);
      if (key === 0x4) {
        if (value > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.window += delta;
      } else if (key === 0x5) {
        if (value < 16_384 || value > 16_777_215) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
        this.peerMaxFrame = value;
      } else if (key === 0x2 && value > 1) {
        throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH not 0 or 1');
      }
      // HEADER_TABLE_SIZE needs nothing: our header blocks never use the dynamic table.
    }
    this.queue(frameOf(SETTINGS, ACK, 0, EMPTY));
    for (const s of this.streams.values()) this.pump(s);
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'malformed WINDOW_UPDATE');
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      for (const s of this.streams.values()) this.pump(s);
      return;
    }
    const s = this.streams.get(id);
    if (!s) return; // a stream already finished
    if (inc === 0 || s.window + inc > MAX_WINDOW) return this.reset(s, inc === 0 ? PROTOCOL_ERROR : FLOW_CONTROL_ERROR);
    s.window += inc;
    this.pump(s);
  }

  private onHeaders(id: number, flags: number, frame: Buffer): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
    this.block = { streamId: id, flags, parts: [], len: 0 };
    this.addFragment(headersFragment(frame));
    if (flags & END_HEADERS) this.endBlock();
  }

  private addFragment(part: Buffer): void {
    const b = this.block!;
    b.len += part.length;
    if (b.len > MAX_HEADER_BLOCK) throw new ConnectionError(ENHANCE_YOUR_CALM, 'header block too large');
    b.parts.push(part);
  }

  private endBlock(): void {
    const { streamId: id, flags, parts } = this.block!;
    this.block = undefined;
    const fields = this.decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    const existing = this.streams.get(id);
    if (existing) {
      // Trailers from the client: they may only end the request.
      if (!(flags & END_STREAM) || existing.remoteDone) throw new ConnectionError(PROTOCOL_ERROR, 'unexpected header block on an open stream');
      return this.requestDone(existing);
    }
    if (id % 2 === 0 || id <= this.lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, `HEADERS opening stream ${id}`);
    this.lastStreamId = id;
    if (this.goingAway) return;
    const s: Stream = {
      id, deadline: Infinity, body: [], bodyLen: 0, remoteDone: false, headersSent: false,
      queue: [], queued: 0, window: this.peerInitialWindow, answered: false,
    };
    if (this.streams.size >= MAX_STREAMS) {
      this.queue(rstStream(id, REFUSED_STREAM));
      return;
    }
    this.streams.set(id, s);
    let path = '';
    let method = '';
    let contentType = '';
    for (const f of fields) {
      if (f.name === ':path') path = f.value;
      else if (f.name === ':method') method = f.value;
      else if (f.name === 'content-type') contentType = f.value;
      else if (f.name === 'grpc-timeout') s.deadline = parseTimeout(f.value);
      else if (f.name === 'grpc-encoding' && f.value !== 'identity') {
        return this.trailersOnly(s, status.UNIMPLEMENTED, `message encoding ${f.value} is not supported`, flags);
      }
    }
    if (method !== 'POST') return this.httpStatus(s, 405, flags);
    if (!/^application\/grpc($|[+;])/.test(contentType)) return this.httpStatus(s, 415, flags);
    s.method = this.methods.get(path);
    if (!s.method) return this.trailersOnly(s, status.UNIMPLEMENTED, `The server does not implement the method ${path}`, flags);
    if (flags & END_STREAM) this.requestDone(s);
  }

  private decode(block: Buffer): HeaderField[] {
    this.decoder.write(block);
    this.decoder.execute();
    if (this.hpackError) throw new ConnectionError(COMPRESSION_ERROR, `HPACK: ${this.hpackError.message}`);
    const fields: HeaderField[] = [];
    let size = 0;
    for (let f = this.decoder.read() as HeaderField | null; f; f = this.decoder.read() as HeaderField | null) {
      size += f.name.length + f.value.length + 32;
      if (size > MAX_HEADER_LIST) throw new ConnectionError(ENHANCE_YOUR_CALM, 'header list too large');
      fields.push(f);
    }
    return fields;
  }

  private onDataFrame(id: number, flags: number, payload: Buffer): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on stream 0');
    if (id > this.lastStreamId) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on an idle stream');
    // Every byte received is handed straight back as window: a request is bounded by maxMessage instead.
    if (payload.length) this.queue(windowUpdate(0, payload.length));
    const s = this.streams.get(id);
    if (!s || s.remoteDone) return;
    let data = payload;
    if (flags & PADDED) {
      const pad = payload[0] ?? 0;
      if (pad >= payload.length) throw new ConnectionError(PROTOCOL_ERROR, 'DATA padding longer than the frame');
      data = payload.subarray(1, payload.length - pad);
    }
    if (!s.answered) {
      s.bodyLen += data.length;
      if (s.bodyLen > this.limits.maxMessage + 5) {
        this.trailersOnly(s, status.RESOURCE_EXHAUSTED, `Received message larger than max (${s.bodyLen - 5} vs. ${this.limits.maxMessage})`, 0);
      } else if (data.length) {
        s.body.push(Buffer.from(data));
      }
    }
    if (flags & END_STREAM) this.requestDone(s);
    else if (payload.length && !s.answered) this.queue(windowUpdate(id, payload.length));
  }

  /** requestDone runs the call once the client has sent its whole request. */
  private requestDone(s: Stream): void {
    s.remoteDone = true;
    if (s.answered) {
      if (!s.queued && !s.trailers) this.close(s);
      return;
    }
    const method = s.method!;
    const body = Buffer.concat(s.body);
    s.body = [];
    if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
      return this.trailersOnly(s, status.INTERNAL, body.length === 0 ? 'the request carried no message' : 'the request is not one gRPC message', 0);
    }
    if (body[0] !== 0) return this.trailersOnly(s, status.UNIMPLEMENTED, 'compressed messages are not supported', 0);
    let request: unknown;
    try {
      request = method.deserialize(body.subarray(5));
    } catch (e) {
      return this.trailersOnly(s, status.INTERNAL, `Error deserializing request: ${(e as Error).message}`, 0);
    }
    const call = new DirectCall(request, s.deadline, s, this);
    s.call = call;
    if (method.responseStream) {
      (method.handler as handleServerStreamingCall<unknown, unknown>)(call as never);
    } else {
      (method.handler as handleUnaryCall<unknown, unknown>)(call as never, (err, value) => {
        if (call.cancelled || call.writableEnded) return;
        call.writableEnded = true;
        if (err) return this.finish(s, err.code ?? status.UNKNOWN, err.details ?? (err as { message?: string }).message ?? '');
        this.sendMessage(s, value); // a response that cannot be serialized ends the stream with INTERNAL here
        this.finish(s, status.OK, '');
      });
    }
  }

  /** sendMessage queues one response message; false when the stream's queue is long (wait for 'drain'). */
  sendMessage(s: Stream, value: unknown): boolean {
    if (s.answered || !this.streams.has(s.id)) return false;
    let msg: Buffer;
    try {
      msg = s.method!.serialize(value);
    } catch (e) {
      this.finish(s, status.INTERNAL, `Error serializing response: ${(e as Error).message}`);
      return false;
    }
    if (!s.headersSent) {
      s.headersSent = true;
      this.queue(...headerFrames(s.id, 0, RESPONSE_HEADERS, this.peerMaxFrame));
    }
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(msg.length, 1);
    s.queue.push(prefix, msg);
    s.queued += 5 + msg.length;
    this.pump(s);
    this.flushSoon();
    return s.queued < QUEUED_HIGH;
  }

  /** finish ends a stream with a gRPC status, after whatever it still has queued. */
  finish(s: Stream, code: number, message: string): void {
    if (s.answered || !this.streams.has(s.id)) return;
    if (!s.headersSent) return this.trailersOnly(s, code, message, 0);
    s.answered = true;
    s.trailers = encodeBlock(trailerFields(code, message));
    this.pump(s);
    this.flushSoon();
  }

  private trailersOnly(s: Stream, code: number, message: string, requestFlags: number): void {
    s.answered = true;
    s.headersSent = true;
    if (requestFlags & END_STREAM) s.remoteDone = true;
    const block = Buffer.concat([RESPONSE_HEADERS, encodeBlock(trailerFields(code, message))]);
    this.queue(...headerFrames(s.id, END_STREAM, block, this.peerMaxFrame));
    this.afterAnswer(s);
  }

  private httpStatus(s: Stream, code: number, requestFlags: number): void {
    s.answered = true;
    if (requestFlags & END_STREAM) s.remoteDone = true;
    this.queue(...headerFrames(s.id, END_STREAM, encodeBlock([[':status', String(code)]]), this.peerMaxFrame));
    this.afterAnswer(s);
  }

  /** afterAnswer closes an answered stream, or asks the client to stop sending when its request is not over. */
  private afterAnswer(s: Stream): void {
    if (!s.remoteDone) this.queue(rstStream(s.id, NO_ERROR));
    this.close(s);
    this.flushSoon();
  }

  /** pump sends what the windows allow of a stream's queue, then its trailers when the queue is empty. */
  private pump(s: Stream): void {
    // Besides the windows, the socket itself: no more DATA while a client that reads slowly has SOCKET_HIGH unread.
    while (s.queued > 0 && this.sendWindow > 0 && s.window > 0 && this.sock.writableLength + this.outLen < SOCKET_HIGH) {
      const n = Math.min(s.queued, this.sendWindow, s.window, this.peerMaxFrame);
      const parts: Buffer[] = [];
      let got = 0;
      while (got < n) {
        const head = s.queue[0]!;
        const take = Math.min(head.length, n - got);
        parts.push(take === head.length ? head : head.subarray(0, take));
        if (take === head.length) s.queue.shift();
        else s.queue[0] = head.subarray(take);
        got += take;
      }
      s.queued -= n;
      this.sendWindow -= n;
      s.window -= n;
      this.queue(frameHeader(n, DATA, 0, s.id), ...parts);
    }
    if (s.queued < QUEUED_HIGH && s.call && !s.answered) s.call.emit('drain');
    if (s.queued === 0 && s.trailers) {
      this.queue(...headerFrames(s.id, END_STREAM, s.trailers, this.peerMaxFrame));
      s.trailers = undefined;
      if (!s.remoteDone) this.queue(rstStream(s.id, NO_ERROR));
      this.close(s);
    }
  }

  private reset(s: Stream, code: number): void {
    this.queue(rstStream(s.id, code));
    this.streams.delete(s.id);
    this.cancel(s);
    this.maybeEnd();
  }

  private close(s: Stream): void {
    this.streams.delete(s.id);
    this.maybeEnd();
  }

  private cancel(s: Stream): void {
    const call = s.call;
    if (!call || call.cancelled || call.writableEnded) return;
    call.cancelled = true;
    call.emit('cancelled', 'cancelled');
    call.emit('drain'); // a handler waiting to send more learns that it need not
  }

  private maybeEnd(): void {
    if (this.goingAway && this.streams.size === 0 && !this.closed) {
      this.flush();
      this.sock.end();
    }
  }

  private queue(...bufs: Buffer[]): void {
    for (const b of bufs) {
      this.out.push(b);
      this.outLen += b.length;
    }
  }

  /**
   * flushSoon writes what is queued once this turn of the event loop is over: the answers to a client's SETTINGS and
   * DATA and a quick handler's response then leave in one write, and wake the client once.
   */
  private flushSoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /**
   * flush writes every queued frame with one system call. Response data is bounded by the client's windows; what a
   * client that never reads could still pile up (answers to its PINGs and SETTINGS) is bounded here.
   */
  private flush(): void {
    if (this.out.length === 0 || this.sock.destroyed) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outLen = 0;
    this.sock.write(data);
    if (this.sock.writableLength > MAX_UNREAD) this.sock.destroy();
  }
}

const RESPONSE_HEADERS = encodeBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);

function trailerFields(code: number, message: string): [string, string][] {
  const f: [string, string][] = [['grpc-status', String(code)]];
  if (message) f.push(['grpc-message', percentEncode(message)]);
  return f;
}

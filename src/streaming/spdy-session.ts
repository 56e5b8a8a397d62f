import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import {
  DEFAULT_FRAME_LIMITS,
  DEFAULT_HEADER_LIMITS,
  FrameReader,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeDataHeader,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  type Frame,
  type FrameLimits,
  type HeaderLimits,
  type Headers,
} from './spdy-frame.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-zlib.js';

/** SessionLimits bound what one SPDY connection may hold. */
export interface SessionLimits extends FrameLimits, HeaderLimits {
  /** maxStreams caps the streams open at once; more are refused with RST_STREAM(REFUSED_STREAM). */
  maxStreams: number;
  /** maxWriteChunk splits outgoing DATA into frames of at most this many bytes. */
  maxWriteChunk: number;
}

/** BATCH_MAX is the size under which a write waits for the end of the event loop's turn (see SpdySession.send). */
const BATCH_MAX = 16 * 1024;

/** DEFAULT_SESSION_LIMITS are fune's bounds for a streaming connection. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { ...DEFAULT_FRAME_LIMITS, ...DEFAULT_HEADER_LIMITS, maxStreams: 1000, maxWriteChunk: 64 * 1024 };

/**
 * SpdySession is the server side of one SPDY/3.1 connection after the HTTP upgrade. It never sends a frame before
 * the client's first (the Go client may swallow bytes that follow the 101), answers only client-opened streams,
 * echoes PINGs, ignores SETTINGS and WINDOW_UPDATE and never waits for a send window (spdystream opens none).
 * Garbage gets GOAWAY(PROTOCOL_ERROR) and the connection closes; nothing throws out of it.
 *
 * Events: `stream` (SpdyStream: call accept() or reset()), `activity` (a DATA frame was read or written: the idle
 * timer's input; PINGs do not count), `close`.
 */
export class SpdySession extends EventEmitter {
  private readonly reader: FrameReader;
  private readonly inflater: HeaderDecompressor;
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly blocked = new Set<SpdyStream>();
  private drainWaiters: (() => void)[] = [];
  private lastStreamId = 0;
  private closed = false;
  private goingAway = false;
  readonly limits: SessionLimits;

  constructor(
    readonly socket: Duplex,
    private readonly log: Logger,
    limits: Partial<SessionLimits> = {},
  ) {
    super();
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
    this.reader = new FrameReader(this.limits);
    this.inflater = new HeaderDecompressor(this.limits.maxBytes);
    socket.on('data', (b: Buffer) => this.onBytes(b));
    socket.on('drain', () => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      w.forEach((f) => f());
    });
    socket.on('end', () => this.destroy());
    socket.on('error', (err) => {
      this.log.debug({ err }, 'streaming connection error');
      this.destroy();
    });
    socket.on('close', () => this.destroy());
  }

  /** start feeds bytes the HTTP server read past the upgrade request. */
  start(head: Buffer): void {
    if (head.length > 0) this.onBytes(head);
  }

  /** openStreams is the number of streams the session still tracks (tests use it to prove pairs are freed). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** isClosed tells whether the connection is gone or going. */
  get isClosed(): boolean {
    return this.closed || this.goingAway;
  }

  /** close ends the connection politely: resets what is still open, GOAWAY(OK), then the socket's write side. */
  close(status: number = GoAwayStatus.OK): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    // Streams we already finished need no frame; the rest are cancelled, as the Go server does.
    for (const s of this.streams.values()) {
      if (s.writableEnded) s.destroy();
      else s.reset(RstStatus.CANCEL);
    }
    this.send(encodeGoAway(this.lastStreamId, status));
    // Keep reading until the peer closes: closing with unread input would make the kernel reset the connection
    // and could destroy status bytes the client has not read yet.
    this.socket.end();
    this.emit('closing');
  }

  /** destroy drops the connection at once and releases every stream. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    this.blocked.clear();
    this.drainWaiters = [];
    this.socket.destroy();
    this.emit('close');
  }

  /**
   * send writes raw frame bytes; it returns false when the socket wants a pause. Small frames written during one
   * turn of the event loop (SYN_REPLYs, FINs, RST_STREAMs, short DATA) leave together in one write at its end: a
   * port-forward connection or an exec otherwise cost a system call and a wake-up of the client per frame. A large
   * write goes out at once, with whatever small frames were waiting before it.
   */
  send(...bufs: Buffer[]): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return true;
    let len = 0;
    for (const b of bufs) len += b.length;
    const small = len < BATCH_MAX;
    if (small && !this.batching) {
      this.batching = true;
      this.socket.cork();
      setImmediate(this.endBatch);
    } else if (!small) {
      this.socket.cork();
    }
    let ok = true;
    for (const b of bufs) ok = this.socket.write(b) && ok;
    if (!small) {
      this.socket.uncork();
      this.endBatch();
    }
    return ok;
  }

  private batching = false;
  private readonly endBatch = (): void => {
    if (!this.batching) return;
    this.batching = false;
    this.socket.uncork();
  };

  /** whenDrained runs `f` once the socket has room again. */
  whenDrained(f: () => void): void {
    if (this.closed) return f();
    this.drainWaiters.push(f);
  }

  /** sendReply answers a client stream with an empty header block (what the k8s servers send). */
  sendReply(stream: SpdyStream, headers: Headers = {}): void {
    this.send(encodeSynReply(stream.id, this.deflater.compress(encodeHeaderBlock(headers))));
  }

  /** forget stops tracking a finished stream. */
  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.unblock(stream);
  }

  /** block pauses reading from the socket while `stream` has more unread data than its buffer holds. */
  block(stream: SpdyStream): void {
    this.blocked.add(stream);
    this.socket.pause();
  }

  /** unblock resumes reading when no stream is over its buffer any more. */
  unblock(stream: SpdyStream): void {
    if (this.blocked.delete(stream) && this.blocked.size === 0 && !this.closed) this.socket.resume();
  }

  private onBytes(b: Buffer): void {
    if (this.closed) return;
    this.reader.push(b);
    try {
      for (let f = this.reader.next(); f && !this.closed; f = this.reader.next()) this.onFrame(f);
    } catch (err) {
      const protocol = err instanceof SpdyProtocolError;
      this.log.debug({ err }, protocol ? 'SPDY protocol error: GOAWAY' : 'SPDY session failure');
      this.fail(protocol ? GoAwayStatus.PROTOCOL_ERROR : GoAwayStatus.INTERNAL_ERROR);
    }
  }

  private fail(status: number): void {
    if (this.closed) return;
    this.goingAway = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    this.send(encodeGoAway(this.lastStreamId, status));
    this.socket.end();
    // A peer that sent garbage is not waited for.
    setImmediate(() => this.destroy());
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'data': {
        const s = this.streams.get(f.streamId);
        if (f.data.length > 0) this.emit('activity');
        // Data for a stream we reset or never knew is dropped: the peer may not have seen the RST yet.
        s?.receive(f.data, f.fin);
        return;
      }
      case 'syn_stream':
        return this.onSynStream(f.streamId, this.headersOf(f.headerBlock), f.fin);
      case 'syn_reply':
      case 'headers':
        // fune never opens streams and k8s clients never send HEADERS, but the block still moves the zlib context.
        this.headersOf(f.headerBlock);
        return;
      case 'rst_stream':
        this.streams.get(f.streamId)?.onReset();
        return;
      case 'ping':
        // Client pings carry odd ids; echo them unchanged. Even ids would answer pings of ours, and we send none.
        if (f.id % 2 === 1) this.send(encodePing(f.id));
        return;
      case 'goaway':
        this.goingAway = true;
        return;
      case 'settings':
      case 'window_update':
        return;
    }
  }

  private headersOf(block: Buffer): Headers {
    return decodeHeaderBlock(this.inflater.decompress(block), this.limits);
  }

  private onSynStream(id: number, headers: Headers, fin: boolean): void {
    if (id % 2 === 0 || id <= this.lastStreamId) {
      this.send(encodeRstStream(id, RstStatus.PROTOCOL_ERROR));
      return;
    }
    this.lastStreamId = id;
    if (this.goingAway) {
      this.send(encodeRstStream(id, RstStatus.REFUSED_STREAM));
      return;
    }
    if (this.streams.size >= this.limits.maxStreams) {
      this.log.debug({ streamId: id, limit: this.limits.maxStreams }, 'too many SPDY streams: refused');
      this.send(encodeRstStream(id, RstStatus.REFUSED_STREAM));
      return;
    }
    const s = new SpdyStream(this, id, headers);
    this.streams.set(id, s);
    if (fin) s.receive(Buffer.alloc(0), true);
    this.emit('stream', s);
  }
}

/** STREAM_BUFFER is how many unread bytes one stream holds before the connection stops reading. */
const STREAM_BUFFER = 256 * 1024;

/**
 * SpdyStream is one client-opened stream as a Node Duplex: reads give the client's DATA, writes send DATA, `end()`
 * sends FIN. It is freed from its session once both halves are done or it was reset.
 */
export class SpdyStream extends Duplex {
  private replied = false;
  private wasReset = false;
  private finSent = false;
  private finReceived = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ readableHighWaterMark: STREAM_BUFFER, allowHalfOpen: true });
    this.once('close', () => session.forget(this));
  }

  /** accept sends the SYN_REPLY that makes the stream usable for the client. */
  accept(): void {
    if (this.replied || this.wasReset || this.destroyed) return;
    this.replied = true;
    this.session.sendReply(this);
  }

  /** reset sends RST_STREAM and frees the stream. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.wasReset || this.destroyed) return;
    this.wasReset = true;
    this.session.send(encodeRstStream(this.id, status));
    this.destroy();
  }

  /** discard reads and drops everything the client sends on this stream. */
  discard(): this {
    this.on('data', () => {});
    return this;
  }

  /** receive is called by the session with the payload of a DATA frame. */
  receive(data: Buffer, fin: boolean): void {
    // DATA after the client's FIN is dropped: pushing past the end would make the stream emit an error.
    if (this.destroyed || this.finReceived) return;
    if (data.length > 0 && !this.push(data)) this.session.block(this);
    if (fin) {
      this.finReceived = true;
      this.push(null);
    }
  }

  /** onReset is called when the client reset the stream. */
  onReset(): void {
    this.wasReset = true;
    this.destroy();
  }

  override _read(): void {
    this.session.unblock(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.wasReset || this.session.isClosed) return cb(); // the peer is gone: drop, like a closed pipe
    let ok = true;
    for (let o = 0; o < chunk.length; o += this.session.limits.maxWriteChunk) {
      const part = chunk.subarray(o, o + this.session.limits.maxWriteChunk);
      ok = this.session.send(encodeDataHeader(this.id, part.length, false), part) && ok;
    }
    if (chunk.length > 0) this.session.emit('activity');
    if (ok) cb();
    else this.session.whenDrained(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.wasReset && !this.session.isClosed) this.session.send(encodeDataHeader(this.id, 0, true));
    this.finSent = true;
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A stream torn down before its FIN (a pipeline that failed, a runtime error) is reset, or the client would wait
    // for it for ever.
    if (!this.wasReset && !this.finSent) {
      this.wasReset = true;
      if (!this.session.isClosed) this.session.send(encodeRstStream(this.id, RstStatus.CANCEL));
    }
    this.session.forget(this);
    cb(err);
  }
}

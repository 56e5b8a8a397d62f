import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/index.js';
import {
  DEFAULT_FRAME_LIMITS,
  DEFAULT_HEADER_LIMITS,
  FrameReader,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeWindowUpdate,
  type Frame,
  type FrameLimits,
  type HeaderLimits,
  type Headers,
} from './spdy-frame.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-zlib.js';
import { DEFAULT_MAX_QUEUED, OutputWatch, ReadGate } from './backpressure.js';
import { SpdyStream, WINDOW_STEP } from './spdy-stream.js';

export { SpdyStream } from './spdy-stream.js';

/** SessionLimits bound what one SPDY connection may hold. */
export interface SessionLimits extends FrameLimits, HeaderLimits {
  /** maxStreams caps the streams open at once; more are refused with RST_STREAM(REFUSED_STREAM). */
  maxStreams: number;
  /** maxWriteChunk splits outgoing DATA into frames of at most this many bytes. */
  maxWriteChunk: number;
  /** maxQueuedBytes: while more than this waits to be written to the peer, the session reads nothing from it. */
  maxQueuedBytes: number;
  /** streamBuffer is how many unread bytes one stream holds before the session stops reading. */
  streamBuffer: number;
}

/** BATCH_MAX is the size under which a write waits for the end of the event loop's turn (see SpdySession.send). */
const BATCH_MAX = 16 * 1024;

/** DEFAULT_SESSION_LIMITS are fune's bounds for a streaming connection. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  ...DEFAULT_FRAME_LIMITS, ...DEFAULT_HEADER_LIMITS, maxStreams: 1000, maxWriteChunk: 64 * 1024, maxQueuedBytes: DEFAULT_MAX_QUEUED, streamBuffer: 256 * 1024,
};


/**
 * SpdySession is the server side of one SPDY/3.1 connection after the HTTP upgrade. It never sends a frame before
 * the client's first (the Go client may swallow bytes that follow the 101), answers only client-opened streams,
 * echoes PINGs, ignores SETTINGS and WINDOW_UPDATE and never waits for a send window (spdystream opens none).
 * Garbage gets GOAWAY(PROTOCOL_ERROR) and the connection closes; nothing throws out of it.
 *
 * Memory is bounded both ways: the socket is not read while a stream holds more than `streamBuffer` unread bytes,
 * nor while more than `maxQueuedBytes` wait to be written (a peer that floods PINGs or SYN_STREAMs and reads no
 * reply stops being read). Consumed bytes are granted back with WINDOW_UPDATE, for peers that honour windows.
 *
 * Events: `stream` (SpdyStream: call accept() or reset()), `activity` (a DATA frame was read or written: the idle
 * timer's input; PINGs do not count), `close`.
 */
export class SpdySession extends EventEmitter {
  private readonly reader: FrameReader;
  private readonly inflater: HeaderDecompressor;
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly gate: ReadGate;
  private readonly output: OutputWatch;
  private sessionCredit = 0;
  /** pings are the ids of the PINGs read in this turn, answered together after it. */
  private pings: number[] = [];
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
    this.gate = new ReadGate(
      () => socket.pause(),
      () => !this.closed && socket.resume(),
    );
    this.output = new OutputWatch(socket, this.gate, this.limits.maxQueuedBytes);
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
    this.gate.clear();
    this.output.stop();
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
    this.gate.hold(stream);
  }

  /** unblock resumes reading when no stream is over its buffer and the output has drained. */
  unblock(stream: SpdyStream): void {
    this.gate.release(stream);
  }

  /** isReading tells whether the session reads its socket now (tests use it). */
  get isReading(): boolean {
    return !this.gate.paused;
  }

  /**
   * credit grants the peer `n` more bytes on stream `id` (0: only the session's window, for DATA fune dropped) with
   * WINDOW_UPDATE; the session's own window is granted in steps of WINDOW_STEP.
   */
  credit(id: number, n: number): void {
    if (this.isClosed) return;
    if (id !== 0) this.send(encodeWindowUpdate(id, n));
    this.sessionCredit += n;
    if (this.sessionCredit >= WINDOW_STEP) {
      this.send(encodeWindowUpdate(0, this.sessionCredit));
      this.sessionCredit = 0;
    }
  }

  private onBytes(b: Buffer): void {
    if (this.closed) return;
    this.reader.push(b);
    try {
      for (let f = this.reader.next(); f && !this.closed; f = this.reader.next()) this.onFrame(f);
      if (this.pings.length > 0) this.answerPings();
      // Whatever the peer's frames made us write is queued now: a peer that does not read it is not read either.
      if (!this.closed) this.output.check();
    } catch (err) {
      const protocol = err instanceof SpdyProtocolError;
      this.log.debug({ err }, protocol ? 'SPDY protocol error: GOAWAY' : 'SPDY session failure');
      this.fail(protocol ? GoAwayStatus.PROTOCOL_ERROR : GoAwayStatus.INTERNAL_ERROR);
    }
  }

  /** answerPings echoes the PINGs of one read in one buffer (a flood of them costs one write per read). */
  private answerPings(): void {
    const ids = this.pings;
    this.pings = [];
    if (this.closed) return;
    if (ids.length === 1) return void this.send(encodePing(ids[0]!));
    const one = encodePing(0);
    const out = Buffer.allocUnsafe(one.length * ids.length);
    ids.forEach((id, i) => {
      one.copy(out, i * one.length);
      out.writeUInt32BE(id >>> 0, i * one.length + 8);
    });
    this.send(out);
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
        if (!s?.receive(f.data, f.fin) && f.data.length > 0) this.credit(0, f.data.length);
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
        if (f.id % 2 === 1) this.pings.push(f.id);
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

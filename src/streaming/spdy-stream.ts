import { Duplex } from 'node:stream';
import { RstStatus, encodeDataHeader, encodeRstStream, type Headers } from './spdy-frame.js';
import type { SpdySession } from './spdy-session.js';

/**
 * WINDOW_STEP: a WINDOW_UPDATE goes out once this many bytes of a stream (and of the session) were consumed. The
 * peer's window starts at SPDY/3.1's 64 KiB; fune never sends SETTINGS, so a peer that honours windows has at most
 * 64 KiB unread per stream (spdystream honours none: the paused socket stops it).
 */
export const WINDOW_STEP = 32 * 1024;

/**
 * SpdyStream is one client-opened stream as a Node Duplex: reads give the client's DATA, writes send DATA, `end()`
 * sends FIN. It is freed from its session once both halves are done or it was reset.
 */
export class SpdyStream extends Duplex {
  private replied = false;
  private wasReset = false;
  private finSent = false;
  private finReceived = false;
  /** pushed counts the DATA bytes handed to the readable side; granted, those given back with WINDOW_UPDATE. */
  private pushed = 0;
  private granted = 0;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ readableHighWaterMark: session.limits.streamBuffer, allowHalfOpen: true });
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

  /** receive is called by the session with the payload of a DATA frame; false when the stream dropped it. */
  receive(data: Buffer, fin: boolean): boolean {
    // DATA after the client's FIN is dropped: pushing past the end would make the stream emit an error.
    if (this.destroyed || this.finReceived) return false;
    if (data.length > 0) {
      this.pushed += data.length;
      if (!this.push(data)) this.session.block(this);
      this.grant();
    }
    if (fin) {
      this.finReceived = true;
      this.push(null);
    }
    return true;
  }

  /** grant gives the peer back, with WINDOW_UPDATE, what the reader of this stream has taken since the last one. */
  private grant(): void {
    const consumed = this.pushed - this.readableLength - this.granted;
    if (consumed < WINDOW_STEP || this.finReceived) return;
    this.granted += consumed;
    this.session.credit(this.id, consumed);
  }

  /** onReset is called when the client reset the stream. */
  onReset(): void {
    this.wasReset = true;
    this.destroy();
  }

  override _read(): void {
    this.session.unblock(this);
  }

  /** read is where a reader takes data (flowing mode and pipes call it too): the window grows by what it took. */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.grant();
    return chunk;
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

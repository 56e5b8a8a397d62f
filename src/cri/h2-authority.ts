import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';
import { ACK, CONTINUATION, END_HEADERS, END_STREAM, HEADERS, MAX_FRAME, PREFACE_LEN, SETTINGS, headersFragment } from './h2-frames.js';

/**
 * Go's CRI clients (crictl, kubelets before 1.26) dial the unix socket with its path as the HTTP/2 `:authority`
 * ("/run/fune/fune.sock"). nghttp2, inside Node's http2 module, rejects such an authority with a stream-level
 * PROTOCOL_ERROR before grpc-js ever sees the call, and Node offers no switch to relax the check (the same bug hit
 * Rust's h2: hyperium/h2#487; kubernetes/kubernetes#112597 moved kubelets to "localhost").
 *
 * AuthorityFixingSocket sits between the accepted socket and grpc-js's http2 session, in the same process: frames
 * from the client pass through untouched except header blocks, which are decoded with the client's HPACK context,
 * given a valid `:authority` where theirs is not one, and encoded again with our own HPACK context towards the
 * server. Both HPACK contexts stay consistent because every header block of the connection goes through them.
 * Bytes from the server to the client are not touched.
 */
export class AuthorityFixingSocket extends Duplex {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LEN;
  private pending: { streamId: number; flags: number; fragments: Buffer[] } | undefined;
  private readonly decoder = hpack.decompressor.create({ table: { maxSize: 4096 } });
  private hpackError: Error | undefined;
  /**
   * passthrough is set by the connection's first header block when its `:authority` is valid (every client but
   * the old Go ones): from then on the client's bytes go through untouched, with no HPACK work. A client keeps one
   * authority for a connection, so the first block decides for all.
   */
  private passthrough = false;
  /** Bytes for the client, gathered over one turn of the event loop and written with one system call. */
  private outQ: Buffer[] = [];
  private outLen = 0;
  private flushScheduled = false;
  private heldCb: ((e?: Error | null) => void) | undefined;
  private sockFull = false;
  private dropSettingsAck: boolean;

  /**
   * `initial` are bytes already read from `sock` (see routeConnection); with `dropSettingsAck`, the client's
   * first SETTINGS acknowledgement is dropped, since it acknowledges a frame the server behind never sent.
   */
  constructor(
    private readonly sock: Socket,
    o: { initial?: Buffer; dropSettingsAck?: boolean } = {},
  ) {
    super();
    this.dropSettingsAck = o.dropSettingsAck ?? false;
    this.decoder.on('error', (e: Error) => (this.hpackError = e));
    const onData = (chunk: Buffer) => {
      let out: Buffer;
      try {
        out = this.transform(chunk);
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      if (out.length && !this.push(out)) sock.pause();
    };
    if (o.initial?.length) onData(o.initial);
    sock.on('data', onData);
    sock.resume();
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => this.destroy());
  }

  override _read(): void {
    this.sock.resume();
  }

  /**
   * _write queues bytes for the client. Node's http2 writes a response as several small pieces (HEADERS, DATA,
   * trailers, WINDOW_UPDATE), each of which would be a system call of its own and a wake-up of the client; they
   * leave together at the end of the event loop's turn instead. The callback waits only when much is queued or
   * the socket pushes back.
   */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.outQ.push(chunk);
    this.outLen += chunk.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    if (this.outLen < OUT_QUEUE_MAX && !this.sockFull) cb();
    else this.heldCb = cb;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outQ.length === 0 || this.sock.destroyed) return;
    const data = this.outQ.length === 1 ? this.outQ[0]! : Buffer.concat(this.outQ, this.outLen);
    this.outQ = [];
    this.outLen = 0;
    const release = () => {
      this.sockFull = false;
      const cb = this.heldCb;
      this.heldCb = undefined;
      cb?.();
    };
    if (this.sock.write(data)) release();
    else {
      this.sockFull = true;
      this.sock.once('drain', release);
    }
  };

  override _final(cb: (e?: Error | null) => void): void {
    this.flush();
    this.sock.end(cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }

  /** transform consumes client bytes and gives the bytes to hand to the server. */
  private transform(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, chunk.length);
      out.push(chunk.subarray(0, n));
      this.prefaceLeft -= n;
      chunk = chunk.subarray(n);
    }
    if (this.passthrough && !this.dropSettingsAck) {
      out.push(chunk);
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while ((!this.passthrough || this.dropSettingsAck) && this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (len > MAX_FRAME) throw new Error(`HTTP/2 frame of ${len} bytes is too large`);
      if (this.buf.length < 9 + len) break;
      const frame = this.buf.subarray(0, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      const type = frame[3]!;
      if (this.dropSettingsAck && type === SETTINGS && frame[4]! & ACK) {
        this.dropSettingsAck = false;
        continue;
      }
      if (type === HEADERS || type === CONTINUATION || this.pending) out.push(...this.headerFrame(frame, type));
      else out.push(frame);
    }
    // Once nothing is left to look for, what remains of a frame goes on as it is (while the acknowledgement is
    // still awaited, frames must stay whole for the parse above).
    if (this.passthrough && !this.dropSettingsAck && this.buf.length) {
      out.push(this.buf);
      this.buf = Buffer.alloc(0);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private headerFrame(frame: Buffer, type: number): Buffer[] {
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    if (type === HEADERS) {
      if (this.pending) throw new Error('HTTP/2 HEADERS frame inside an unfinished header block');
      this.pending = { streamId, flags, fragments: [headersFragment(frame)] };
    } else if (type === CONTINUATION && this.pending && this.pending.streamId === streamId) {
      this.pending.fragments.push(frame.subarray(9));
    } else {
      throw new Error('HTTP/2 frame interleaved with an unfinished header block');
    }
    if (!(flags & END_HEADERS)) return [];
    const { flags: first, fragments } = this.pending;
    this.pending = undefined;
    const block = Buffer.concat(fragments);
    const fields = this.decode(block);
    const authority = fields.find((f) => f.name === ':authority');
    if (this.first) {
      this.first = false;
      if (!authority || VALID_AUTHORITY.test(authority.value)) {
        // The block goes on as the client encoded it, so the server's HPACK context stays the client's.
        this.passthrough = true;
        return encodeHeaderFrames(streamId, first & END_STREAM, block);
      }
    }
    if (authority && !VALID_AUTHORITY.test(authority.value)) authority.value = 'localhost';
    return encodeHeaderFrames(streamId, first & END_STREAM, this.encode(fields));
  }

  private first = true;

  /** decode reads a header block with the client's HPACK context. */
  private decode(block: Buffer): HeaderField[] {
    this.decoder.write(block);
    this.decoder.execute();
    if (this.hpackError) throw this.hpackError;
    const fields: HeaderField[] = [];
    for (let f = this.decoder.read() as HeaderField | null; f; f = this.decoder.read() as HeaderField | null) fields.push({ name: f.name, value: f.value, neverIndex: f.neverIndex });
    return fields;
  }

  /**
   * encode writes header fields towards the server as HPACK literals that are never added to the dynamic table
   * (so the server's table stays empty and needs no state here), fields the client marked never-indexed as such.
   */
  private encode(fields: HeaderField[]): Buffer {
    const parts: Buffer[] = [];
    for (const f of fields) {
      parts.push(Buffer.from([f.neverIndex ? 0x10 : 0x00]), hpackString(f.name), hpackString(f.value));
    }
    return Buffer.concat(parts);
  }
}

/** hpackInt encodes `n` as an HPACK integer with an `bits`-bit prefix, the prefix's other bits set to `flags`. */
function hpackInt(n: number, bits: number, flags: number): number[] {
  const max = (1 << bits) - 1;
  if (n < max) return [flags | n];
  const out = [flags | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) + 128);
  out.push(n);
  return out;
}

/** hpackString encodes a string literal without Huffman coding. */
function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(b.length, 7, 0)), b]);
}

const OUT_FRAME = 16_384; // the server's SETTINGS_MAX_FRAME_SIZE: Node keeps the protocol default
/** OUT_QUEUE_MAX is how many bytes for the client may be queued before a writer waits. */
const OUT_QUEUE_MAX = 256 * 1024;
/** VALID_AUTHORITY is what nghttp2 accepts in :authority (RFC 3986 authority characters). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

/** isValidAuthority tells whether nghttp2 accepts `value` as an `:authority`. */
export function isValidAuthority(value: string): boolean {
  return VALID_AUTHORITY.test(value);
}

function frameHeader(len: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(len, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/** encodeHeaderFrames writes a header block as one HEADERS frame and as many CONTINUATION frames as it needs. */
function encodeHeaderFrames(streamId: number, endStream: number, block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const part = block.subarray(off, off + OUT_FRAME);
    off += part.length;
    const last = off >= block.length ? END_HEADERS : 0;
    const first = out.length === 0;
    out.push(frameHeader(part.length, first ? HEADERS : CONTINUATION, (first ? endStream : 0) | last, streamId), part);
  } while (off < block.length);
  return out;
}

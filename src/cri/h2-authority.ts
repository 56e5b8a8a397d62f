import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';

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
  private readonly encoder = hpack.compressor.create({ table: { maxSize: 4096 } });
  private hpackError: Error | undefined;

  constructor(private readonly sock: Socket) {
    super();
    this.decoder.on('error', (e: Error) => (this.hpackError = e));
    sock.on('data', (chunk: Buffer) => {
      let out: Buffer;
      try {
        out = this.transform(chunk);
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      if (out.length && !this.push(out)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => this.destroy());
  }

  override _read(): void {
    this.sock.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sock.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
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
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (len > MAX_FRAME) throw new Error(`HTTP/2 frame of ${len} bytes is too large`);
      if (this.buf.length < 9 + len) break;
      const frame = this.buf.subarray(0, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      const type = frame[3]!;
      if (type === HEADERS || type === CONTINUATION || this.pending) out.push(...this.headerFrame(frame, type));
      else out.push(frame);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private headerFrame(frame: Buffer, type: number): Buffer[] {
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    let payload = frame.subarray(9);
    if (type === HEADERS) {
      if (this.pending) throw new Error('HTTP/2 HEADERS frame inside an unfinished header block');
      let pad = 0;
      if (flags & PADDED) {
        pad = payload[0]!;
        payload = payload.subarray(1);
      }
      if (flags & PRIORITY) payload = payload.subarray(5);
      if (pad > payload.length) throw new Error('HTTP/2 HEADERS padding longer than the frame');
      payload = payload.subarray(0, payload.length - pad);
      this.pending = { streamId, flags, fragments: [payload] };
    } else if (type === CONTINUATION && this.pending && this.pending.streamId === streamId) {
      this.pending.fragments.push(payload);
    } else {
      throw new Error('HTTP/2 frame interleaved with an unfinished header block');
    }
    if (!(flags & END_HEADERS)) return [];
    const { flags: first, fragments } = this.pending;
    this.pending = undefined;
    return encodeHeaderFrames(streamId, first & END_STREAM, this.reencode(Buffer.concat(fragments)));
  }

  private reencode(block: Buffer): Buffer {
    this.decoder.write(block);
    this.decoder.execute();
    if (this.hpackError) throw this.hpackError;
    const fields: HeaderField[] = [];
    for (let f = this.decoder.read() as HeaderField | null; f; f = this.decoder.read() as HeaderField | null) {
      const field = { name: f.name, value: f.value, neverIndex: f.neverIndex };
      if (field.name === ':authority' && !VALID_AUTHORITY.test(field.value)) field.value = 'localhost';
      fields.push(field);
    }
    this.encoder.write(fields);
    const chunks: Buffer[] = [];
    for (let c = this.encoder.read() as Buffer | null; c; c = this.encoder.read() as Buffer | null) chunks.push(c);
    return Buffer.concat(chunks);
  }
}

const PREFACE_LEN = 24;
const MAX_FRAME = 16 * 1024 * 1024;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const OUT_FRAME = 16_384; // the server's SETTINGS_MAX_FRAME_SIZE: Node keeps the protocol default
/** VALID_AUTHORITY is what nghttp2 accepts in :authority (RFC 3986 authority characters). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

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

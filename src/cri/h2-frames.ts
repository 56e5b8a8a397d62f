/** HTTP/2 framing facts and frame encoders for the connection router and the direct gRPC server (RFC 9113, RFC 7541). */

/** PREFACE is the client connection preface. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const PREFACE_LEN = PREFACE.length;
/** MAX_FRAME bounds a frame's payload: the largest SETTINGS_MAX_FRAME_SIZE a peer may set. */
export const MAX_FRAME = 16 * 1024 * 1024;
/** Frame types. */
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY_FRAME = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;
/** Flags: ACK (on SETTINGS), END_STREAM, END_HEADERS, PADDED and PRIORITY (on HEADERS). */
export const ACK = 0x1;
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY = 0x20;

/** headersFragment gives the header block fragment of a HEADERS frame (9-byte header included), without padding and priority. */
export function headersFragment(frame: Buffer): Buffer {
  const flags = frame[4]!;
  let payload = frame.subarray(9);
  let pad = 0;
  if (flags & PADDED) {
    pad = payload[0]!;
    payload = payload.subarray(1);
  }
  if (flags & PRIORITY) payload = payload.subarray(5);
  if (pad > payload.length) throw new Error('HTTP/2 HEADERS padding longer than the frame');
  return payload.subarray(0, payload.length - pad);
}

/** HTTP/2 error codes (RFC 9113 §7). */
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const FLOW_CONTROL_ERROR = 0x3;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

/** EMPTY is an empty payload. */
export const EMPTY = Buffer.alloc(0);

/** frameHeader gives a frame's 9-byte header. */
export function frameHeader(len: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(9);
  h.writeUIntBE(len, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/** frameOf gives a whole frame. */
export function frameOf(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]);
}

/** windowUpdate gives a WINDOW_UPDATE frame. */
export function windowUpdate(streamId: number, inc: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(inc, 0);
  return frameOf(WINDOW_UPDATE, 0, streamId, p);
}

/** rstStream gives a RST_STREAM frame. */
export function rstStream(streamId: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return frameOf(RST_STREAM, 0, streamId, p);
}

/** goaway gives a GOAWAY frame, with a debug text of at most 200 characters. */
export function goaway(lastStreamId: number, code: number, debug = ''): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  return frameOf(GOAWAY, 0, 0, Buffer.concat([p, Buffer.from(debug.slice(0, 200))]));
}

/** headerFrames writes a header block as HEADERS plus the CONTINUATION frames it needs. */
export function headerFrames(streamId: number, endStream: number, block: Buffer, maxFrame: number): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const part = block.subarray(off, off + maxFrame);
    off += part.length;
    const first = out.length === 0;
    const flags = (first ? endStream : 0) | (off >= block.length ? END_HEADERS : 0);
    out.push(frameHeader(part.length, first ? HEADERS : CONTINUATION, flags, streamId), part);
  } while (off < block.length);
  return out;
}

/** hpackInt encodes `n` as an HPACK integer with an `bits`-bit prefix, the prefix's other bits set to `flags`. */
export function hpackInt(n: number, bits: number, flags: number): number[] {
  const max = (1 << bits) - 1;
  if (n < max) return [flags | n];
  const out = [flags | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) + 128);
  out.push(n);
  return out;
}

/** encodeBlock encodes header fields as HPACK literals never added to the dynamic table, without Huffman coding. */
export function encodeBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

/** percentEncode writes a grpc-message value: UTF-8, with bytes outside printable ASCII and `%` as %XX. */
export function percentEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** parseTimeout turns a grpc-timeout header (`100m`, `5S`) into an absolute deadline in ms; Infinity when malformed. */
export function parseTimeout(v: string): number {
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (!m) return Infinity;
  return Date.now() + Number(m[1]) * TIMEOUT_UNITS[m[2]!]!;
}

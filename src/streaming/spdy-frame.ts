/**
 * SPDY/3.1 framing: the subset that Go's spdystream (crictl, critest, kubelet, apiserver) speaks. Written here
 * rather than taken from npm because the npm spdy packages enforce send-side flow control that spdystream never
 * opens (they stall after 64 KiB) and are unmaintained. This module is pure: bytes in, frames out, and back.
 * Header blocks are handled uncompressed here; `spdy-zlib.ts` owns their compression.
 *
 * Spec: SPDY Protocol Draft 3.1, §2.2 (frames) and §2.6 (control frames).
 */

/** FrameType numbers the control frames fune reads and writes. Any other type is skipped on read, never sent. */
export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** FLAG_FIN ends the sender's half of a stream (DATA, SYN_STREAM, SYN_REPLY, HEADERS). */
export const FLAG_FIN = 0x01;
/** FLAG_UNIDIRECTIONAL marks a SYN_STREAM the receiver may not answer with data. */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RstStatus are the RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GoAwayStatus are the GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** MAX_DATA_LENGTH is the largest payload a 24-bit length can carry. */
export const MAX_DATA_LENGTH = 0xffffff;

/** Frame is one parsed SPDY frame; header blocks are still compressed. */
export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; assocId: number; priority: number; fin: boolean; unidirectional: boolean; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number };

/** SpdyProtocolError is a peer's framing mistake; the session answers it with GOAWAY(PROTOCOL_ERROR) and closes. */
export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
}

/** FrameLimits bound what the reader accepts before it has to buffer a frame. */
export interface FrameLimits {
  /** maxDataLength caps a DATA payload (the 24-bit field allows 16 MiB). */
  maxDataLength: number;
  /** maxControlLength caps a control frame payload (header blocks are inside it). */
  maxControlLength: number;
  /** maxSettings caps the entries of one SETTINGS frame. */
  maxSettings: number;
}

/** DEFAULT_FRAME_LIMITS are generous for Go clients (they write ≤ 32 KiB per DATA frame) and small for attackers. */
export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxDataLength: 1 << 20, maxControlLength: 64 * 1024, maxSettings: 16 };

const HEADER_LEN = 8;
const MASK31 = 0x7fffffff;

/**
 * FrameReader cuts a byte stream into frames. `push` appends bytes; `next` returns the next complete frame, null
 * when more bytes are needed, or throws SpdyProtocolError on garbage (after which the reader is unusable).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS) {}

  /** buffered is the number of bytes held that do not yet form a frame. */
  get buffered(): number {
    return this.buf.length;
  }

  /** push appends bytes read from the peer. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** next returns the next frame, or null when it is not complete yet. */
  next(): Frame | null {
    for (;;) {
      if (this.buf.length < HEADER_LEN) return null;
      const b = this.buf;
      const control = (b[0]! & 0x80) !== 0;
      const flags = b[4]!;
      const length = b.readUIntBE(5, 3);
      const max = control ? this.limits.maxControlLength : this.limits.maxDataLength;
      if (length > max) throw new SpdyProtocolError(`frame length ${length} exceeds the limit of ${max} bytes`);
      if (b.length < HEADER_LEN + length) return null;
      const payload = b.subarray(HEADER_LEN, HEADER_LEN + length);
      this.buf = b.subarray(HEADER_LEN + length);
      if (!control) {
        const streamId = b.readUInt32BE(0) & MASK31;
        if (streamId === 0) throw new SpdyProtocolError('DATA frame on stream 0');
        return { type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: payload };
      }
      const version = b.readUInt16BE(0) & 0x7fff;
      if (version !== 3) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
      const frame = parseControl(b.readUInt16BE(2), flags, payload, this.limits);
      if (frame) return frame; // unknown control types are skipped, as the spec asks
    }
  }
}

function need(payload: Buffer, n: number, what: string, exact = false): void {
  if (exact ? payload.length !== n : payload.length < n) {
    throw new SpdyProtocolError(`${what} frame has length ${payload.length}, want ${exact ? '' : 'at least '}${n}`);
  }
}

function streamIdOf(payload: Buffer, what: string): number {
  const id = payload.readUInt32BE(0) & MASK31;
  if (id === 0) throw new SpdyProtocolError(`${what} frame on stream 0`);
  return id;
}

function parseControl(type: number, flags: number, p: Buffer, limits: FrameLimits): Frame | null {
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case FrameType.SYN_STREAM:
      need(p, 10, 'SYN_STREAM');
      return {
        type: 'syn_stream',
        streamId: streamIdOf(p, 'SYN_STREAM'),
        assocId: p.readUInt32BE(4) & MASK31,
        priority: p[8]! >> 5,
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        headerBlock: p.subarray(10),
      };
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS: {
      const what = type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS';
      need(p, 4, what);
      const f = { streamId: streamIdOf(p, what), fin, headerBlock: p.subarray(4) };
      return type === FrameType.SYN_REPLY ? { type: 'syn_reply', ...f } : { type: 'headers', ...f };
    }
    case FrameType.RST_STREAM: {
      need(p, 8, 'RST_STREAM', true);
      const status = p.readUInt32BE(4);
      if (status === 0) throw new SpdyProtocolError('RST_STREAM with status 0');
      return { type: 'rst_stream', streamId: streamIdOf(p, 'RST_STREAM'), status };
    }
    case FrameType.SETTINGS: {
      need(p, 4, 'SETTINGS');
      const count = p.readUInt32BE(0);
      if (count > limits.maxSettings) throw new SpdyProtocolError(`SETTINGS with ${count} entries (limit ${limits.maxSettings})`);
      need(p, 4 + 8 * count, 'SETTINGS', true);
      const entries = [];
      for (let i = 0, o = 4; i < count; i++, o += 8) {
        entries.push({ flags: p[o]!, id: p.readUIntBE(o + 1, 3), value: p.readUInt32BE(o + 4) });
      }
      return { type: 'settings', clear: fin, entries };
    }
    case FrameType.PING: {
      need(p, 4, 'PING', true);
      const id = p.readUInt32BE(0);
      if (id === 0) throw new SpdyProtocolError('PING with id 0');
      return { type: 'ping', id };
    }
    case FrameType.GOAWAY:
      need(p, 8, 'GOAWAY', true);
      return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & MASK31, status: p.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      need(p, 8, 'WINDOW_UPDATE', true);
      return { type: 'window_update', streamId: p.readUInt32BE(0) & MASK31, delta: p.readUInt32BE(4) & MASK31 };
    default:
      return null;
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_LEN);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt8(flags, 4);
  h.writeUIntBE(length, 5, 3);
  return h;
}

/** encodeDataHeader gives the 8-byte header of a DATA frame; the payload follows it on the wire. */
export function encodeDataHeader(streamId: number, length: number, fin: boolean): Buffer {
  if (length > MAX_DATA_LENGTH) throw new RangeError(`DATA payload of ${length} bytes is too long`);
  const h = Buffer.allocUnsafe(HEADER_LEN);
  h.writeUInt32BE(streamId & MASK31, 0);
  h.writeUInt8(fin ? FLAG_FIN : 0, 4);
  h.writeUIntBE(length, 5, 3);
  return h;
}

/** encodeData gives one whole DATA frame. */
export function encodeData(streamId: number, data: Buffer, fin = false): Buffer {
  return Buffer.concat([encodeDataHeader(streamId, data.length, fin), data]);
}

/** encodeSynStream gives a SYN_STREAM frame around an already compressed header block. */
export function encodeSynStream(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const p = Buffer.alloc(10);
  p.writeUInt32BE(streamId & MASK31, 0);
  return Buffer.concat([controlHeader(FrameType.SYN_STREAM, fin ? FLAG_FIN : 0, 10 + headerBlock.length), p, headerBlock]);
}

/** encodeSynReply gives a SYN_REPLY frame around an already compressed header block. */
export function encodeSynReply(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(streamId & MASK31, 0);
  return Buffer.concat([controlHeader(FrameType.SYN_REPLY, fin ? FLAG_FIN : 0, 4 + headerBlock.length), p, headerBlock]);
}

function twoWords(type: number, a: number, b: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(a >>> 0, 0);
  p.writeUInt32BE(b >>> 0, 4);
  return Buffer.concat([controlHeader(type, 0, 8), p]);
}

/** encodeRstStream gives a RST_STREAM frame. */
export const encodeRstStream = (streamId: number, status: number): Buffer => twoWords(FrameType.RST_STREAM, streamId & MASK31, status);
/** encodeGoAway gives a GOAWAY frame (always 8 bytes of payload: spdystream rejects any other length). */
export const encodeGoAway = (lastGoodStreamId: number, status: number): Buffer => twoWords(FrameType.GOAWAY, lastGoodStreamId & MASK31, status);
/** encodeWindowUpdate gives a WINDOW_UPDATE frame (stream 0 = the whole session). */
export const encodeWindowUpdate = (streamId: number, delta: number): Buffer => twoWords(FrameType.WINDOW_UPDATE, streamId & MASK31, delta & MASK31);

/** encodePing gives a PING frame; a server echoes the client's id unchanged. */
export function encodePing(id: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(id >>> 0, 0);
  return Buffer.concat([controlHeader(FrameType.PING, 0, 4), p]);
}

/** encodeSettings gives a SETTINGS frame. */
export function encodeSettings(entries: { flags?: number; id: number; value: number }[], clear = false): Buffer {
  const p = Buffer.allocUnsafe(4 + 8 * entries.length);
  p.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    p.writeUInt8(e.flags ?? 0, 4 + 8 * i);
    p.writeUIntBE(e.id, 5 + 8 * i, 3);
    p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
  });
  return Buffer.concat([controlHeader(FrameType.SETTINGS, clear ? 1 : 0, p.length), p]);
}

/** HeaderLimits bound a decompressed header block. */
export interface HeaderLimits {
  maxPairs: number;
  /** maxBytes caps the decompressed block (checked by the decompressor too). */
  maxBytes: number;
}

/** DEFAULT_HEADER_LIMITS: k8s streams carry at most three headers; leave room for proxies. */
export const DEFAULT_HEADER_LIMITS: HeaderLimits = { maxPairs: 64, maxBytes: 64 * 1024 };

/** Headers maps lower-case header names to values (several values of one name are joined with NUL on the wire). */
export type Headers = Record<string, string>;

/**
 * decodeHeaderBlock parses an uncompressed header block. Like spdystream it rejects upper-case and duplicate names,
 * and every count and length is checked against the bytes that remain, so a lying length cannot allocate.
 */
export function decodeHeaderBlock(block: Buffer, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): Headers {
  if (block.length > limits.maxBytes) throw new SpdyProtocolError(`header block of ${block.length} bytes exceeds ${limits.maxBytes}`);
  if (block.length < 4) throw new SpdyProtocolError('header block shorter than its pair count');
  const pairs = block.readUInt32BE(0);
  if (pairs > limits.maxPairs) throw new SpdyProtocolError(`header block with ${pairs} pairs (limit ${limits.maxPairs})`);
  if (pairs * 8 > block.length - 4) throw new SpdyProtocolError(`header block claims ${pairs} pairs in ${block.length} bytes`);
  const out: Headers = Object.create(null) as Headers;
  let o = 4;
  const str = (what: string): string => {
    if (o + 4 > block.length) throw new SpdyProtocolError(`header block truncated before a ${what} length`);
    const n = block.readUInt32BE(o);
    o += 4;
    if (n > block.length - o) throw new SpdyProtocolError(`header ${what} length ${n} runs past the block`);
    const s = block.toString('utf8', o, o + n);
    o += n;
    return s;
  };
  for (let i = 0; i < pairs; i++) {
    const name = str('name');
    if (name.length === 0) throw new SpdyProtocolError('empty header name');
    if (name !== name.toLowerCase()) throw new SpdyProtocolError(`header name ${JSON.stringify(name)} is not lower-case`);
    if (Object.hasOwn(out, name)) throw new SpdyProtocolError(`duplicate header ${JSON.stringify(name)}`);
    out[name] = str('value');
  }
  if (o !== block.length) throw new SpdyProtocolError(`header block has ${block.length - o} trailing bytes`);
  return out;
}

/** encodeHeaderBlock gives the uncompressed block of `headers`, names lower-cased. */
export function encodeHeaderBlock(headers: Headers): Buffer {
  const parts: Buffer[] = [];
  const n = Buffer.allocUnsafe(4);
  const entries = Object.entries(headers);
  n.writeUInt32BE(entries.length, 0);
  parts.push(n);
  for (const [k, v] of entries) {
    for (const s of [k.toLowerCase(), v]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

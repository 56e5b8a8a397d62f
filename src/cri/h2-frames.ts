/** HTTP/2 framing facts shared by the connection router and the direct gRPC server (RFC 9113 §3.4, §4, §6). */

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

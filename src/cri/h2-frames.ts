/** HTTP/2 framing facts shared by the connection router and the `:authority` fixer (RFC 9113 §4, §6). */

/** PREFACE_LEN is the length of the client connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`. */
export const PREFACE_LEN = 24;
/** MAX_FRAME bounds a frame's payload: the largest SETTINGS_MAX_FRAME_SIZE a peer may set. */
export const MAX_FRAME = 16 * 1024 * 1024;
export const HEADERS = 0x1;
export const SETTINGS = 0x4;
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

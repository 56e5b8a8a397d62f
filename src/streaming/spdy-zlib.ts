import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { SpdyProtocolError } from './spdy-frame.js';

/**
 * SPDY_DICTIONARY is the preset zlib dictionary of SPDY/3 header compression (spec §2.6.10.1), 1423 bytes,
 * adler32 0xe3c6a7c2.
 */
export const SPDY_DICTIONARY: Buffer = Buffer.from(
  'AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2VwdC1j' +
  'aGFyc2V0AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UAAAAFYWxs' +
  'b3cAAAANYXV0aG9yaXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNlAAAAEGNvbnRl' +
  'bnQtZW5jb2RpbmcAAAAQY29udGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxvY2F0aW9uAAAAC2Nv' +
  'bnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFuZ2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAAAAZleHBlY3QAAAAHZXhw' +
  'aXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAANaWYtbm9uZS1tYXRjaAAAAAhp' +
  'Zi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxhc3QtbW9kaWZpZWQAAAAIbG9jYXRpb24AAAAMbWF4LWZvcndhcmRz' +
  'AAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHktYXV0aG9yaXphdGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVy' +
  'AAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRyYW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUA' +
  'AAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3dy1hdXRoZW50aWNhdGUAAAAGbWV0aG9kAAAAA2dl' +
  'dAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8xLjEAAAADdXJsAAAABnB1YmxpYwAAAApzZXQtY29va2ll' +
  'AAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAyNDA1NDA2NDA3' +
  'NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9uMjA0' +
  'IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRl' +
  'bjQwNCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2VydmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZh' +
  'aWxhYmxlSmFuIEZlYiBNYXIgQXByIE1heSBKdW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBX' +
  'ZWQsIFRodSwgRnJpLCBTYXQsIFN1biwgR01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYs' +
  'YXBwbGljYXRpb24veG1sLGFwcGxpY2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2' +
  'YXRlbWF4LWFnZT1nemlwLGRlZmxhdGUsc2RjaGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg==',
  'base64',
);

/** ZLIB_PREFIX opens the compressed header stream: CMF 0x78, FLG 0xf9 (best compression, FDICT), then the dictionary id. */
const ZLIB_PREFIX = Buffer.from('78f9e3c6a7c2', 'hex');
const WINDOW = 32 * 1024;

/*
 * SPDY compresses every header block of one direction as one continuous zlib stream, each block ended by a sync
 * flush. Node's streaming zlib is asynchronous; instead each block is processed with the synchronous raw
 * (de)compressor, handing it the last 32 KiB of everything this context produced so far (starting with the preset
 * dictionary) as its dictionary. That is exactly the history a continuous zlib stream may refer back to, so the bytes
 * are interchangeable with a persistent stream (checked against Go's framer in the tests), parsing stays synchronous
 * and in order, and `maxOutputLength` bounds every block against header bombs.
 */
function slide(history: Buffer, more: Buffer, window = WINDOW): Buffer {
  const all = Buffer.concat([history, more]);
  return all.length > window ? Buffer.from(all.subarray(all.length - window)) : all;
}

/*
 * The compressor may refer back less far than zlib allows: any suffix of the history is a valid dictionary, because
 * the peer's window holds all of it. A short one keeps deflate's set-up per block cheap (~25 µs instead of ~600 µs
 * with 32 KiB) while repeated header names and values still compress well.
 */
const SEND_WINDOW = 2 * 1024;

/** HeaderDecompressor is the receiving half of one SPDY connection's header compression. */
export class HeaderDecompressor {
  private history: Buffer = SPDY_DICTIONARY;
  private started = false;

  constructor(private readonly maxBytes: number) {}

  /** decompress inflates one header block; a block that inflates beyond the limit or is not zlib throws. */
  decompress(block: Buffer): Buffer {
    let input = block;
    if (!this.started) {
      if (block.length < ZLIB_PREFIX.length + 1 || block[0] !== 0x78 || (block[1]! & 0x20) === 0 || !block.subarray(2, 6).equals(ZLIB_PREFIX.subarray(2))) {
        throw new SpdyProtocolError('first header block does not start a zlib stream with the SPDY dictionary');
      }
      if (((block[0] << 8) | block[1]!) % 31 !== 0) throw new SpdyProtocolError('bad zlib header check bits');
      input = block.subarray(6);
      this.started = true;
    }
    let out: Buffer;
    try {
      out = inflateRawSync(input, { dictionary: this.history, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: this.maxBytes });
    } catch (e) {
      const why = e instanceof RangeError ? `inflates beyond ${this.maxBytes} bytes` : `is not valid deflate data (${(e as Error).message})`;
      throw new SpdyProtocolError(`header block ${why}`);
    }
    this.history = slide(this.history, out);
    return out;
  }
}

/** HeaderCompressor is the sending half of one SPDY connection's header compression. */
export class HeaderCompressor {
  private history: Buffer = SPDY_DICTIONARY;
  private started = false;

  /**
   * compress deflates one header block, ending it with a sync flush. A short block (fune's replies carry no headers:
   * 4 bytes) goes out as a stored deflate block instead: valid at any point of the stream, byte-aligned like a sync
   * flush, and with no zlib instance to set up (~0.1 ms per reply, several per exec and two per port-forward pair).
   */
  compress(block: Buffer): Buffer {
    const body = block.length <= STORED_MAX ? storedBlock(block) : deflateRawSync(block, { dictionary: this.history, level: 9, finishFlush: constants.Z_SYNC_FLUSH });
    this.history = slide(this.history, block, SEND_WINDOW);
    if (this.started) return body;
    this.started = true;
    return Buffer.concat([ZLIB_PREFIX, body]);
  }
}

/** STORED_MAX is the largest header block sent stored (uncompressed) rather than deflated. */
const STORED_MAX = 64;

/**
 * storedBlock wraps bytes in one non-final stored deflate block (RFC 1951 §3.2.4: header, LEN, NLEN, data), then
 * the empty stored block a sync flush ends with. Go's inflater hands out a stored block's bytes only once it has
 * read the next block's header: without that marker in the same frame it would read past the frame, and Go's SPDY
 * framer fails the stream ("compressed payload size was incorrect").
 */
function storedBlock(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + data.length + SYNC_MARKER.length);
  out[0] = 0; // BFINAL 0, BTYPE 00; the rest of the byte is padding
  out.writeUInt16LE(data.length, 1);
  out.writeUInt16LE(~data.length & 0xffff, 3);
  data.copy(out, 5);
  SYNC_MARKER.copy(out, 5 + data.length);
  return out;
}

/** SYNC_MARKER is an empty non-final stored block, what zlib's Z_SYNC_FLUSH writes. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

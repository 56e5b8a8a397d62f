import type { Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';
import { ACK, CONTINUATION, END_HEADERS, HEADERS, MAX_FRAME, PREFACE_LEN, SETTINGS, headersFragment } from './h2-frames.js';

/** ROUTE_WAIT_MS is how long a connection may stay silent before it goes to the direct server anyway. */
const ROUTE_WAIT_MS = 1000;
/** EMPTY_SETTINGS is a SETTINGS frame that changes nothing: a valid server preface. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);

/** Routes are where routeConnection can send a connection. */
export interface Routes {
  /** native gets the socket for Node's http2 and grpc-js; bytes already read were put back with unshift. */
  native(conn: Socket): void;
  /** direct gets the socket and every byte read from it so far, preface included, for a DirectConnection. */
  direct(conn: Socket, initial: Buffer): void;
}

/**
 * routeConnection hands a new CRI connection to the server that can take its client. Clients that send a valid
 * `:authority` (grpc-js, kubelets from 1.26) go to Node's http2 and grpc-js, with the socket as it is so that reads
 * and writes stay in native code. Go clients that send the socket path (crictl, kubelets before 1.26) would get a
 * stream-level PROTOCOL_ERROR from nghttp2, which checks the authority's characters and has no switch to stop (the
 * same bug hit Rust's h2: hyperium/h2#487; kubernetes/kubernetes#112597 moved kubelets to "localhost"). Their
 * connections go to a DirectConnection (h2-direct.ts), which serves gRPC on the socket itself.
 *
 * To tell them apart, the first header block must be read before http2 sees the connection, and Go clients send
 * none until the server's preface arrives. So this sends an empty SETTINGS frame as the preface at once and reads
 * the client's frames until both its first header block and its acknowledgement of that SETTINGS frame are in. For
 * http2 it drops the acknowledgement (http2 never sent that frame) and puts every other byte back, in order, behind
 * http2's own SETTINGS (a second SETTINGS frame from a server is ordinary HTTP/2). A connection that stays silent for
 * a second, or sends what cannot be parsed, goes to the direct server, which answers broken input with GOAWAY.
 */
export function routeConnection(conn: Socket, routes: Routes, waitMs = ROUTE_WAIT_MS): void {
  const kept: Buffer[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let prefaceLeft = PREFACE_LEN;
  let acked = false;
  let authority: string | undefined | null; // undefined: no header block yet; null: a block without one
  let block: Buffer[] | undefined;
  let done = false;

  const finish = (native: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    conn.removeListener('data', onData);
    conn.removeListener('error', onError);
    conn.removeListener('close', onClose);
    conn.pause();
    const rest = Buffer.concat([...kept, buf]);
    if (native) {
      if (rest.length) conn.unshift(rest);
      routes.native(conn);
    } else {
      // The direct server ignores SETTINGS acknowledgements, so whether ours was dropped does not matter to it.
      routes.direct(conn, rest);
    }
  };
  const consume = (chunk: Buffer) => {
    if (prefaceLeft > 0) {
      const n = Math.min(prefaceLeft, chunk.length);
      kept.push(chunk.subarray(0, n));
      prefaceLeft -= n;
      chunk = chunk.subarray(n);
    }
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (len > MAX_FRAME) throw new Error('frame too large');
      if (buf.length < 9 + len) break;
      const frame = buf.subarray(0, 9 + len);
      buf = buf.subarray(9 + len);
      const type = frame[3]!;
      const flags = frame[4]!;
      if (!acked && type === SETTINGS && flags & ACK) {
        acked = true; // the acknowledgement of our SETTINGS: http2 must not see it
        continue;
      }
      kept.push(frame);
      if (authority === undefined) headerFrame(frame, type, flags);
    }
    if (authority === undefined) return;
    const native = authority === null || isValidAuthority(authority);
    // http2 must not see our SETTINGS acknowledged; the direct server does not mind, so it need not wait for it.
    if (acked || !native) finish(native);
  };
  const headerFrame = (frame: Buffer, type: number, flags: number) => {
    if (type === HEADERS) {
      block = [headersFragment(frame)];
    } else if (type === CONTINUATION && block) {
      block.push(frame.subarray(9));
    } else {
      return;
    }
    if (flags & END_HEADERS) authority = authorityOf(Buffer.concat(block));
  };
  const onData = (chunk: Buffer) => {
    try {
      consume(chunk);
    } catch {
      finish(false);
    }
  };
  const onError = () => {
    if (!done) conn.destroy();
  };
  // A client gone before the choice leaves nothing to hand over.
  const onClose = () => {
    done = true;
    clearTimeout(timer);
  };
  const timer = setTimeout(() => finish(false), waitMs);
  conn.on('data', onData);
  conn.on('error', onError);
  conn.on('close', onClose);
  conn.write(EMPTY_SETTINGS);
}

/** VALID_AUTHORITY is what nghttp2 accepts in :authority (RFC 3986 authority characters). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

/** isValidAuthority tells whether nghttp2 accepts `value` as an `:authority`. */
export function isValidAuthority(value: string): boolean {
  return VALID_AUTHORITY.test(value);
}

/** authorityOf decodes a connection's first header block and gives its `:authority` (null when it has none). */
function authorityOf(block: Buffer): string | null {
  const decoder = hpack.decompressor.create({ table: { maxSize: 4096 } });
  let failed: Error | undefined;
  decoder.on('error', (e: Error) => (failed = e));
  decoder.write(block);
  decoder.execute();
  if (failed) throw failed;
  for (let f = decoder.read() as HeaderField | null; f; f = decoder.read() as HeaderField | null) if (f.name === ':authority') return f.value;
  return null;
}

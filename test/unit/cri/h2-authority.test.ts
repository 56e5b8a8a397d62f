import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { unary } from '../../../src/cri/rpc.js';
import { nullLogger } from '../../../src/log/index.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 100);
  l = undefined;
});

/** grpcCall makes one raw gRPC call on an http2 session, with the given :authority and extra headers. */
function grpcCall(session: http2.ClientHttp2Session, authority: string, extra: Record<string, string> = {}) {
  return new Promise<{ status: string | undefined; body: Buffer }>((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/runtime.v1.RuntimeService/Version',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extra,
    });
    let status: string | undefined;
    const body: Buffer[] = [];
    req.on('trailers', (t) => (status = String(t['grpc-status'])));
    req.on('response', (h) => h['grpc-status'] !== undefined && (status = String(h['grpc-status'])));
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () => resolve({ status, body: Buffer.concat(body) }));
    req.on('error', reject);
    req.end(Buffer.from([0, 0, 0, 0, 0])); // an empty VersionRequest
  });
}

describe('the :authority fix for Go clients on unix sockets', () => {
  it('serves calls whose :authority is the socket path, over padded frames, many per connection', async () => {
    const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]]), nullLogger(), { ready: true });
    const path = join(mkdtempSync(join(tmpdir(), 'fune-h2-')), 'fune.sock');
    l = await listen(server, path);
    const session = http2.connect('http://localhost', {
      createConnection: () => connect(path),
      paddingStrategy: http2.constants.PADDING_STRATEGY_MAX,
    });
    try {
      for (let i = 0; i < 5; i++) {
        // The same header values again and again: the client's HPACK encoder answers with dynamic-table indexes.
        const r = await grpcCall(session, path);
        expect(r.status).toBe('0');
        expect(r.body.toString()).toContain('fune');
      }
      // A header block larger than one frame arrives as HEADERS + CONTINUATION.
      const big = await grpcCall(session, path, { 'x-big': 'y'.repeat(6_000), 'x-big2': 'z'.repeat(6_000), 'x-big3': 'w'.repeat(6_000) });
      expect(big.status).toBe('0');
      const plain = await grpcCall(session, 'localhost');
      expect(plain.status).toBe('0');
    } finally {
      session.close();
    }
  });

  it('passes a connection whose first call has a valid :authority through untouched, big responses included', async () => {
    const big = 'v'.repeat(3 * 1024 * 1024);
    const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune', runtime_version: big }))]]), nullLogger(), { ready: true });
    const path = join(mkdtempSync(join(tmpdir(), 'fune-h2-')), 'fune.sock');
    l = await listen(server, path);
    const session = http2.connect('http://localhost', { createConnection: () => connect(path) });
    try {
      // Several calls at once: their responses (3 MiB each, over the 256 KiB write queue) share the connection.
      const rs = await Promise.all(Array.from({ length: 4 }, (_, i) => grpcCall(session, 'localhost', { 'x-call': String(i), 'x-same': 'h'.repeat(200) })));
      for (const r of rs) {
        expect(r.status).toBe('0');
        expect(r.body.length).toBeGreaterThan(big.length);
        expect(r.body.includes('fune')).toBe(true);
      }
      // The client's HPACK encoder now answers with dynamic-table indexes, which reach the server as they are.
      for (let i = 0; i < 3; i++) expect((await grpcCall(session, 'localhost', { 'x-same': 'h'.repeat(200) })).status).toBe('0');
    } finally {
      session.close();
    }
  });

  it('drops a connection that sends garbage instead of HTTP/2 frames, and keeps serving others', async () => {
    const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]]), nullLogger(), { ready: true });
    const path = join(mkdtempSync(join(tmpdir(), 'fune-h2-')), 'fune.sock');
    l = await listen(server, path);
    const raw = connect(path);
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    raw.on('error', () => {});
    raw.resume(); // consume the server's SETTINGS so that 'end' and 'close' can follow
    raw.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    raw.write(Buffer.concat([Buffer.from([0, 0, 4, 1, 4, 0, 0, 0, 1]), Buffer.from([0xff, 0xff, 0xff, 0xff])])); // HEADERS with a broken HPACK integer
    await closed;
    const session = http2.connect('http://localhost', { createConnection: () => connect(path) });
    try {
      expect((await grpcCall(session, path)).status).toBe('0');
    } finally {
      session.close();
    }
  });
});

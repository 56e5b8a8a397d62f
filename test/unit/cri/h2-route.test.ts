// routeConnection with a client that behaves as Go's gRPC does: it sends its preface and SETTINGS, waits for the
// server's SETTINGS, acknowledges them, and only then sends its first request. Raw frames, so the order is exact.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { unary } from '../../../src/cri/rpc.js';
import { nullLogger } from '../../../src/log/index.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 100);
  l = undefined;
});

const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};

/** goStyleCalls makes `n` Version calls the way grpc-go does and gives each call's grpc-status. */
async function goStyleCalls(path: string, authority: string, n: number, silentMs = 0): Promise<string[]> {
  const sock: Socket = connect(path);
  if (silentMs) await new Promise((r) => setTimeout(r, silentMs));
  const enc = hpack.compressor.create({ table: { maxSize: 4096 } });
  const dec = hpack.decompressor.create({ table: { maxSize: 4096 } });
  let buf = Buffer.alloc(0);
  const statuses: string[] = [];
  let sawServerSettings!: () => void;
  const settings = new Promise<void>((r) => (sawServerSettings = r));
  const waiters: (() => void)[] = [];
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const len = buf.readUIntBE(0, 3);
      const [type, flags] = [buf[3]!, buf[4]!];
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === 4 && !(flags & 1)) {
        sock.write(frame(4, 1, 0, Buffer.alloc(0))); // ACK every SETTINGS, as a client must
        sawServerSettings();
      } else if (type === 1) {
        dec.write(payload);
        dec.execute();
        for (let f = dec.read() as HeaderField | null; f; f = dec.read() as HeaderField | null) {
          if (f.name === 'grpc-status') {
            statuses.push(f.value);
            waiters.shift()?.();
          }
        }
      } else if (type === 7) {
        throw new Error(`GOAWAY from the server: ${payload.toString('hex')}`);
      }
    }
  });
  sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]));
  await settings;
  for (let i = 0; i < n; i++) {
    const stream = 1 + 2 * i;
    enc.write([
      { name: ':method', value: 'POST' },
      { name: ':scheme', value: 'http' },
      { name: ':path', value: '/runtime.v1.RuntimeService/Version' },
      { name: ':authority', value: authority },
      { name: 'content-type', value: 'application/grpc' },
      { name: 'te', value: 'trailers' },
    ]);
    const block: Buffer[] = [];
    for (let c = enc.read() as Buffer | null; c; c = enc.read() as Buffer | null) block.push(c);
    const done = new Promise<void>((r) => waiters.push(r));
    sock.write(Buffer.concat([frame(1, 4, stream, Buffer.concat(block)), frame(0, 1, stream, Buffer.alloc(5))]));
    await done;
  }
  sock.destroy();
  return statuses;
}

describe('routeConnection', () => {
  for (const [what, authority] of [
    ['the socket path (through the fixer)', ''],
    ['a valid authority (straight to http2)', 'localhost'],
  ] as const) {
    it(`serves a client that waits for the server's SETTINGS, with ${what}, several calls on one connection`, async () => {
      const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]]), nullLogger(), { ready: true });
      const path = join(mkdtempSync(join(tmpdir(), 'fune-route-')), 'fune.sock');
      l = await listen(server, path);
      expect(await goStyleCalls(path, authority || path, 3)).toEqual(['0', '0', '0']);
    });
  }

  it('serves a connection that stayed silent past the wait (through the fixer), and shrugs off one that left early', async () => {
    const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]]), nullLogger(), { ready: true });
    const path = join(mkdtempSync(join(tmpdir(), 'fune-route-')), 'fune.sock');
    l = await listen(server, path);
    const early = connect(path);
    early.on('error', () => {});
    early.end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(await goStyleCalls(path, 'localhost', 2, 1200)).toEqual(['0', '0']);
    expect(await goStyleCalls(path, path, 1)).toEqual(['0']);
  });
});

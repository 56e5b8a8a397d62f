// routeConnection with a client that behaves as Go's gRPC does: it sends its preface and SETTINGS, waits for the
// server's SETTINGS, acknowledges them, and only then sends its first request. Raw frames, so the order is exact.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import hpack, { type HeaderField } from 'hpack.js';
import { AuthorityFixingSocket } from '../../../src/cri/h2-authority.js';
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

describe('AuthorityFixingSocket', () => {
  it('keeps frames whole while it still waits for the SETTINGS acknowledgement to drop, after a valid first block', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fune-fixer-')), 's.sock');
    const got: Buffer[] = [];
    const srv = createServer((conn) => {
      const enc = hpack.compressor.create({ table: { maxSize: 4096 } });
      enc.write([{ name: ':method', value: 'POST' }, { name: ':authority', value: 'localhost' }]);
      const block: Buffer[] = [];
      for (let c = enc.read() as Buffer | null; c; c = enc.read() as Buffer | null) block.push(c);
      const initial = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(1, 4, 1, Buffer.concat(block))]);
      const fixer = new AuthorityFixingSocket(conn, { initial, dropSettingsAck: true });
      fixer.on('data', (b: Buffer) => got.push(b));
    });
    await new Promise<void>((r) => srv.listen(path, r));
    const c = connect(path);
    // Its payload holds, right where the cut falls, bytes that read like a SETTINGS acknowledgement.
    const payload = Buffer.alloc(100, 7);
    Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]).copy(payload, 11);
    const data = frame(0, 0, 1, payload);
    const tick = () => new Promise((r) => setTimeout(r, 30));
    await tick();
    c.write(data.subarray(0, 20)); // a frame cut in two, before the acknowledgement
    await tick();
    c.write(data.subarray(20));
    await tick();
    c.write(Buffer.concat([frame(4, 1, 0, Buffer.alloc(0)), frame(0, 1, 1, Buffer.from('end'))]));
    await tick();
    c.destroy();
    srv.close();
    const out = Buffer.concat(got);
    const afterHeaders = out.subarray(out.indexOf(data.subarray(0, 9)));
    // The DATA frame arrives whole, the acknowledgement does not arrive at all, the last frame follows.
    expect(afterHeaders).toEqual(Buffer.concat([data, frame(0, 1, 1, Buffer.from('end'))]));
  });
});

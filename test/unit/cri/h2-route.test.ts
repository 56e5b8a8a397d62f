// routeConnection with a client that behaves as Go's gRPC does: it sends its preface and SETTINGS, waits for the
// server's SETTINGS, acknowledges them, and only then sends its first request. Raw frames, so the order is exact.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { unary } from '../../../src/cri/rpc.js';
import { nullLogger } from '../../../src/log/index.js';
import { grpcMessage, rawClient } from '../../helpers/h2-raw.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 100);
  l = undefined;
});

async function serve(choice: 'grpc-js' | 'direct' = 'grpc-js'): Promise<string> {
  const server = buildCriServer(new Map([['Version', unary('Version', 'trace', async () => ({ runtime_name: 'fune' }))]]), nullLogger(), { ready: true });
  const path = join(mkdtempSync(join(tmpdir(), 'fune-route-')), 'fune.sock');
  l = await listen(server, path, choice);
  return path;
}

/** goStyleCalls makes `n` Version calls on one connection the way grpc-go does; gives the statuses and whether the direct server had it. */
async function goStyleCalls(path: string, authority: string, n: number, silentMs = 0): Promise<{ statuses: string[]; direct: boolean }> {
  const c = await rawClient(path, false);
  if (silentMs) await new Promise((r) => setTimeout(r, silentMs));
  c.send(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  await c.until((f) => f.type === 4 && !(f.flags & 1));
  const statuses: string[] = [];
  for (let i = 0; i < n; i++) {
    c.request(1 + 2 * i, '/runtime.v1.RuntimeService/Version', authority, grpcMessage());
    statuses.push(await c.status(1 + 2 * i));
  }
  const direct = l!.direct.size === 1;
  c.close();
  return { statuses, direct };
}

describe('routeConnection', () => {
  for (const [what, authority, direct] of [
    ['the socket path (to the direct server)', '', true],
    ['a valid authority (straight to http2 and grpc-js)', 'localhost', false],
  ] as const) {
    it(`serves a client that waits for the server's SETTINGS, with ${what}, several calls on one connection`, async () => {
      const path = await serve();
      expect(await goStyleCalls(path, authority || path, 3)).toEqual({ statuses: ['0', '0', '0'], direct });
    });
  }

  it('is skipped with grpc.server "direct" (the default): a valid authority goes to the direct server too', async () => {
    const path = await serve('direct');
    expect(await goStyleCalls(path, 'localhost', 3)).toEqual({ statuses: ['0', '0', '0'], direct: true });
    expect(await goStyleCalls(path, path, 1)).toEqual({ statuses: ['0'], direct: true });
  });

  it('serves a connection that stayed silent past the wait (on the direct server), and shrugs off one that left early', async () => {
    const path = await serve();
    const early = connect(path);
    early.on('error', () => {});
    early.end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(await goStyleCalls(path, 'localhost', 2, 1200)).toEqual({ statuses: ['0', '0'], direct: true });
    expect(await goStyleCalls(path, path, 1)).toEqual({ statuses: ['0'], direct: true });
    expect(await goStyleCalls(path, 'localhost', 1)).toEqual({ statuses: ['0'], direct: false });
  });
});

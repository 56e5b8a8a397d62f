import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { unary, type AnyRpc, type CallContext } from '../../../src/cri/rpc.js';
import { notFound } from '../../../src/errors/index.js';
import { nullLogger } from '../../../src/log/index.js';
import { criClient, failure, grpc } from '../../helpers/daemon.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 100);
  l = undefined;
});

/** calls records what the wrapper reports to the metrics, as `verb code`. */
let calls: { verb: string; code: string; seconds: number }[] = [];
const metrics = { criCall: (verb: string, code: string, seconds: number) => void calls.push({ verb, code, seconds }) };

/** choice is the server the loop below tests (grpc.server). */
let choice: 'grpc-js' | 'direct' = 'direct';

async function serve(rpcs: AnyRpc[], ready = true) {
  const readiness = { ready };
  calls = [];
  const server = buildCriServer(new Map(rpcs.map((r) => [r.name, r])), nullLogger(), readiness, metrics);
  const socket = join(mkdtempSync(join(tmpdir(), 'fune-wrap-')), 's.sock');
  l = await listen(server, socket, choice);
  return { socket, readiness };
}

for (const path of ['grpc-js', 'direct'] as const) {
  const client = (socket: string, version: 'v1' | 'v1alpha2' = 'v1') =>
    criClient(socket, version, 'RuntimeService', path === 'direct' ? { authority: socket } : {});

  describe(`the RPC wrapper, served by ${path}`, () => {
    beforeEach(() => {
      choice = path;
    });
    it('answers UNAVAILABLE until recovery has finished, then serves', async () => {
      const { socket, readiness } = await serve([unary('Version', 'trace', async () => ({ runtime_name: 'x' }))], false);
      const c = client(socket);
      try {
        const f = await failure(c.call('Version'));
        expect(f.code).toBe(grpc.status.UNAVAILABLE);
        expect(f.details).toMatch(/recovery/);
        readiness.ready = true;
        expect((await c.call('Version')).runtime_name).toBe('x');
        expect(calls.map((m) => `${m.verb} ${m.code}`)).toEqual(['Version Unavailable', 'Version OK']);
      } finally {
        c.close();
      }
    });

    it('hands the call deadline to the handler as an AbortSignal', async () => {
      let seen: CallContext | undefined;
      let abortedAfter = -1;
      const { socket } = await serve([
        unary('Version', 'trace', async (_req, ctx) => {
          seen = ctx;
          const t0 = Date.now();
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
          abortedAfter = Date.now() - t0;
          return {};
        }),
      ]);
      const c = client(socket);
      try {
        const f = await failure(c.call('Version', {}, { deadlineMs: 300 }));
        expect(f.code).toBe(grpc.status.DEADLINE_EXCEEDED);
        // The handler ends once its signal fires; under load that can come well after the client gave up, so
        // wait for the wrapper's record instead of a fixed time (no wall-clock bounds: the handler's own start
        // may lag the call's).
        for (let i = 0; i < 200 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
        // The handler ran until the deadline fired: the call's time covers it (the wrapper's clock starts first).
        expect(calls).toHaveLength(1);
        expect(seen?.signal.aborted).toBe(true);
        expect(abortedAfter).toBeGreaterThan(0);
        expect(calls[0]!.seconds * 1000).toBeGreaterThanOrEqual(abortedAfter - 2);
        expect(seen?.apiVersion).toBe('v1');
      } finally {
        c.close();
      }
    });

    it('maps typed errors to their code and unexpected ones to INTERNAL, never UNKNOWN', async () => {
      const { socket } = await serve([
        unary('ContainerStatus', 'trace', async () => {
          throw notFound('container "abc" does not exist');
        }),
        unary('Version', 'trace', async () => {
          throw new TypeError('cannot read properties of undefined');
        }),
        unary('Status', 'trace', async () => {
          throw Object.assign(new Error('looks like a status'), { code: 'ENOENT' });
        }),
      ]);
      const c = client(socket);
      try {
        expect(await failure(c.call('ContainerStatus', { container_id: 'abc' }))).toEqual({
          code: grpc.status.NOT_FOUND,
          details: 'container "abc" does not exist',
        });
        const v = await failure(c.call('Version'));
        expect(v.code).toBe(grpc.status.INTERNAL);
        expect(v.details).toContain('cannot read properties of undefined');
        expect((await failure(c.call('Status'))).code).toBe(grpc.status.INTERNAL);
        const u = await failure(c.call('CheckpointContainer', { container_id: 'abc' }));
        expect(u.code).toBe(grpc.status.UNIMPLEMENTED);
        // Each call reaches the metrics once, with Go's name of its code.
        expect(calls.map((m) => `${m.verb} ${m.code}`)).toEqual(['ContainerStatus NotFound', 'Version Internal', 'Status Internal', 'CheckpointContainer Unimplemented']);
      } finally {
        c.close();
      }
    });

    it('serves the same verb under runtime.v1alpha2 with that api version', async () => {
      const { socket } = await serve([unary('Version', 'trace', async (_r, ctx) => ({ runtime_api_version: ctx.apiVersion }))]);
      const c = client(socket, 'v1alpha2');
      try {
        expect((await c.call('Version')).runtime_api_version).toBe('v1alpha2');
      } finally {
        c.close();
      }
    });
  });
}

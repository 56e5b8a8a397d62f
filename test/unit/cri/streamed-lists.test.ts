import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCriServer, listen, shutdown, type CriListener } from '../../../src/cri/server.js';
import { unary, type AnyRpc } from '../../../src/cri/rpc.js';
import { BATCH, streamedLists } from '../../../src/cri/streamed-lists.js';
import { nullLogger } from '../../../src/log/index.js';
import { criClient } from '../../helpers/daemon.js';

let l: CriListener | undefined;
afterEach(async () => {
  if (l) await shutdown(l, 100);
  l = undefined;
});

function collect(client: ReturnType<typeof criClient>, method: string, req: object): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const out: any[] = [];
    const call = (client.raw as any)[method](req);
    call.on('data', (m: any) => out.push(m));
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

describe('streamed listings', () => {
  for (const server of ['grpc-js', 'the direct server'] as const) {
    it(`send the List verb’s items, with its filter, in batches (${server})`, async () => {
      let seenFilter: unknown;
      const sandboxes = Array.from({ length: BATCH + 3 }, (_, i) => ({ id: `pod${i}` }));
      const table = new Map<string, AnyRpc>([
        [
          'ListPodSandbox',
          unary('ListPodSandbox', 'trace', async (req: { filter: unknown }) => {
            seenFilter = req.filter;
            return { items: sandboxes };
          }),
        ],
        ['ListContainers', unary('ListContainers', 'trace', async () => ({ containers: [] }))],
      ]);
      for (const r of streamedLists(table)) table.set(r.name, r);
      expect([...table.keys()].sort()).toEqual(['ListContainers', 'ListPodSandbox', 'StreamContainers', 'StreamPodSandboxes']);
      const path = join(mkdtempSync(join(tmpdir(), 'fune-sl-')), 's.sock');
      l = await listen(buildCriServer(table, nullLogger(), { ready: true }), path, server === 'grpc-js' ? 'grpc-js' : 'direct');
      const c = criClient(path, 'v1', 'RuntimeService', server === 'grpc-js' ? {} : { authority: path });
      try {
        const msgs = await collect(c, 'StreamPodSandboxes', { filter: { id: 'pod1', label_selector: { a: 'b' } } });
        expect(msgs.map((m) => m.pod_sandboxes.length)).toEqual([BATCH, 3]);
        expect(l.direct.size).toBe(server === 'grpc-js' ? 0 : 1);
        expect(msgs.flatMap((m) => m.pod_sandboxes.map((p: { id: string }) => p.id))).toEqual(sandboxes.map((p) => p.id));
        expect(seenFilter).toMatchObject({ id: 'pod1', label_selector: { a: 'b' } });
        const none = await collect(c, 'StreamContainers', {});
        expect(none).toHaveLength(1);
        expect(none[0].containers).toEqual([]);
      } finally {
        c.close();
      }
    });
  }
});

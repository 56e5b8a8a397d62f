import type { ListPodSandboxRequest__Output } from '../generated/v1/runtime/v1/ListPodSandboxRequest.js';
import { podSandboxOf, type SandboxService } from '../../services/sandbox-service.js';
import type { SandboxRecord } from '../../domain/sandbox.js';
import { EntryCache } from '../entry-cache.js';
import { Encoded } from '../protos.js';
import { unary } from '../rpc.js';

interface Listed {
  rec: SandboxRecord;
  state: SandboxRecord['state'];
}

/**
 * entries caches each pod's ListPodSandbox entry, per record and effective state (a ready pod whose infra process
 * died is listed NOTREADY before any record changes).
 */
const entries = new EntryCache<SandboxRecord>('PodSandbox');
const plain = ({ rec, state }: Listed) => podSandboxOf(rec, state);

/**
 * listPodSandbox answers ListPodSandbox, filtered by id (or prefix), state and labels, from the cached entries of
 * the records and their states as they are now (ListPodSandboxResponse has only its repeated field 1).
 */
export const listPodSandbox = (s: SandboxService) =>
  unary<ListPodSandboxRequest__Output, Encoded>('ListPodSandbox', 'trace', async (req, ctx) => {
    const listed = await s.listRecords(req.filter);
    const parts = listed.map((l) => entries.field1(ctx.apiVersion, l.rec, l.state, () => plain(l)));
    return new Encoded(Buffer.concat(parts), () => ({ items: listed.map(plain) }));
  });

import type { ListContainersRequest__Output } from '../generated/v1/runtime/v1/ListContainersRequest.js';
import type { ContainerService } from '../../services/container-service.js';
import { containerKey, containerListItemOf } from '../../services/container-status.js';
import type { ContainerRecord } from '../../domain/container.js';
import { EntryCache } from '../entry-cache.js';
import { Encoded } from '../protos.js';
import { unary } from '../rpc.js';

/** entries caches each container's ListContainers entry, per record and state fields (see containerKey). */
const entries = new EntryCache<ContainerRecord>('Container');

/**
 * listContainers answers ListContainers, filtered by id (or prefix), state, pod and labels. The answer is the
 * cached entries of the records as they are now (ListContainersResponse has only its repeated field 1).
 */
export const listContainers = (s: ContainerService) =>
  unary<ListContainersRequest__Output, Encoded>('ListContainers', 'trace', async (req, ctx) => {
    const recs = await s.listRecords(req.filter);
    const parts = recs.map((r) => entries.field1(ctx.apiVersion, r, containerKey(r), containerListItemOf));
    return new Encoded(Buffer.concat(parts), () => ({ containers: recs.map(containerListItemOf) }));
  });

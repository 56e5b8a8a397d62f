import type { ContainerStatusRequest__Output } from '../generated/v1/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../generated/v1/runtime/v1/ContainerStatusResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { containerKey, containerStatusOf } from '../../services/container-status.js';
import type { ContainerRecord } from '../../domain/container.js';
import { EntryCache } from '../entry-cache.js';
import { Encoded } from '../protos.js';
import { unary } from '../rpc.js';

/** entries caches each container's ContainerStatus, per record and state fields (see containerKey). */
const entries = new EntryCache<ContainerRecord>('ContainerStatus');

/**
 * containerStatus answers ContainerStatus; verbose adds the pid and OCI spec under info["info"]. The usual answer
 * (not verbose, resources as recorded) is the container's cached status as field 1 and an empty info map.
 */
export const containerStatus = (s: ContainerService) =>
  unary<ContainerStatusRequest__Output, ContainerStatusResponse | Encoded>(
    'ContainerStatus',
    'trace',
    async (req, ctx) => {
      if (req.verbose) {
        const r = await s.status(req.container_id, req.verbose);
        return { status: r.status, info: r.info };
      }
      const { rec, resources } = await s.statusRecord(req.container_id);
      if (resources) return { status: { ...containerStatusOf(rec), resources }, info: {} };
      return new Encoded(entries.field1(ctx.apiVersion, rec, containerKey(rec), containerStatusOf), () => ({ status: containerStatusOf(rec), info: {} }));
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

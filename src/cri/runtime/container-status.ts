import type { ContainerStatusRequest__Output } from '../generated/v1/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../generated/v1/runtime/v1/ContainerStatusResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** containerStatus answers ContainerStatus; verbose adds the pid and OCI spec under info["info"]. */
export const containerStatus = (s: ContainerService) =>
  unary<ContainerStatusRequest__Output, ContainerStatusResponse>(
    'ContainerStatus',
    'trace',
    async (req) => {
      const r = await s.status(req.container_id, req.verbose);
      return { status: r.status, info: r.info };
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

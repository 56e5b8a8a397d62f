import type { UpdateContainerResourcesRequest__Output } from '../generated/v1/runtime/v1/UpdateContainerResourcesRequest.js';
import type { UpdateContainerResourcesResponse } from '../generated/v1/runtime/v1/UpdateContainerResourcesResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** updateContainerResources answers UpdateContainerResources through `runc update`. */
export const updateContainerResources = (s: ContainerService) =>
  unary<UpdateContainerResourcesRequest__Output, UpdateContainerResourcesResponse>(
    'UpdateContainerResources',
    'info',
    async (req, ctx) => {
      await s.updateResources(req.container_id, req.linux, ctx.log);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

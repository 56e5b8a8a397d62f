import type { StartContainerRequest__Output } from '../generated/v1/runtime/v1/StartContainerRequest.js';
import type { StartContainerResponse } from '../generated/v1/runtime/v1/StartContainerResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** startContainer answers StartContainer. */
export const startContainer = (s: ContainerService) =>
  unary<StartContainerRequest__Output, StartContainerResponse>(
    'StartContainer',
    'info',
    async (req, ctx) => {
      await s.start(req.container_id, ctx.signal, ctx.log);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

import type { RemoveContainerRequest__Output } from '../generated/v1/runtime/v1/RemoveContainerRequest.js';
import type { RemoveContainerResponse } from '../generated/v1/runtime/v1/RemoveContainerResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** removeContainer answers RemoveContainer: killed if running, then gone; an absent container is not an error. */
export const removeContainer = (s: ContainerService) =>
  unary<RemoveContainerRequest__Output, RemoveContainerResponse>(
    'RemoveContainer',
    'info',
    async (req, ctx) => {
      await s.remove(req.container_id, ctx.log);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

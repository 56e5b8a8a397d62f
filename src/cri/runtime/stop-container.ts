import type { StopContainerRequest__Output } from '../generated/v1/runtime/v1/StopContainerRequest.js';
import type { StopContainerResponse } from '../generated/v1/runtime/v1/StopContainerResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** stopContainer answers StopContainer: stop signal, `timeout` seconds, SIGKILL; a stopped or absent container is fine. */
export const stopContainer = (s: ContainerService) =>
  unary<StopContainerRequest__Output, StopContainerResponse>(
    'StopContainer',
    'info',
    async (req, ctx) => {
      await s.stop(req.container_id, Number(req.timeout), ctx.log);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

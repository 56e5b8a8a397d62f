import type { CheckpointContainerRequest__Output } from '../generated/v1/runtime/v1/CheckpointContainerRequest.js';
import type { CheckpointContainerResponse } from '../generated/v1/runtime/v1/CheckpointContainerResponse.js';
import type { CheckpointService } from '../../services/checkpoint-service.js';
import { unary } from '../rpc.js';

/** checkpointContainer answers CheckpointContainer: a CRIU checkpoint archive at `location`, or FAILED_PRECONDITION where CRIU cannot work. */
export const checkpointContainer = (s: CheckpointService) =>
  unary<CheckpointContainerRequest__Output, CheckpointContainerResponse>(
    'CheckpointContainer',
    'info',
    async (req, ctx) => {
      await s.checkpoint(req.container_id, req.location, Number(req.timeout || '0'), ctx.signal, ctx.log);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

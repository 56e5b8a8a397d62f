import type { ReopenContainerLogRequest__Output } from '../generated/v1/runtime/v1/ReopenContainerLogRequest.js';
import type { ReopenContainerLogResponse } from '../generated/v1/runtime/v1/ReopenContainerLogResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** reopenContainerLog answers ReopenContainerLog: conmon reopens the log file (after the kubelet rotated it). */
export const reopenContainerLog = (s: ContainerService) =>
  unary<ReopenContainerLogRequest__Output, ReopenContainerLogResponse>(
    'ReopenContainerLog',
    'info',
    async (req) => {
      await s.reopenLog(req.container_id);
      return {};
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );

import type { StopPodSandboxRequest__Output } from '../generated/v1/runtime/v1/StopPodSandboxRequest.js';
import type { StopPodSandboxResponse } from '../generated/v1/runtime/v1/StopPodSandboxResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** stopPodSandbox answers StopPodSandbox: every container and the infra process stopped, network torn down; an absent pod is fine. */
export const stopPodSandbox = (s: SandboxService) =>
  unary<StopPodSandboxRequest__Output, StopPodSandboxResponse>(
    'StopPodSandbox',
    'info',
    async (req, ctx) => {
      await s.stop(req.pod_sandbox_id, ctx.signal, ctx.log);
      return {};
    },
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

import type { UpdatePodSandboxResourcesRequest__Output } from '../generated/v1/runtime/v1/UpdatePodSandboxResourcesRequest.js';
import type { UpdatePodSandboxResourcesResponse } from '../generated/v1/runtime/v1/UpdatePodSandboxResourcesResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** updatePodSandboxResources answers UpdatePodSandboxResources (in-place pod resize): applied to a pod cgroup fune owns, recorded otherwise. */
export const updatePodSandboxResources = (s: SandboxService) =>
  unary<UpdatePodSandboxResourcesRequest__Output, UpdatePodSandboxResourcesResponse>(
    'UpdatePodSandboxResources',
    'info',
    async (req, ctx) => {
      await s.updateResources(req.pod_sandbox_id, req.overhead, req.resources, ctx.log);
      return {};
    },
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

import type { RemovePodSandboxRequest__Output } from '../generated/v1/runtime/v1/RemovePodSandboxRequest.js';
import type { RemovePodSandboxResponse } from '../generated/v1/runtime/v1/RemovePodSandboxResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** removePodSandbox answers RemovePodSandbox: the pod and its containers gone; an absent pod is not an error. */
export const removePodSandbox = (s: SandboxService) =>
  unary<RemovePodSandboxRequest__Output, RemovePodSandboxResponse>(
    'RemovePodSandbox',
    'info',
    async (req, ctx) => {
      await s.remove(req.pod_sandbox_id, ctx.signal, ctx.log);
      return {};
    },
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

import type { PodSandboxStatusRequest__Output } from '../generated/v1/runtime/v1/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse } from '../generated/v1/runtime/v1/PodSandboxStatusResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** podSandboxStatus answers PodSandboxStatus; verbose adds the infra pid and OCI spec under info["info"]. */
export const podSandboxStatus = (s: SandboxService) =>
  unary<PodSandboxStatusRequest__Output, PodSandboxStatusResponse>(
    'PodSandboxStatus',
    'trace',
    async (req) => {
      const r = await s.status(req.pod_sandbox_id, req.verbose);
      return { status: r.status, info: r.info, containers_statuses: [], timestamp: '0' } as PodSandboxStatusResponse;
    },
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

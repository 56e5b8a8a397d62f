import type { PodSandboxStatusRequest__Output } from '../generated/v1/runtime/v1/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse } from '../generated/v1/runtime/v1/PodSandboxStatusResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/**
 * podSandboxStatus answers PodSandboxStatus; verbose adds the infra pid and OCI spec under info["info"]. The
 * response also carries the statuses of the pod's containers and the time they were read (`timestamp`, taken
 * first): a kubelet with evented PLEG uses them instead of listing the containers (CRI-O does the same).
 */
export const podSandboxStatus = (s: SandboxService, c: ContainerService) =>
  unary<PodSandboxStatusRequest__Output, PodSandboxStatusResponse>(
    'PodSandboxStatus',
    'trace',
    async (req) => {
      const timestamp = String(BigInt(Date.now()) * 1_000_000n);
      const r = await s.status(req.pod_sandbox_id, req.verbose);
      const containers = await c.statusesOf(r.status.id);
      return { status: r.status, info: r.info, containers_statuses: containers, timestamp } as PodSandboxStatusResponse;
    },
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

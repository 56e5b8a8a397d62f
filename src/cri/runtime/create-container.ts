import type { CreateContainerRequest__Output } from '../generated/v1/runtime/v1/CreateContainerRequest.js';
import type { CreateContainerResponse } from '../generated/v1/runtime/v1/CreateContainerResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** createContainer answers CreateContainer: a container created (not started) in a ready pod. */
export const createContainer = (s: ContainerService) =>
  unary<CreateContainerRequest__Output, CreateContainerResponse>(
    'CreateContainer',
    'info',
    async (req, ctx) => ({ container_id: await s.create(req.pod_sandbox_id, req.config, ctx.signal, ctx.log) }),
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id, image: r.config?.image?.image }) },
  );

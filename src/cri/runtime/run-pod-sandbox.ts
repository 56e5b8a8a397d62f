import type { RunPodSandboxRequest__Output } from '../generated/v1/runtime/v1/RunPodSandboxRequest.js';
import type { RunPodSandboxResponse } from '../generated/v1/runtime/v1/RunPodSandboxResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** runPodSandbox answers RunPodSandbox: a pod with its namespaces and infra process, by id. */
export const runPodSandbox = (s: SandboxService) =>
  unary<RunPodSandboxRequest__Output, RunPodSandboxResponse>('RunPodSandbox', 'info', async (req, ctx) => ({
    pod_sandbox_id: await s.run(req.config, req.runtime_handler, ctx.signal, ctx.log),
  }));

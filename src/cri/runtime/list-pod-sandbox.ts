import type { ListPodSandboxRequest__Output } from '../generated/v1/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../generated/v1/runtime/v1/ListPodSandboxResponse.js';
import type { SandboxService } from '../../services/sandbox-service.js';
import { unary } from '../rpc.js';

/** listPodSandbox answers ListPodSandbox, filtered by id (or prefix), state and labels. */
export const listPodSandbox = (s: SandboxService) =>
  unary<ListPodSandboxRequest__Output, ListPodSandboxResponse>('ListPodSandbox', 'trace', async (req) => ({
    items: (await s.list(req.filter)),
  }));

import type { ListContainersRequest__Output } from '../generated/v1/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../generated/v1/runtime/v1/ListContainersResponse.js';
import type { ContainerService } from '../../services/container-service.js';
import { unary } from '../rpc.js';

/** listContainers answers ListContainers, filtered by id (or prefix), state, pod and labels. */
export const listContainers = (s: ContainerService) =>
  unary<ListContainersRequest__Output, ListContainersResponse>('ListContainers', 'trace', async (req) => ({
    containers: (await s.list(req.filter)),
  }));

import type { ContainerStatsRequest__Output } from '../generated/v1/runtime/v1/ContainerStatsRequest.js';
import type { ContainerStatsResponse } from '../generated/v1/runtime/v1/ContainerStatsResponse.js';
import type { ListContainerStatsRequest__Output } from '../generated/v1/runtime/v1/ListContainerStatsRequest.js';
import type { ListContainerStatsResponse } from '../generated/v1/runtime/v1/ListContainerStatsResponse.js';
import type { StatsService } from '../../services/stats-service.js';
import { unary } from '../rpc.js';

/** containerStats answers ContainerStats from the container's cgroup and writable layer. */
export const containerStats = (s: StatsService) =>
  unary<ContainerStatsRequest__Output, ContainerStatsResponse>(
    'ContainerStats',
    'trace',
    async (req) => ({ stats: (await s.containerStats(req.container_id)) }),
    { ids: (r) => ({ containerId: r.container_id }) },
  );

/** listContainerStats answers ListContainerStats, filtered by id, pod and labels. */
export const listContainerStats = (s: StatsService) =>
  unary<ListContainerStatsRequest__Output, ListContainerStatsResponse>('ListContainerStats', 'trace', async (req) => ({
    stats: (await s.listContainerStats(req.filter)),
  }));

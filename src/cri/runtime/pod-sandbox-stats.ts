import type { PodSandboxStatsRequest__Output } from '../generated/v1/runtime/v1/PodSandboxStatsRequest.js';
import type { PodSandboxStatsResponse } from '../generated/v1/runtime/v1/PodSandboxStatsResponse.js';
import type { ListPodSandboxStatsRequest__Output } from '../generated/v1/runtime/v1/ListPodSandboxStatsRequest.js';
import type { ListPodSandboxStatsResponse } from '../generated/v1/runtime/v1/ListPodSandboxStatsResponse.js';
import type { StatsService } from '../../services/stats-service.js';
import { unary } from '../rpc.js';

/** podSandboxStats answers PodSandboxStats: the pod cgroup, its containers, its network counters. */
export const podSandboxStats = (s: StatsService) =>
  unary<PodSandboxStatsRequest__Output, PodSandboxStatsResponse>(
    'PodSandboxStats',
    'trace',
    async (req) => ({ stats: (await s.podSandboxStats(req.pod_sandbox_id)) }),
    { ids: (r) => ({ podSandboxId: r.pod_sandbox_id }) },
  );

/** listPodSandboxStats answers ListPodSandboxStats, filtered by id and labels. */
export const listPodSandboxStats = (s: StatsService) =>
  unary<ListPodSandboxStatsRequest__Output, ListPodSandboxStatsResponse>('ListPodSandboxStats', 'trace', async (req) => ({
    stats: (await s.listPodSandboxStats(req.filter)),
  }));

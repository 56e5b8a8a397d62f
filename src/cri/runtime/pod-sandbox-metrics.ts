import type { ListMetricDescriptorsRequest__Output } from '../generated/v1/runtime/v1/ListMetricDescriptorsRequest.js';
import type { ListMetricDescriptorsResponse } from '../generated/v1/runtime/v1/ListMetricDescriptorsResponse.js';
import type { ListPodSandboxMetricsRequest__Output } from '../generated/v1/runtime/v1/ListPodSandboxMetricsRequest.js';
import type { ListPodSandboxMetricsResponse } from '../generated/v1/runtime/v1/ListPodSandboxMetricsResponse.js';
import type { PodMetricsService } from '../../services/pod-metrics.js';
import { unary } from '../rpc.js';

/**
 * listMetricDescriptors answers ListMetricDescriptors: the cAdvisor metrics ListPodSandboxMetrics carries, each
 * with its label keys (a kubelet with PodAndContainerStatsFromCRI asks once, then serves /metrics/cadvisor).
 */
export const listMetricDescriptors = (s: PodMetricsService) =>
  unary<ListMetricDescriptorsRequest__Output, ListMetricDescriptorsResponse>('ListMetricDescriptors', 'trace', async () => ({ descriptors: s.descriptors() }));

/** listPodSandboxMetrics answers ListPodSandboxMetrics (StreamPodSandboxMetrics streams the same answer). */
export const listPodSandboxMetrics = (s: PodMetricsService) =>
  unary<ListPodSandboxMetricsRequest__Output, ListPodSandboxMetricsResponse>('ListPodSandboxMetrics', 'trace', async () => ({ pod_metrics: await s.list() }));

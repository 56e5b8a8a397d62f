import type { Lifecycle } from '../../services/lifecycle-setup.js';
import type { AnyRpc } from '../rpc.js';
import { runPodSandbox } from './run-pod-sandbox.js';
import { stopPodSandbox } from './stop-pod-sandbox.js';
import { removePodSandbox } from './remove-pod-sandbox.js';
import { podSandboxStatus } from './pod-sandbox-status.js';
import { listPodSandbox } from './list-pod-sandbox.js';
import { createContainer } from './create-container.js';
import { startContainer } from './start-container.js';
import { stopContainer } from './stop-container.js';
import { removeContainer } from './remove-container.js';
import { containerStatus } from './container-status.js';
import { listContainers } from './list-containers.js';
import { execSync } from './exec-sync.js';
import { updateContainerResources } from './update-container-resources.js';
import { reopenContainerLog } from './reopen-container-log.js';
import { containerStats, listContainerStats } from './container-stats.js';
import { podSandboxStats, listPodSandboxStats } from './pod-sandbox-stats.js';
import { getContainerEvents } from './get-container-events.js';
import { updatePodSandboxResources } from './update-pod-sandbox-resources.js';
import { checkpointContainer } from './checkpoint-container.js';
import { listMetricDescriptors, listPodSandboxMetrics } from './pod-sandbox-metrics.js';

/** lifecycleRpcs lists the pod and container verbs. */
export function lifecycleRpcs(l: Lifecycle): AnyRpc[] {
  return [
    runPodSandbox(l.sandboxes), stopPodSandbox(l.sandboxes), removePodSandbox(l.sandboxes), podSandboxStatus(l.sandboxes, l.containers), listPodSandbox(l.sandboxes),
    createContainer(l.containers), startContainer(l.containers), stopContainer(l.containers), removeContainer(l.containers),
    containerStatus(l.containers), listContainers(l.containers), execSync(l.exec), updateContainerResources(l.containers),
    reopenContainerLog(l.containers), containerStats(l.stats), listContainerStats(l.stats), podSandboxStats(l.stats),
    listPodSandboxStats(l.stats), getContainerEvents(l.events), updatePodSandboxResources(l.sandboxes), checkpointContainer(l.checkpoints), listMetricDescriptors(l.podMetrics), listPodSandboxMetrics(l.podMetrics),
  ];
}

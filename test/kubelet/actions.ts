// What the kubelet decides from a pod's status: kuberuntime_manager.go computePodActions with podSandboxChanged,
// findNextInitContainerToRun and kubecontainer.ShouldContainerBeRestarted (pods without sidecars or ephemeral
// containers, the same in 1.22 and 1.34 for those).
import type { Container, Pod } from './pod.js';
import { findContainer, type KubeStatus, type PodStatus } from './status.js';

/** PodActions is kuberuntime_manager.go podActions. */
export interface PodActions {
  killPod: boolean;
  createSandbox: boolean;
  sandboxId: string;
  attempt: number;
  /** why names the first reason podSandboxChanged gave (the kubelet's log line). */
  why: string;
  nextInitContainer?: Container;
  containersToStart: number[];
  containersToKill: { id: string; name: string; message: string; reason: 'liveness' | 'unknown' | '' }[];
}

/**
 * podSandboxChanged mirrors kuberuntime_manager.go podSandboxChanged: a new sandbox when there is none, more than
 * one is ready, the newest is not ready, its network namespace mode is not the pod's, or it has no IP.
 */
export function podSandboxChanged(pod: Pod, status: PodStatus): { changed: boolean; attempt: number; id: string; why: string } {
  const [s] = status.sandboxes;
  if (!s) return { changed: true, attempt: 0, id: '', why: 'No sandbox for pod can be found' };
  const ready = status.sandboxes.filter((x) => x.state === 'SANDBOX_READY').length;
  const next = Number(s.metadata.attempt) + 1;
  if (ready > 1) return { changed: true, attempt: next, id: s.id, why: 'Multiple sandboxes are ready for Pod' };
  if (s.state !== 'SANDBOX_READY') return { changed: true, attempt: next, id: s.id, why: 'No ready sandbox for pod can be found' };
  const network = s.linux?.namespaces?.options?.network ?? 'POD';
  if (network !== (pod.hostNetwork ? 'NODE' : 'POD')) return { changed: true, attempt: next, id: '', why: 'Sandbox for pod has changed' };
  if (!pod.hostNetwork && s.network && !s.network.ip) return { changed: true, attempt: next, id: s.id, why: 'Sandbox for pod has no IP address' };
  return { changed: false, attempt: Number(s.metadata.attempt), id: s.id, why: '' };
}

/** isInitContainerFailed mirrors helpers.go isInitContainerFailed. */
function isInitContainerFailed(s: KubeStatus): boolean {
  return s.reason === 'OOMKilled' || (s.state === 'exited' && s.exitCode !== 0) || s.state === 'unknown';
}

/** shouldContainerBeRestarted mirrors kubecontainer.ShouldContainerBeRestarted. */
export function shouldContainerBeRestarted(c: Container, pod: Pod, status: PodStatus, deleting: boolean): boolean {
  if (deleting) return false;
  const s = findContainer(status, c.name);
  if (!s) return true;
  if (s.state === 'running') return false;
  if (s.state === 'unknown' || s.state === 'created') return true;
  if (pod.restartPolicy === 'Never') return false;
  if (pod.restartPolicy === 'OnFailure' && s.exitCode === 0) return false;
  return true;
}

/**
 * findNextInitContainerToRun mirrors kuberuntime_container.go findNextInitContainerToRun: done once a main
 * container runs or the last init container exited 0; the failed one to restart; else the next after the last
 * that succeeded.
 */
function nextInit(pod: Pod, status: PodStatus): { failed?: KubeStatus; next?: Container; done: boolean } {
  if (pod.initContainers.length === 0) return { done: true };
  if (pod.containers.some((c) => findContainer(status, c.name)?.state === 'running')) return { done: true };
  for (let i = pod.initContainers.length - 1; i >= 0; i--) {
    const c = pod.initContainers[i]!;
    const s = findContainer(status, c.name);
    if (s && isInitContainerFailed(s)) return { failed: s, next: c, done: false };
  }
  for (let i = pod.initContainers.length - 1; i >= 0; i--) {
    const s = findContainer(status, pod.initContainers[i]!.name);
    if (!s) continue;
    if (s.state === 'running') return { done: false };
    if (s.state === 'exited') return i === pod.initContainers.length - 1 ? { done: true } : { next: pod.initContainers[i + 1]!, done: false };
  }
  return { next: pod.initContainers[0]!, done: false };
}

/**
 * computePodActions mirrors kuberuntime_manager.go computePodActions: a new sandbox (and every container) when
 * podSandboxChanged says so, else the next init container, else the containers to start (restart policy) and to
 * kill (liveness failures, which also restart under Always and OnFailure).
 */
export function computePodActions(pod: Pod, status: PodStatus, liveness: Map<string, 'Success' | 'Failure'>, deleting = false): PodActions {
  const sb = podSandboxChanged(pod, status);
  const a: PodActions = { killPod: sb.changed, createSandbox: sb.changed, sandboxId: sb.id, attempt: sb.attempt, why: sb.why, containersToStart: [], containersToKill: [] };
  if (sb.changed) {
    if (pod.restartPolicy === 'Never' && sb.attempt !== 0 && status.containers.length !== 0) {
      a.createSandbox = false;
      return a;
    }
    if (pod.initContainers.length) a.nextInitContainer = pod.initContainers[0];
    else a.containersToStart = pod.containers.map((_, i) => i);
    return a;
  }
  const init = nextInit(pod, status);
  if (!init.done) {
    if (init.next) {
      if (init.failed && pod.restartPolicy === 'Never') a.killPod = true;
      else a.nextInitContainer = init.next;
    }
    return a;
  }
  let keep = 0;
  pod.containers.forEach((c, i) => {
    const s = findContainer(status, c.name);
    if (!s || s.state !== 'running') {
      if (shouldContainerBeRestarted(c, pod, status, deleting)) {
        a.containersToStart.push(i);
        if (s?.state === 'unknown') a.containersToKill.push({ id: s.id, name: c.name, message: `Container is in "unknown" state, try killing it before restart`, reason: 'unknown' });
      }
      return;
    }
    if (liveness.get(s.id) === 'Failure') {
      const restart = pod.restartPolicy !== 'Never';
      a.containersToKill.push({ id: s.id, name: c.name, message: `Container ${c.name} failed liveness probe${restart ? ', will be restarted' : ''}`, reason: 'liveness' });
      if (restart) a.containersToStart.push(i);
      return;
    }
    keep++;
  });
  if (keep === 0 && a.containersToStart.length === 0) a.killPod = true;
  return a;
}

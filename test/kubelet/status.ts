// How the kubelet reads a pod's state from the runtime: kuberuntime_manager.go GetPodStatus (sandboxes of the pod
// by label, PodSandboxStatus each; containers by label, ContainerStatus each with verbose false; NotFound between
// List and Status ignored) and kuberuntime_container.go toKubeContainerStatus/getTerminationMessage.
import { existsSync, readFileSync } from 'node:fs';
import { containerInfo, POD_UID_LABEL } from './common.js';
import { isNotFound, type KubeletCri } from './cri.js';
import { lastLogString } from './logs.js';
import type { Pod } from './pod.js';

/** KubeStatus is kubecontainer.Status of one container. */
export interface KubeStatus {
  id: string;
  name: string;
  state: 'created' | 'running' | 'exited' | 'unknown';
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  reason: string;
  message: string;
  restartCount: number;
  hash: string;
  image: string;
  imageRef: string;
  logPath: string;
  raw: Record<string, any>;
}

/** PodStatus is kubecontainer.PodStatus: sandboxes and containers newest first, the IPs of the newest ready sandbox. */
export interface PodStatus {
  sandboxes: Record<string, any>[];
  containers: KubeStatus[];
  ips: string[];
}

/** STATE is toKubeContainerState. */
const STATE: Record<string, KubeStatus['state']> = { CONTAINER_CREATED: 'created', CONTAINER_RUNNING: 'running', CONTAINER_EXITED: 'exited', CONTAINER_UNKNOWN: 'unknown' };

/** MAX_TERMINATION_MESSAGE is kubecontainer.MaxContainerTerminationMessageLength (4 KiB). */
const MAX_TERMINATION_MESSAGE = 4096;

/** terminationMessage mirrors getTerminationMessage: the host file of the mount at the message path, read through ContainerStatus.mounts. */
function terminationMessage(status: Record<string, any>, path: string, fallbackToLogs: boolean): { message: string; checkLogs: boolean } {
  if (!path) return { message: '', checkLogs: fallbackToLogs };
  const m = (status.mounts as Record<string, any>[]).find((x) => x.container_path === path);
  if (!m) return { message: '', checkLogs: fallbackToLogs };
  if (!existsSync(m.host_path)) return { message: '', checkLogs: fallbackToLogs };
  const data = readFileSync(m.host_path);
  const text = data.subarray(Math.max(0, data.length - MAX_TERMINATION_MESSAGE)).toString();
  return { message: text, checkLogs: fallbackToLogs && text.length === 0 };
}

/** toKubeStatus mirrors toKubeContainerStatus plus convertToKubeContainerStatus's termination message. */
export function toKubeStatus(status: Record<string, any>): KubeStatus {
  const info = containerInfo(status.labels, status.annotations);
  const state = STATE[status.state] ?? 'unknown';
  const s: KubeStatus = {
    id: status.id,
    name: info.containerName,
    state,
    createdAt: BigInt(status.created_at),
    startedAt: state !== 'created' ? BigInt(status.started_at) : 0n,
    finishedAt: state === 'exited' ? BigInt(status.finished_at) : 0n,
    exitCode: state === 'exited' ? Number(status.exit_code) : 0,
    reason: state === 'exited' ? status.reason : '',
    message: state === 'exited' ? status.message : '',
    restartCount: info.restartCount,
    hash: info.hash,
    image: status.image.image,
    imageRef: status.image_ref,
    logPath: status.log_path,
    raw: status,
  };
  if (state === 'exited') {
    const fallback = info.terminationMessagePolicy === 'FallbackToLogsOnError' && s.exitCode !== 0 && s.reason !== 'ContainerCannotRun';
    const t = terminationMessage(status, info.terminationMessagePath, fallback);
    const message = t.checkLogs ? lastLogString(status.log_path) : t.message;
    if (message) s.message = s.message ? `${s.message}: ${message}` : message;
  }
  return s;
}

/** getPodStatus mirrors kuberuntime_manager.go GetPodStatus. */
export async function getPodStatus(cri: KubeletCri, pod: Pod): Promise<PodStatus> {
  const items = await cri.listPodSandbox({ label_selector: { [POD_UID_LABEL]: pod.uid } });
  const ids = items.sort((a, b) => Number(BigInt(b.created_at) - BigInt(a.created_at))).map((s) => s.id as string);
  const sandboxes: Record<string, any>[] = [];
  let ips: string[] = [];
  for (const [i, id] of ids.entries()) {
    let st: Record<string, any>;
    try {
      st = await cri.podSandboxStatus(id);
    } catch (e) {
      if (isNotFound(e)) continue;
      throw e;
    }
    sandboxes.push(st);
    if (i === 0 && st.state === 'SANDBOX_READY' && !pod.hostNetwork) {
      ips = [st.network?.ip, ...(st.network?.additional_ips ?? []).map((x: { ip: string }) => x.ip)].filter(Boolean);
    }
  }
  const list = await cri.listContainers({ label_selector: { [POD_UID_LABEL]: pod.uid } });
  const containers: KubeStatus[] = [];
  for (const c of list) {
    let st: Record<string, any>;
    try {
      st = await cri.containerStatus(c.id);
    } catch (e) {
      if (isNotFound(e)) continue;
      throw e;
    }
    containers.push(toKubeStatus(st));
  }
  containers.sort((a, b) => (a.createdAt === b.createdAt ? 0 : a.createdAt > b.createdAt ? -1 : 1));
  return { sandboxes, containers, ips };
}

/** findContainer mirrors PodStatus.FindContainerStatusByName: the newest container of that name. */
export function findContainer(status: PodStatus, name: string): KubeStatus | undefined {
  return status.containers.find((c) => c.name === name);
}

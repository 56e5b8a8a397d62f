/**
 * Container model.
 *
 * ```
 *               CreateContainer        StartContainer                               process exits / StopContainer
 *   (none) ──▶ creating ──(bundle)──▶ CREATED ──(conmon: runc create; runc start)──▶ RUNNING ───────────▶ EXITED
 *                 │ failure: undo          │ start fails (reason StartError, exit code 128)              │
 *                 └──▶ (none)              └──────────────────────────────────────────────▶ EXITED      │ RemoveContainer
 *   any state ──(recovery cannot account for it)──▶ UNKNOWN ─────────────────────────────────────────────▶ (none)
 * ```
 *
 * RemoveContainer answers once the record is set aside as a tombstone (`removing`, durably; the name is free and
 * the container gone for the CRI); the writable layer, bundle, runtime leftovers and monitor cgroup go after the answer, and then the
 * record. Recovery finishes any removal a crash cut short.
 */
import type { ContainerConfig, ContainerFilter, ContainerState, ContainerStatsFilter } from './cri-types.js';
import { matchesLabels, matchesPrefix } from './ids.js';

/** ContainerRecord is what fune keeps of a container. Timestamps are nanoseconds as decimal strings ("0" = unset). */
export interface ContainerRecord {
  id: string;
  sandboxId: string;
  /** name is the reserved `k8s_…` name. */
  name: string;
  config: ContainerConfig;
  /** image is the reference the CRI config named; imageId the resolved image id; imageRef its digest reference. */
  image: string;
  imageId: string;
  imageRef: string;
  /** phase: 'creating' until CreateContainer wrote it, 'removing' once RemoveContainer answered (a tombstone). */
  phase: 'creating' | 'created' | 'removing';
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  /** logPath is the full host path of the CRI log ('' when the pod or container gives none). */
  logPath: string;
  bundle: string;
  rootfs: string;
  /** upperDir is the writable layer of the rootfs (for writable-layer stats), when the image side says. */
  upperDir?: string;
  /** monitorCgroup is the cgroup path conmon was moved into (`<pod cgroup>/conmon-<id>`, or its `fune-conmon-<id>.scope` with systemd); removed with the container. */
  monitorCgroup?: string;
  /** pidStartTime is the start time of `pid` (/proc/<pid>/stat field 22), so that the pid can be signalled directly without fear of reuse. */
  pidStartTime?: string;
  /** stopSignal is the image's StopSignal (or the CRI config's), SIGTERM when neither says. */
  stopSignal: number;
  /** mounts are the CRI mounts with host paths resolved, for ContainerStatus. */
  mounts: ContainerConfig['mounts'];
  /**
   * user is the identity the container's process runs with, as resolved at create (uid, primary gid, and every
   * group id it holds, the primary one included), for ContainerStatus.user. Absent in records of older fune.
   */
  user?: { uid: number; gid: number; groups: number[] };
  /** imageVolumes are the images mounted for the container's image mounts (CRI Mount.image), pinned while it exists. */
  imageVolumes?: { imageId: string; target: string }[];
}

/** canTransitionContainer tells whether a container may go from one state to another. */
export function canTransitionContainer(from: ContainerState, to: ContainerState): boolean {
  if (from === to) return true;
  switch (from) {
    case 'CONTAINER_CREATED':
      return to === 'CONTAINER_RUNNING' || to === 'CONTAINER_EXITED' || to === 'CONTAINER_UNKNOWN';
    case 'CONTAINER_RUNNING':
      return to === 'CONTAINER_EXITED' || to === 'CONTAINER_UNKNOWN';
    case 'CONTAINER_UNKNOWN':
      return to === 'CONTAINER_EXITED' || to === 'CONTAINER_RUNNING';
    default:
      return false;
  }
}

/** exitReason is the ContainerStatus reason of an exited container. */
export function exitReason(exitCode: number, oomKilled: boolean): string {
  if (oomKilled) return 'OOMKilled';
  return exitCode === 0 ? 'Completed' : 'Error';
}

/** filterContainers applies a ListContainers filter: id (or prefix), state, pod, labels. */
export function filterContainers<T extends Pick<ContainerRecord, 'id' | 'state' | 'sandboxId' | 'config'>>(all: T[], f: ContainerFilter | null | undefined): T[] {
  if (!f) return all;
  return all.filter(
    (c) =>
      matchesPrefix(c.id, f.id) &&
      (!f.state || c.state === f.state.state) &&
      matchesPrefix(c.sandboxId, f.pod_sandbox_id) &&
      matchesLabels(c.config.labels, f.label_selector),
  );
}

/** filterContainerStats applies a ListContainerStats filter: id (or prefix), pod, labels. */
export function filterContainerStats<T extends Pick<ContainerRecord, 'id' | 'sandboxId' | 'config'>>(all: T[], f: ContainerStatsFilter | null | undefined): T[] {
  if (!f) return all;
  return all.filter((c) => matchesPrefix(c.id, f.id) && matchesPrefix(c.sandboxId, f.pod_sandbox_id) && matchesLabels(c.config.labels, f.label_selector));
}

/** SIGNALS maps signal names to numbers (Linux x86/arm), for stop signals given by name or number. */
const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCLD: 17,
  SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26,
  SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31, SIGRTMIN: 34, SIGRTMAX: 64,
};

/**
 * stopSignalOf gives the signal number StopContainer sends first: the CRI config's stop_signal, else the image's
 * StopSignal (a name, with or without SIG, or a number), else SIGTERM. An unknown name falls back to SIGTERM.
 */
export function stopSignalOf(criSignal: string | undefined, imageSignal: string | undefined): number {
  for (const s of [criSignal && criSignal !== 'RUNTIME_DEFAULT' ? criSignal : '', imageSignal ?? '']) {
    if (!s) continue;
    if (/^\d+$/.test(s)) return Number(s);
    const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    const rt = /^SIGRTMINPLUS(\d+)$/.exec(name) ?? /^SIGRTMIN\+(\d+)$/.exec(name);
    if (rt) return 34 + Number(rt[1]);
    const rtm = /^SIGRTMAXMINUS(\d+)$/.exec(name) ?? /^SIGRTMAX-(\d+)$/.exec(name);
    if (rtm) return 64 - Number(rtm[1]);
    if (SIGNALS[name] !== undefined) return SIGNALS[name];
  }
  return 15;
}

// A kubelet's runtime manager, in the order its Go code does things: kuberuntime_manager.go SyncPod and KillPod,
// kuberuntime_container.go startContainer/killContainer/removeContainer, images/image_manager.go
// EnsureImageExists, with kubelet.go's syncPod around them (pod data dirs, volumes, the pod cgroup). It speaks CRI
// through KubeletCri as one of the versions in v1_22.ts / v1_34.ts, to a real runtime.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { computePodActions, type PodActions } from './actions.js';
import { buildPodLogsDirectory, containerInfo, podDir, setUpVolumes } from './common.js';
import { isNotFound, KubeletCri } from './cri.js';
import { ensurePodCgroup, ensureQoS } from './node-cgroups.js';
import type { KubeletNode } from './node.js';
import type { Container, Pod } from './pod.js';
import { findContainer, getPodStatus, type PodStatus } from './status.js';
import type { ImageUser, KubeletVersion } from './version.js';

/** MIN_GRACE is kuberuntime minimumGracePeriodInSeconds. */
const MIN_GRACE = 2;

/** SyncResult is what one SyncPod did. */
export interface SyncResult {
  actions: PodActions;
  sandboxId: string;
  started: { name: string; id: string }[];
  killed: string[];
}

/** Kubelet is one kubelet of a version on a node, talking to one runtime socket. */
export class Kubelet {
  readonly cri: KubeletCri;
  /** liveness holds the prober's liveness results by container id (proberesults.Manager). */
  readonly liveness = new Map<string, 'Success' | 'Failure'>();
  /** manageCgroups: the kubelet makes QoS and pod cgroups itself (--cgroups-per-qos, the default). */
  manageCgroups = true;
  /** legacyLogsDir stands in for /var/log/containers (the legacy log symlinks). */
  readonly legacyLogsDir: string;
  private backoff = new Map<string, { ms: number; last: number }>();

  constructor(readonly v: KubeletVersion, readonly node: KubeletNode, socket: string) {
    this.cri = new KubeletCri(v, socket);
    this.legacyLogsDir = join(dirname(node.podLogsDir), 'containers');
    mkdirSync(this.legacyLogsDir, { recursive: true });
  }

  close(): void {
    this.cri.close();
  }

  /** podStatus is GetPodStatus, the PLEG cache's source. */
  podStatus(pod: Pod): Promise<PodStatus> {
    return getPodStatus(this.cri, pod);
  }

  /**
   * syncPod is kubelet.go syncPod then kuberuntime_manager.go SyncPod: data dirs, volumes and the pod cgroup; the
   * actions computed from the runtime's status; kill what must go; a sandbox when needed (then PodSandboxStatus for
   * its IPs); the next init container, or the containers to start.
   */
  async syncPod(pod: Pod): Promise<SyncResult> {
    mkdirSync(join(podDir(this.node, pod), 'volumes'), { recursive: true, mode: 0o750 });
    setUpVolumes(this.node, pod);
    if (this.manageCgroups) {
      ensureQoS(this.node);
      ensurePodCgroup(this.node, pod);
    }
    const status = await this.podStatus(pod);
    const actions = computePodActions(pod, status, this.liveness, pod.deletionGracePeriodSeconds !== undefined);
    const res: SyncResult = { actions, sandboxId: actions.sandboxId, started: [], killed: [] };
    if (actions.killPod) {
      await this.killPod(pod, status);
      res.killed.push(...status.containers.filter((c) => c.state === 'running').map((c) => c.id));
    } else {
      for (const k of actions.containersToKill) {
        await this.killContainer(pod, k.id, k.name, k.reason);
        res.killed.push(k.id);
      }
    }
    await this.pruneInitContainers(pod, status);
    let ips = status.ips;
    if (actions.createSandbox) {
      const config = this.v.sandboxConfig(this.node, pod, actions.attempt);
      res.sandboxId = await this.cri.runPodSandbox(config);
      const st = await this.cri.podSandboxStatus(res.sandboxId);
      if (!pod.hostNetwork) ips = [st.network?.ip].filter(Boolean);
    }
    if (!actions.createSandbox && !actions.nextInitContainer && actions.containersToStart.length === 0) return res;
    const sandboxConfig = this.v.sandboxConfig(this.node, pod, actions.attempt);
    if (actions.nextInitContainer) {
      const c = actions.nextInitContainer;
      res.started.push({ name: c.name, id: await this.startContainer(pod, res.sandboxId, sandboxConfig, c, status, ips) });
      return res;
    }
    for (const i of actions.containersToStart) {
      const c = pod.containers[i]!;
      if (this.inBackOff(pod, c, status)) continue;
      res.started.push({ name: c.name, id: await this.startContainer(pod, res.sandboxId, sandboxConfig, c, status, ips) });
    }
    return res;
  }

  /** pruneInitContainers is pruneInitContainersBeforeStart: keep the newest exited instance of each init container. */
  private async pruneInitContainers(pod: Pod, status: PodStatus): Promise<void> {
    for (const ic of pod.initContainers) {
      const old = status.containers.filter((c) => c.name === ic.name && (c.state === 'exited' || c.state === 'unknown')).slice(1);
      for (const c of old) await this.removeContainer(c.id);
    }
  }

  /** inBackOff is doBackOff: CrashLoopBackOff from the latest exit, 10 s doubling to 5 min (flowcontrol.Backoff). */
  private inBackOff(pod: Pod, c: Container, status: PodStatus): boolean {
    const s = findContainer(status, c.name);
    if (!s || s.state !== 'exited') return false;
    const key = `${pod.name}_${pod.namespace}_${pod.uid}_${c.name}`;
    const finished = Number(s.finishedAt / 1_000_000n);
    const e = this.backoff.get(key);
    if (e && Date.now() - finished < e.ms) return true;
    this.backoff.set(key, { ms: e ? Math.min(e.ms * 2, 300_000) : 10_000, last: Date.now() });
    return false;
  }

  /**
   * ensureImage is image_manager.go EnsureImageExists with IfNotPresent: ImageStatus of the spec (GetImageRef gives
   * its id), PullImage with the pod's sandbox config when it is absent (the answer's image_ref is then the ref).
   */
  async ensureImage(pod: Pod, c: Container, sandboxConfig: object): Promise<string> {
    const spec = this.v.imageSpec(pod, c);
    const present = await this.cri.imageStatus(spec);
    if (present && c.imagePullPolicy !== 'Always') return present.id;
    if (c.imagePullPolicy === 'Never') throw new Error(`ErrImageNeverPull: ${c.image}`);
    return this.cri.pullImage(spec, sandboxConfig);
  }

  /** imageUser is helpers.go getImageUser: ImageStatus of the container's image, its uid or user name, else root. */
  async imageUser(c: Container): Promise<ImageUser> {
    const st = await this.cri.imageStatus({ image: c.image });
    if (st?.uid) return { uid: Number(st.uid.value), username: '' };
    if (st?.username) return { username: st.username };
    return { uid: 0, username: '' };
  }

  /**
   * startContainer is kuberuntime_container.go startContainer: the image, the restart count (the newest status's
   * plus one, else from the log directory), the config, CreateContainer with the sandbox config, StartContainer,
   * the legacy log symlink when the log file is there, then the postStart hook through ExecSync (no timeout).
   */
  async startContainer(pod: Pod, sandboxId: string, sandboxConfig: Record<string, any>, c: Container, status: PodStatus, podIPs: string[]): Promise<string> {
    const imageRef = await this.ensureImage(pod, c, sandboxConfig);
    const prev = findContainer(status, c.name);
    const restartCount = prev ? prev.restartCount + 1 : restartCountFromLogDir(join(buildPodLogsDirectory(this.node, pod), c.name));
    const user = await this.imageUser(c);
    const { config } = this.v.containerConfig(this.node, pod, c, { restartCount, imageRef, podIPs, user });
    const id = await this.cri.createContainer(sandboxId, config, sandboxConfig);
    await this.cri.startContainer(id);
    const log = join(sandboxConfig.log_directory as string, config.log_path as string);
    if (existsSync(log)) symlinkSync(log, this.legacySymlink(id, c.name, pod));
    if (c.lifecycle?.postStart) {
      const r = await this.cri.execSync(id, c.lifecycle.postStart.exec.command, 0);
      if (Number(r.exit_code) !== 0) {
        await this.killContainer(pod, id, c.name, '');
        throw new Error(`PostStartHookError: exited with ${r.exit_code}`);
      }
    }
    return id;
  }

  /** legacySymlink is kuberuntime legacyLogSymlink: /var/log/containers/<pod>_<ns>_<container>-<id>.log. */
  legacySymlink(id: string, name: string, pod: { name: string; namespace: string }): string {
    return join(this.legacyLogsDir, `${pod.name}_${pod.namespace}_${name}-${id}.log`.slice(0, 251));
  }

  /**
   * killContainer is kuberuntime_container.go killContainer: the grace period (deletion's, else the pod's, a
   * liveness kill the probe's where the version honours it), at least 2 s, then StopContainer; NotFound is success.
   */
  async killContainer(pod: Pod, id: string, name: string, reason: 'liveness' | 'unknown' | '', override?: number): Promise<number> {
    const c = [...pod.containers, ...pod.initContainers].find((x) => x.name === name);
    let grace = pod.deletionGracePeriodSeconds ?? (reason === 'liveness' && c ? this.v.probeGracePeriod(pod, c) : pod.terminationGracePeriodSeconds);
    if (grace < MIN_GRACE) grace = MIN_GRACE;
    if (override !== undefined) grace = override;
    try {
      await this.cri.stopContainer(id, grace);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.liveness.delete(id);
    return grace;
  }

  /**
   * removeContainer is kuberuntime_container.go removeContainer: the log manager's Clean (ContainerStatus, then every
   * file matching <log_path>*), the legacy symlink (ContainerStatus again for the labels), then RemoveContainer.
   */
  async removeContainer(id: string): Promise<void> {
    const st = await this.cri.containerStatus(id);
    const dir = dirname(st.log_path as string);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(basename(st.log_path as string))) : [];
    for (const f of files) rmSync(join(dir, f), { force: true });
    const again = await this.cri.containerStatus(id);
    const info = containerInfo(again.labels, again.annotations);
    rmSync(this.legacySymlink(id, info.containerName, { name: info.podName, namespace: info.podNamespace }), { force: true });
    await this.cri.removeContainer(id);
  }

  /**
   * killPod is kuberuntime_manager.go killPodWithSyncResult: every running container stopped in parallel with the
   * pod's grace period, then StopPodSandbox of each sandbox (NotFound is success).
   */
  async killPod(pod: Pod, status: PodStatus, override?: number): Promise<void> {
    const running = status.containers.filter((c) => c.state === 'running');
    await Promise.all(running.map((c) => this.killContainer(pod, c.id, c.name, '', override)));
    for (const s of status.sandboxes) {
      try {
        await this.cri.stopPodSandbox(s.id);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }
}

/**
 * restartCountFromLogDir is kuberuntime_container.go calcRestartCountByLogDir: one more than the highest
 * `<n>.log` in the container's log directory (what a runtime that lost its state leaves behind), else 0.
 */
export function restartCountFromLogDir(dir: string): number {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return 0;
  let count = 0;
  for (const f of readdirSync(dir)) {
    const m = /^(\d+)\.log(\..*)?/.exec(f);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}

// The kubelet's container garbage collector (kuberuntime/kuberuntime_gc.go GarbageCollect): dead containers beyond
// MaxPerPodContainer per (pod, container name) removed oldest first, every one of a deleted pod; sandboxes that are
// neither ready nor hold a container removed (all of a deleted pod, all but the newest otherwise), each stopped
// first; then the log directories of deleted pods and dead legacy log symlinks.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { containerInfo } from './common.js';
import type { Kubelet } from './kubelet.js';

/** GCPolicy is kubecontainer.GCPolicy (the kubelet's defaults: MinAge 0, MaxPerPodContainer 1, MaxContainers -1). */
export interface GCPolicy {
  minAgeMs: number;
  maxPerPodContainer: number;
}

/** DEFAULT_GC is the kubelet's default policy. */
export const DEFAULT_GC: GCPolicy = { minAgeMs: 0, maxPerPodContainer: 1 };

/** GCResult names what one collection removed. */
export interface GCResult {
  containers: string[];
  sandboxes: string[];
  logDirs: string[];
}

const newestFirst = (a: { created: bigint }, b: { created: bigint }) => (a.created === b.created ? 0 : a.created > b.created ? -1 : 1);

/** garbageCollect is GarbageCollect with all sources ready; `deleted` holds the uids of pods gone from the API. */
export async function garbageCollect(k: Kubelet, policy: GCPolicy, deleted: Set<string>): Promise<GCResult> {
  const out: GCResult = { containers: [], sandboxes: [], logDirs: [] };
  // evictContainers: evictable units of non-running containers older than MinAge.
  const now = BigInt(Date.now()) * 1_000_000n;
  const units = new Map<string, { id: string; created: bigint; uid: string }[]>();
  for (const c of await k.cri.listContainers({})) {
    if (c.state === 'CONTAINER_RUNNING') continue;
    const created = BigInt(c.created_at);
    if (now - created < BigInt(policy.minAgeMs) * 1_000_000n) continue;
    const info = containerInfo(c.labels, c.annotations);
    const key = `${info.podUid}/${info.containerName}`;
    units.set(key, [...(units.get(key) ?? []), { id: c.id, created, uid: info.podUid }]);
  }
  for (const unit of units.values()) {
    unit.sort(newestFirst);
    const keep = deleted.has(unit[0]!.uid) ? 0 : Math.max(0, policy.maxPerPodContainer);
    for (const c of unit.slice(keep).reverse()) {
      await k.removeContainer(c.id);
      out.containers.push(c.id);
    }
  }
  // evictSandboxes: a sandbox is active while ready or while it holds a container.
  const holders = new Set((await k.cri.listContainers({})).map((c) => c.pod_sandbox_id as string));
  const byPod = new Map<string, { id: string; created: bigint; active: boolean }[]>();
  for (const s of await k.cri.listPodSandbox(null)) {
    const uid = s.metadata.uid as string;
    byPod.set(uid, [...(byPod.get(uid) ?? []), { id: s.id, created: BigInt(s.created_at), active: s.state === 'SANDBOX_READY' || holders.has(s.id) }]);
  }
  for (const [uid, list] of byPod) {
    list.sort(newestFirst);
    const remove = deleted.has(uid) ? list : list.slice(1);
    for (const s of [...remove].reverse()) {
      if (s.active) continue;
      // "In normal cases, kubelet should've already called StopPodSandbox before GC kicks in."
      await k.cri.stopPodSandbox(s.id);
      await k.cri.removePodSandbox(s.id);
      out.sandboxes.push(s.id);
    }
  }
  // evictPodLogsDirectories: <namespace>_<name>_<uid> of deleted pods, then dead legacy symlinks.
  for (const name of existsSync(k.node.podLogsDir) ? readdirSync(k.node.podLogsDir) : []) {
    const uid = name.split('_').at(-1) ?? '';
    if (!deleted.has(uid)) continue;
    rmSync(join(k.node.podLogsDir, name), { recursive: true, force: true });
    out.logDirs.push(name);
  }
  for (const link of readdirSync(k.legacyLogsDir)) {
    const p = join(k.legacyLogsDir, link);
    if (!existsSync(p)) rmSync(p, { force: true });
  }
  return out;
}

// The kubelet's loop around SyncPod, compressed in time: sync, let PLEG see what changed (the kubelet relists every
// second; the suite polls at 200 ms to keep the run short), sync again, until the pod is where the kubelet wants it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPodLogsDirectory } from '../../kubelet/common.js';
import { DEFAULT_GC, garbageCollect, type GCResult } from '../../kubelet/gc.js';
import type { Kubelet, SyncResult } from '../../kubelet/kubelet.js';
import { readLogs } from '../../kubelet/logs.js';
import { destroyPodCgroup } from '../../kubelet/node-cgroups.js';
import type { Pod } from '../../kubelet/pod.js';
import { findContainer, type PodStatus } from '../../kubelet/status.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POLITE is a loop that ends on TERM with a line in its log (sh as PID 1 ignores TERM without a trap). */
export const POLITE = (first: string) => `echo ${first}; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done`;

/** until polls `probe` until `done` holds for its value (or throws after `ms`). */
export async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)).slice(0, 2000)}`);
    await sleep(200);
  }
}

/** StartedPod is a pod the kubelet brought up: its sandbox and every sync it took. */
export interface StartedPod {
  pod: Pod;
  sandboxId: string;
  syncs: SyncResult[];
  status: PodStatus;
}

/**
 * startPod syncs `pod` until every main container runs (init containers one per sync, each waited for to exit, as
 * the kubelet's next sync comes from the PLEG event of its exit).
 */
export async function startPod(k: Kubelet, pod: Pod): Promise<StartedPod> {
  const syncs: SyncResult[] = [];
  let sandboxId = '';
  for (let i = 0; i < pod.initContainers.length + 2; i++) {
    const r = await k.syncPod(pod);
    syncs.push(r);
    sandboxId ||= r.sandboxId;
    const init = r.started.find((s) => pod.initContainers.some((c) => c.name === s.name));
    if (init) {
      await until(() => k.podStatus(pod), (st) => st.containers.find((c) => c.id === init.id)?.state === 'exited', `init container ${init.name} to exit`);
      continue;
    }
    const status = await k.podStatus(pod);
    if (pod.containers.every((c) => findContainer(status, c.name)?.state === 'running')) return { pod, sandboxId, syncs, status };
  }
  throw new Error(`pod ${pod.name} did not start: ${JSON.stringify(syncs.map((s) => s.actions))}`);
}

/** exec runs a command in a container through ExecSync (as `kubectl exec` would not: this is the suite's eye). */
export async function exec(k: Kubelet, id: string, script: string): Promise<{ out: string; err: string; code: number }> {
  const r = await k.cri.execSync(id, ['sh', '-c', script], 30);
  return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: Number(r.exit_code) };
}

/** containerLog reads a container's CRI log as the kubelet does; every line must parse (a skipped line is a lost line). */
export function containerLog(k: Kubelet, pod: Pod, name: string, attempt: number): { text: string; stamps: bigint[] } {
  const path = join(buildPodLogsDirectory(k.node, pod), name, `${attempt}.log`);
  const r = readLogs(path);
  if (r.skipped.length) throw new Error(`the kubelet would skip ${r.skipped.length} lines of ${path}: ${JSON.stringify(r.skipped.slice(0, 3))}`);
  return { text: r.text, stamps: r.messages.map((m) => m.nanos) };
}

/** pidOf gives a running container's init pid, from its cgroup's procs (no verbose status: the kubelet never asks). */
export function cgroupProcs(dir: string): number[] {
  return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/**
 * deletePod is the kubelet's deletion of a pod from the API: syncTerminatingPod's killPod with the deletion grace
 * period, then the container GC once the pod is gone (its containers, its sandboxes stopped again and removed, its
 * log directory), then the pod cgroup's Destroy, which must find no process left.
 */
export async function deletePod(k: Kubelet, pod: Pod, grace = 2): Promise<{ gc: GCResult; leftover: number }> {
  pod.deletionGracePeriodSeconds = grace;
  await k.killPod(pod, await k.podStatus(pod));
  const gc = await garbageCollect(k, DEFAULT_GC, new Set([pod.uid]));
  return { gc, leftover: destroyPodCgroup(k.node, pod).leftover.length };
}

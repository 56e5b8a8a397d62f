import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerRecord } from '../domain/container.js';
import { errorMessage } from '../errors/index.js';
import { processAlive } from '../runtime/proc.js';
import { unmount } from '../runtime/mounts.js';
import type { ContainerService } from './container-service.js';
import type { LifecycleDeps } from './lifecycle-deps.js';
import type { SandboxService } from './sandbox-service.js';

/**
 * recover rebuilds the lifecycle's state at start-up, before fune serves: it loads every record, removes what
 * half-done creations left (records still `creating`), reads the exit files of containers that ended while fune
 * was down, keeps the ones conmon still holds, marks those it cannot account for UNKNOWN, marks pods whose infra
 * process is gone NOTREADY, finishes removals that answered before a crash (records still `removing`), and deletes
 * runc containers, bundles and pod directories no record owns.
 */
export async function recover(d: LifecycleDeps, sandboxes: SandboxService, containers: ContainerService): Promise<void> {
  const reg = d.registry;
  const log = d.log;
  const [sb, ct] = await Promise.all([reg.sandboxStore.loadAll(), reg.containerStore.loadAll()]);
  for (const b of [...sb.broken, ...ct.broken]) log.warn({ id: b.id, reason: b.reason }, 'ignoring an unreadable record');
  for (const { id, value } of sb.records) {
    reg.sandboxes.set(id, value);
    reg.sandboxNames.reserve(value.name, id);
  }
  // Records set aside by RemoveContainer (and records of an earlier fune that say `removing`): removals to finish.
  for (const { id, value } of ct.tombstones) reg.containers.set(id, { ...value, phase: 'removing' });
  for (const { id, value } of ct.records) {
    reg.containers.set(id, value);
    // A removal that answered holds no name: a container of the same name may have been created since.
    if (value.phase === 'removing') continue;
    try {
      reg.containerNames.reserve(value.name, id);
    } catch (e) {
      log.warn({ containerId: id, err: e }, 'duplicate container name in records');
    }
  }
  const step = async (what: string, id: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      log.warn({ id, err, what }, `recovery: ${what} failed: ${errorMessage(err)}`);
    }
  };
  // Half-done creations, removals that answered before a crash, and containers whose pod is gone.
  for (const c of [...reg.containers.values()]) {
    if (c.phase === 'removing') {
      log.info({ containerId: c.id }, 'recovery: finishing the removal of a container');
      await step('container removal', c.id, () => containers.resumeRemoval(c));
    } else if (c.phase === 'creating' || !reg.sandboxes.has(c.sandboxId)) {
      log.info({ containerId: c.id }, 'recovery: removing a half-created or orphaned container');
      await step('container cleanup', c.id, () => containers.cleanup(c));
    }
  }
  for (const s of [...reg.sandboxes.values()]) {
    if (s.phase === 'creating') {
      log.info({ podSandboxId: s.id }, 'recovery: removing a half-created pod sandbox');
      await step('pod cleanup', s.id, () => sandboxes.cleanup(s));
    }
  }
  // Containers: exits that happened while down, live ones, unaccountable ones.
  await Promise.all([...reg.containers.values()].map((c) => step('container state', c.id, () => reconcile(d, containers, c))));
  // Pods: NOTREADY when the infra process is gone.
  for (const s of reg.sandboxes.values()) {
    if (s.state === 'SANDBOX_READY' && !(await processAlive(s.infraPid, s.infraStartTime))) {
      log.info({ podSandboxId: s.id }, 'recovery: infra process gone; pod is NOTREADY');
      await step('pod state', s.id, () => reg.saveSandbox({ ...s, state: 'SANDBOX_NOTREADY' }));
    }
  }
  await step('network recovery', '', async () => d.network?.recover?.(reg.sandboxes.keys()));
  await step('orphan sweep', '', () => sweepOrphans(d));
  log.info({ pods: reg.sandboxes.size, containers: reg.containers.size }, 'recovery done');
}

async function reconcile(d: LifecycleDeps, containers: ContainerService, c: ContainerRecord): Promise<void> {
  // A removal recovery could not finish stays a tombstone (hidden from the CRI), tried again at the next start.
  if (c.state === 'CONTAINER_EXITED' || c.phase === 'removing') return;
  const after = await containers.applyExit(c);
  if (after.state === 'CONTAINER_EXITED') {
    d.log.info({ containerId: c.id, exitCode: after.exitCode }, 'recovery: container exited while fune was down');
    return;
  }
  if (after.state === 'CONTAINER_CREATED' && after.pid === 0) {
    // Created but never started (or its start was cut short): no process to account for.
    await containers.recoverUnstarted(after);
    return;
  }
  const st = await d.runc.state(c.id);
  const monitor = await d.conmon.monitorPid(c.bundle);
  const held = st && (st.status === 'running' || st.status === 'created') && monitor > 0 && (await processAlive(monitor));
  if (held) {
    const state = st.status === 'running' ? 'CONTAINER_RUNNING' : 'CONTAINER_CREATED';
    if (state !== c.state) await d.registry.saveContainer({ ...c, state });
    // Watched for OOM kills again; a kill while fune was down is seen at once (the cgroup's count is kept).
    await containers.watchOom(c);
    return;
  }
  d.log.warn({ containerId: c.id, runc: st?.status ?? 'absent' }, 'recovery: container cannot be accounted for; marking it UNKNOWN');
  await d.registry.saveContainer({ ...c, state: 'CONTAINER_UNKNOWN', message: `state lost while fune was down (runc: ${st?.status ?? 'absent'})` });
}

async function sweepOrphans(d: LifecycleDeps): Promise<void> {
  const reg = d.registry;
  const known = new Set([...reg.sandboxes.keys(), ...reg.containers.keys()]);
  for (const r of await d.runc.list().catch(() => [])) {
    if (!known.has(r.id)) {
      d.log.info({ id: r.id }, 'recovery: deleting a runc container no record owns');
      await d.runc.delete(r.id, true).catch(() => undefined);
    }
  }
  for (const dir of [d.podsDir, d.bundlesDir]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (known.has(name)) continue;
      // Never rm -rf through a mount: unmount what an orphan may still have mounted first.
      if (d.images) await d.images.unmountRootfs(join(dir, name, 'rootfs')).catch(() => undefined);
      // and the image volumes a half-made container mounted under volumes/ (numbered from 0).
      for (const v of await readdir(join(dir, name, 'volumes')).catch(() => [] as string[])) await d.images?.unmountRootfs(join(dir, name, 'volumes', v)).catch(() => undefined);
      await unmount(d.runner, join(dir, name, 'shm')).catch(() => undefined);
      await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
  // The user namespaces (pins and own directories) of pods no record owns: a crash during RunPodSandbox.
  for (const id of (await d.userns?.list()) ?? []) {
    if (reg.sandboxes.has(id)) continue;
    d.log.info({ podSandboxId: id }, 'recovery: removing the user namespace of an unknown pod');
    await d.userns?.remove(id).catch((err: unknown) => d.log.warn({ err, podSandboxId: id }, 'could not remove the user namespace of an unknown pod'));
  }
  // A container's writable layer is prepared before its record is first written (CreateContainer persists the
  // record once, at the end): a crash in between leaves a layer no record owns. Its mount went with the bundle.
  for (const owner of d.images?.rootfsOwners() ?? []) {
    if (known.has(owner)) continue;
    d.log.info({ id: owner }, 'recovery: removing a writable layer no record owns');
    await d.images?.removeRootfs(owner).catch(() => undefined);
  }
}

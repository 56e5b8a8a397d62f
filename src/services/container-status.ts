import type { ContainerRecord } from '../domain/container.js';

/** containerStatusOf builds a CRI ContainerStatus (plain object) of a record. */
export function containerStatusOf(c: ContainerRecord): Record<string, unknown> & { id: string } {
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: c.state,
    created_at: c.createdAt,
    started_at: c.startedAt,
    finished_at: c.finishedAt,
    exit_code: c.exitCode,
    image: imageSpecOf(c),
    image_ref: c.imageRef,
    image_id: c.imageId,
    reason: c.reason,
    message: c.message,
    labels: c.config.labels ?? {},
    annotations: c.config.annotations ?? {},
    mounts: c.mounts,
    log_path: c.logPath,
    resources: c.config.linux?.resources ? { linux: c.config.linux.resources, windows: null } : null,
    user: c.user ? { linux: { uid: String(c.user.uid), gid: String(c.user.gid), supplemental_groups: c.user.groups.map(String) } } : null,
  };
}

/** imageSpecOf gives the CRI ImageSpec a container was created from, as Status and List report it. */
function imageSpecOf(c: ContainerRecord): Record<string, unknown> {
  return { image: c.image, annotations: c.config.image?.annotations ?? {}, user_specified_image: c.image, runtime_handler: '' };
}

/**
 * containerListItemOf builds a CRI Container (ListContainers entry) of a record. Its image_ref is the image id, as
 * containerd gives it there (ContainerStatus keeps the repo digest): kubelets before 1.30 take a listed container's
 * image from image_ref (v1alpha2 has no image_id) and their image GC keeps only the ListImages ids it finds so.
 */
export function containerListItemOf(c: ContainerRecord): Record<string, unknown> {
  return {
    id: c.id,
    pod_sandbox_id: c.sandboxId,
    metadata: c.config.metadata,
    image: imageSpecOf(c),
    image_ref: c.imageId,
    image_id: c.imageId,
    state: c.state,
    created_at: c.createdAt,
    labels: c.config.labels ?? {},
    annotations: c.config.annotations ?? {},
  };
}

/**
 * containerKey names what of a record a state change sets (state, exit code, times, reason, message, pid): with the
 * record object itself, it tells a cached ContainerStatus or ListContainers entry current (see cri/entry-cache.ts).
 */
export function containerKey(c: ContainerRecord): string {
  return `${c.state} ${c.exitCode} ${c.pid} ${c.startedAt} ${c.finishedAt} ${c.reason}\n${c.message}`;
}

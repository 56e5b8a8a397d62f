import type { Logger } from '../log/index.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import type { Clock } from '../sys/clock.js';
import { containerStatusOf } from './container-status.js';
import type { ContainerEventType, EventsService } from './events-service.js';
import { nowNs } from './lifecycle-deps.js';
import type { Registry } from './registry.js';

/** PodStatusOf builds the CRI PodSandboxStatus of a pod record (SandboxService.statusOf). */
export type PodStatusOf = (rec: SandboxRecord) => Promise<Record<string, unknown>>;

/**
 * LifecycleEvents publishes the GetContainerEvents stream that the kubelet's evented PLEG reads
 * (pkg/kubelet/pleg/evented.go): every event carries the pod's PodSandboxStatus (with its metadata, or the kubelet
 * drops the event) and the ContainerStatus of every container of the pod, from which the kubelet rebuilds its
 * whole cached pod status. Pods have events too, under the pod's id as `container_id` (CREATED and STARTED by
 * RunPodSandbox, STOPPED by StopPodSandbox, DELETED by RemovePodSandbox), as containerd and CRI-O send them; a
 * DELETED event with the pod's own id is what makes the kubelet forget the pod.
 *
 * The pod record and the container statuses are taken when the event happens, not when it is sent, so that an
 * event of a pod being removed still carries the pod; events leave in call order, with strictly increasing
 * `created_at` (the kubelet keeps a cached pod status whose time is newer than an event's, and drops the event).
 */
export class LifecycleEvents {
  private chain: Promise<void> = Promise.resolve();
  /** last is the newest `created_at` sent: times only grow, since the kubelet's cache ignores an update older than what it holds. */
  private last = 0n;

  constructor(
    private readonly d: { events: EventsService; registry: Registry; clock: Clock; log: Logger },
    private readonly podStatusOf: PodStatusOf,
  ) {}

  /** emit publishes an event of `id` (a container, or the pod itself) in pod `sandboxId`; `pod` overrides the registry's record. */
  emit(type: ContainerEventType, id: string, sandboxId: string, pod?: SandboxRecord): void {
    const now = BigInt(nowNs(this.d.clock));
    this.last = now > this.last ? now : this.last + 1n;
    const at = String(this.last);
    const rec = pod ?? this.d.registry.sandboxes.get(sandboxId);
    const statuses = this.d.registry.containersOf(sandboxId).filter((c) => c.phase === 'created').map(containerStatusOf);
    this.chain = this.chain
      .then(async () => {
        const podStatus = rec ? await this.podStatusOf(rec) : null;
        this.d.events.publish({ container_id: id, container_event_type: type, created_at: at, pod_sandbox_status: podStatus, containers_statuses: statuses });
      })
      .catch((err: unknown) => this.d.log.warn({ err }, 'publishing an event failed'));
  }
}

// The kubelet's generic PLEG (pkg/kubelet/pleg/generic.go): every second, GetPods (ListPodSandbox with a nil filter,
// ListContainers with an empty one, grouped by the pod uid label), the old and new state of every container and
// sandbox compared, events generated, and for each pod with events the cache refreshed with GetPodStatus.
import { POD_UID_LABEL } from './common.js';
import type { Kubelet } from './kubelet.js';
import type { Pod } from './pod.js';
import type { PodStatus } from './status.js';

/** PlegEvent is pleg.PodLifecycleEvent. */
export interface PlegEvent {
  podUid: string;
  type: 'ContainerStarted' | 'ContainerDied' | 'ContainerRemoved' | 'ContainerChanged';
  id: string;
}

type PlegState = 'running' | 'exited' | 'unknown' | 'non-existent';

/** containerState is generic.go convertState: created reads as unknown ("kubelet doesn't use the created state yet"). */
function containerState(s: string): PlegState {
  return s === 'CONTAINER_RUNNING' ? 'running' : s === 'CONTAINER_EXITED' ? 'exited' : 'unknown';
}

/** generateEvents mirrors generic.go generateEvents. */
function generateEvents(podUid: string, id: string, oldState: PlegState, newState: PlegState): PlegEvent[] {
  if (oldState === newState) return [];
  switch (newState) {
    case 'running':
      return [{ podUid, type: 'ContainerStarted', id }];
    case 'exited':
      return [{ podUid, type: 'ContainerDied', id }];
    case 'unknown':
      return [{ podUid, type: 'ContainerChanged', id }];
    default:
      return oldState === 'exited' ? [{ podUid, type: 'ContainerRemoved', id }] : [{ podUid, type: 'ContainerDied', id }, { podUid, type: 'ContainerRemoved', id }];
  }
}

/** GenericPleg holds the pod records between relists and the status cache. */
export class GenericPleg {
  private records = new Map<string, Map<string, PlegState>>();
  readonly cache = new Map<string, PodStatus>();

  constructor(private readonly k: Kubelet, private readonly pods: () => Pod[]) {}

  /**
   * getPods mirrors kuberuntime_manager.go GetPods(all=true): sandboxes (as containers: ready is running) and
   * containers by pod uid; toKubeContainer refuses a container without id or image, which fails the relist.
   */
  private async getPods(): Promise<Map<string, Map<string, PlegState>>> {
    const pods = new Map<string, Map<string, PlegState>>();
    const of = (uid: string) => pods.get(uid) ?? pods.set(uid, new Map()).get(uid)!;
    for (const s of await this.k.cri.listPodSandbox(null)) of(s.metadata.uid).set(s.id, s.state === 'SANDBOX_READY' ? 'running' : 'exited');
    for (const c of await this.k.cri.listContainers({})) {
      if (!c.id || !c.image) throw new Error('unable to convert a nil pointer to a runtime container');
      of(c.labels[POD_UID_LABEL] ?? '').set(c.id, containerState(c.state));
    }
    return pods;
  }

  /** relist is generic.go relist; it gives the events, and throws when the runtime does not answer (PLEG unhealthy). */
  async relist(): Promise<PlegEvent[]> {
    const current = await this.getPods();
    const events: PlegEvent[] = [];
    for (const uid of new Set([...this.records.keys(), ...current.keys()])) {
      const oldPod = this.records.get(uid) ?? new Map<string, PlegState>();
      const newPod = current.get(uid) ?? new Map<string, PlegState>();
      for (const id of new Set([...oldPod.keys(), ...newPod.keys()])) events.push(...generateEvents(uid, id, oldPod.get(id) ?? 'non-existent', newPod.get(id) ?? 'non-existent'));
    }
    const known = new Map(this.pods().map((p) => [p.uid, p]));
    for (const uid of new Set(events.map((e) => e.podUid))) {
      const pod = known.get(uid);
      if (pod) this.cache.set(uid, await this.k.podStatus(pod));
    }
    this.records = current;
    return events;
  }
}

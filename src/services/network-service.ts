import type { Logger } from '../log/index.js';
import type { PodSandboxConfig } from '../domain/cri-types.js';
import type { NetnsManager } from '../network/netns.js';
import type { Condition, NetworkReadiness } from './runtime-info.js';

/** PodNetworkParams name the pod whose network is set up or torn down. */
export interface PodNetworkParams {
  /** id is the pod sandbox id. */
  id: string;
  /** config is the pod's sandbox config (metadata, port mappings, annotations); optional on tear-down. */
  config?: PodSandboxConfig | null;
  /** hostNetwork pods share the host's namespace: no netns, no CNI. */
  hostNetwork: boolean;
}

/** PodNetwork is what setUpPod made: the pinned namespace (absent for host-network pods) and the pod IPs. */
export interface PodNetwork {
  netnsPath?: string;
  /** ips are the pod IPs, the primary first. */
  ips: string[];
}

/** NetworkServiceDeps are what NetworkService works with. */
export interface NetworkServiceDeps {
  netns: NetnsManager;
  log: Logger;
}

/**
 * NetworkService gives pods their network: a pinned network namespace with `lo` up, then (once wired) the CNI
 * plugin chain. The sandbox service calls setUpPod before it starts the infra process, tearDownPod on stop,
 * removePod on removal, and recover at start-up.
 */
export class NetworkService implements NetworkReadiness {
  constructor(private readonly deps: NetworkServiceDeps) {}

  /** netnsPath gives where pod `id`'s namespace is pinned (whether or not it exists). */
  netnsPath(id: string): string {
    return this.deps.netns.pathOf(id);
  }

  /**
   * setUpPod creates the pod's network namespace (none for host-network pods) and attaches it to the network.
   * On failure nothing is left behind.
   */
  async setUpPod(p: PodNetworkParams, signal?: AbortSignal): Promise<PodNetwork> {
    if (p.hostNetwork) return { ips: [] };
    const started = Date.now();
    const netnsPath = await this.deps.netns.create(p.id, signal);
    this.deps.log.debug({ podSandboxId: p.id, netns: netnsPath, durationMs: Date.now() - started }, 'pod network namespace created');
    return { netnsPath, ips: [] };
  }

  /** tearDownPod detaches the pod from the network; idempotent, and fine when the namespace is gone. */
  async tearDownPod(p: PodNetworkParams, _signal?: AbortSignal): Promise<void> {
    if (p.hostNetwork) return;
  }

  /** removePod removes the pod's network namespace; an absent one is fine. */
  async removePod(id: string): Promise<void> {
    await this.deps.netns.remove(id);
  }

  /** networkCondition is the NetworkReady condition of Status. */
  networkCondition(): Condition {
    return { type: 'NetworkReady', status: true, reason: '', message: '' };
  }

  /**
   * recover runs at start-up with the ids of the pods the daemon knows: namespaces of unknown pods (a crash during
   * RunPodSandbox, or a record removed while down) are removed. It gives the ids whose namespace still exists.
   */
  async recover(knownPodIds: Iterable<string>): Promise<string[]> {
    const known = new Set(knownPodIds);
    await this.deps.netns.prepareDir();
    const alive: string[] = [];
    for (const ns of await this.deps.netns.list()) {
      if (known.has(ns.podId) && ns.mounted) {
        alive.push(ns.podId);
        continue;
      }
      if (known.has(ns.podId)) continue; // the record owns it; RemovePodSandbox cleans the stale file
      this.deps.log.info({ podSandboxId: ns.podId, netns: ns.path }, 'removing the network namespace of an unknown pod');
      await this.deps.netns.remove(ns.podId).catch((err: unknown) => this.deps.log.warn({ err, podSandboxId: ns.podId }, 'could not remove a leftover network namespace'));
    }
    return alive;
  }
}

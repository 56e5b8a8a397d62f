import type { Config, CgroupDriver } from '../config/types.js';
import { delegationCondition, type NodeFacts } from '../domain/node.js';
import { DELEGATION_FIX } from '../oci/index.js';
import { DEFAULT_RUNTIME_HANDLER, featuresOf, type NodeFeatures } from '../domain/features.js';

/** Condition is one entry of the CRI RuntimeStatus. */
export interface Condition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/** NetworkReadiness reports whether pod networking can be set up; the network layer provides it. */
export interface NetworkReadiness {
  networkCondition(): Condition;
}

/** PodCidrListener is told of the pod CIDR the kubelet hands over with UpdateRuntimeConfig. */
export type PodCidrListener = (cidr: string) => void;

/** RuntimeInfoDeps are what RuntimeInfoService reads. */
export interface RuntimeInfoDeps {
  config: Config;
  cgroupDriver: CgroupDriver;
  /** node is what kind of node this is; the verbose Status shows it, and features are advertised from it. */
  node?: NodeFacts;
  runtimeVersion: string;
  network?: NetworkReadiness;
  /** runtimeCondition checks that runc and conmon are usable. */
  runtimeCondition?: () => Condition;
}

/** RuntimeHandlerOut is one entry of StatusResponse.runtime_handlers. */
export interface RuntimeHandlerOut {
  name: string;
  features: { recursive_read_only_mounts: boolean; user_namespaces: boolean };
}

/** RUNTIME_NAME is what Version reports. */
export const RUNTIME_NAME = 'fune';

/** RuntimeInfoService answers Version, Status, RuntimeConfig and UpdateRuntimeConfig. */
export class RuntimeInfoService {
  private podCidr = '';
  private readonly cidrListeners: PodCidrListener[] = [];

  constructor(private readonly deps: RuntimeInfoDeps) {}

  /** version names the runtime and the CRI version of the package the call came through. */
  version(apiVersion: string) {
    return { version: '0.1.0', runtime_name: RUNTIME_NAME, runtime_version: this.deps.runtimeVersion, runtime_api_version: apiVersion };
  }

  /** conditions gives RuntimeReady and NetworkReady. */
  conditions(): Condition[] {
    const runtime = this.deps.runtimeCondition?.() ?? { type: 'RuntimeReady', status: true, reason: '', message: '' };
    const network = this.deps.network?.networkCondition() ?? {
      type: 'NetworkReady',
      status: false,
      reason: 'NetworkPluginNotReady',
      message: 'pod networking is not set up in this build',
    };
    // Inside a user namespace: whether the kubelet's limits can be applied (the delegated controllers), with the fix.
    const delegation = this.deps.node ? delegationCondition(this.deps.node, DELEGATION_FIX) : undefined;
    return delegation ? [runtime, network, delegation] : [runtime, network];
  }

  /** features is what fune can deliver on this node (nothing beyond the CRI's defaults without node facts). */
  features(): NodeFeatures {
    const n = this.deps.node;
    return n ? featuresOf(n) : { recursiveReadOnlyMounts: false, userNamespaces: false, supplementalGroupsPolicy: false };
  }

  /**
   * runtimeHandlers lists the one handler, under its name and again as "" (the default handler, which is what a
   * pod without a RuntimeClass and critest's --runtime-handler="" look up), as containerd and CRI-O do.
   */
  runtimeHandlers(): RuntimeHandlerOut[] {
    const f = this.features();
    const features = { recursive_read_only_mounts: f.recursiveReadOnlyMounts, user_namespaces: f.userNamespaces };
    return [DEFAULT_RUNTIME_HANDLER, ''].map((name) => ({ name, features: { ...features } }));
  }

  /** runtimeFeatures are the runtime-wide features of StatusResponse.features. */
  runtimeFeatures(): { supplemental_groups_policy: boolean; user_namespaces_host_network: boolean } {
    return { supplemental_groups_policy: this.features().supplementalGroupsPolicy, user_namespaces_host_network: false };
  }

  /** info gives the verbose Status map: the effective configuration, as JSON. */
  info(): Record<string, string> {
    return {
      config: JSON.stringify(this.deps.config),
      cgroupDriver: this.deps.cgroupDriver,
      podCidr: this.podCidr,
      ...(this.deps.node ? { node: JSON.stringify(this.deps.node) } : {}),
    };
  }

  /** cgroupDriver is the driver every container uses. */
  cgroupDriver(): CgroupDriver {
    return this.deps.cgroupDriver;
  }

  /** updatePodCidr keeps the pod CIDR and tells the network layer. */
  updatePodCidr(cidr: string): void {
    if (cidr === this.podCidr) return;
    this.podCidr = cidr;
    for (const l of this.cidrListeners) l(cidr);
  }

  /** currentPodCidr is the last pod CIDR the kubelet gave, or ''. */
  currentPodCidr(): string {
    return this.podCidr;
  }

  /** onPodCidr registers a listener for pod CIDR changes. */
  onPodCidr(l: PodCidrListener): void {
    this.cidrListeners.push(l);
  }
}

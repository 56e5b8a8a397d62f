import type { Config, CgroupDriver } from '../config/types.js';
import type { NodeFacts } from '../domain/node.js';

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
    return [runtime, network];
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

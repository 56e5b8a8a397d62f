import { invalidArgument } from '../errors/index.js';
import type { PodSandboxConfig } from '../domain/cri-types.js';
import type { CniRuntimeConfig } from './cni-invoke.js';

/**
 * What a pod's sandbox config means to CNI: the CNI_ARGS the kubelet's runtimes pass, and the runtimeConfig
 * capabilities (portMappings, bandwidth, ipRanges, dns) that plugins may declare in their conf.
 * See https://github.com/containernetworking/cni/blob/main/CONVENTIONS.md
 */

/** INGRESS_BANDWIDTH and EGRESS_BANDWIDTH are the pod annotations of the bandwidth capability. */
export const INGRESS_BANDWIDTH = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_BANDWIDTH = 'kubernetes.io/egress-bandwidth';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * parseQuantity reads a Kubernetes resource quantity ("10M", "1.5Gi", "2e6") as a number, rounded up to an integer
 * as Quantity.Value() does; it throws on anything else.
 */
export function parseQuantity(q: string): number {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/.exec(q.trim());
  if (!m) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const mult = m[2] !== undefined ? (BINARY[m[2]] ?? DECIMAL[m[2]]!) : m[3] !== undefined ? 10 ** Number(m[3]) : 1;
  return Math.ceil(n * mult);
}

/** bandwidthOf gives the bandwidth capability from the pod annotations, or undefined when none is set. */
export function bandwidthOf(annotations: Record<string, string> | undefined): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const [key, dir] of [
    [INGRESS_BANDWIDTH, 'ingress'],
    [EGRESS_BANDWIDTH, 'egress'],
  ] as const) {
    const v = annotations?.[key];
    if (v === undefined || v === '') continue;
    let bits: number;
    try {
      bits = parseQuantity(v);
    } catch (e) {
      throw invalidArgument(`annotation ${key}: ${(e as Error).message}`);
    }
    // The kubelet's bounds (pkg/util/bandwidth): below 1k or above 1P bit/s is a mistake.
    if (bits < 1e3) throw invalidArgument(`annotation ${key}=${v}: unreasonably small (< 1kbit)`);
    if (bits > 1e15) throw invalidArgument(`annotation ${key}=${v}: unreasonably large (> 1Pbit)`);
    // Like containerd: the rate from the annotation, a burst the kernel will clamp (no annotation sets it).
    out[`${dir}Rate`] = bits;
    out[`${dir}Burst`] = 2 ** 32 - 1;
  }
  return Object.keys(out).length ? out : undefined;
}

/** cniArgsOf gives the CNI_ARGS pairs of a pod: IgnoreUnknown first, then the K8S_* facts. */
export function cniArgsOf(podId: string, config: PodSandboxConfig | null | undefined): [string, string][] {
  const md = config?.metadata;
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', md?.namespace ?? ''],
    ['K8S_POD_NAME', md?.name ?? ''],
    ['K8S_POD_INFRA_CONTAINER_ID', podId],
    ['K8S_POD_UID', md?.uid ?? ''],
  ];
}

/**
 * runtimeConfigOf gives the runtimeConfig capabilities of a pod: host port mappings (host_port > 0 only, as
 * containerd does), bandwidth, ipRanges from the pod CIDR(s) of UpdateRuntimeConfig (comma-separated for
 * dual-stack: one range set each), and the pod's DNS config. Bad annotations throw InvalidArgument.
 */
export function runtimeConfigOf(config: PodSandboxConfig | null | undefined, podCidr: string): CniRuntimeConfig {
  const rc: CniRuntimeConfig = {};
  const ports = (config?.port_mappings ?? [])
    .filter((p) => p.host_port > 0)
    .map((p) => ({ hostPort: p.host_port, containerPort: p.container_port, protocol: (p.protocol || 'TCP').toLowerCase(), hostIP: p.host_ip }));
  if (ports.length) rc.portMappings = ports;
  const bw = bandwidthOf(config?.annotations);
  if (bw) rc.bandwidth = bw;
  const cidrs = podCidr.split(',').map((c) => c.trim()).filter(Boolean);
  if (cidrs.length) rc.ipRanges = cidrs.map((subnet) => [{ subnet }]);
  const dns = config?.dns_config;
  if (dns && (dns.servers.length || dns.searches.length || dns.options.length)) {
    rc.dns = { servers: dns.servers, searches: dns.searches, options: dns.options };
  }
  return rc;
}

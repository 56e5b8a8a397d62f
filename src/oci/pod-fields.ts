import { invalidArgument } from '../errors/index.js';
import type { DNSConfig, PodSandboxConfig, PortMapping } from '../domain/cri-types.js';
import { isIpAddress } from '../domain/ip.js';
import { checkLogDirectory, hasControlChar } from './fields.js';

/**
 * Values of a RunPodSandbox request that fune writes into the pod's files (hostname, /etc/hosts,
 * /etc/resolv.conf) or hands to CNI plugins and runc, checked before anything is made. No such value holds a
 * control character, so none can add a line to a file; DNS servers are IP addresses; the hostname fits the
 * kernel's HOST_NAME_MAX; port mappings name real ports and a known protocol.
 */

/** HOST_NAME_MAX is the kernel's limit on a hostname (sethostname(2) fails with EINVAL beyond it). */
export const HOST_NAME_MAX = 64;

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** checkHostname refuses a hostname the pod's files or sethostname(2) cannot take. */
export function checkHostname(hostname: string): void {
  if (hostname === '' || new TextEncoder().encode(hostname).length > HOST_NAME_MAX) throw invalidArgument(`hostname ${JSON.stringify(hostname)} must be 1 to ${HOST_NAME_MAX} bytes long`);
  if (hasControlChar(hostname) || /[\s/]/.test(hostname)) throw invalidArgument(`hostname ${JSON.stringify(hostname)} may not contain whitespace, "/" or control characters`);
}

/**
 * podHostname is the name a pod that is not on the host network gets in its files (/etc/hostname, /etc/hosts,
 * HOSTNAME): the request's hostname, or else the pod's name cut as a kubelet cuts a pod name into a hostname
 * (truncatePodHostnameIfNeeded: 63 characters, then no trailing "-" or "."), or "localhost". Only a hostname the
 * request gives goes to sethostname(2) (the spec's hostname); the fallback is never refused for its length, since
 * a client without a hostname (critest's pods are named "create-PodSandbox-for-container-<uuid>", 68 bytes) asked
 * for none.
 */
export function podHostname(config: PodSandboxConfig): string {
  if (config.hostname) return config.hostname;
  const name = config.metadata?.name ?? '';
  if (name === '') return 'localhost';
  return name.length <= 63 ? name : name.slice(0, 63).replace(/[-.]+$/, '') || 'localhost';
}

/** checkFileWord refuses a value that would not stay one word on one line of a pod file. */
function checkFileWord(value: string, what: string): void {
  if (value === '' || hasControlChar(value) || /\s/.test(value)) throw invalidArgument(`${what} ${JSON.stringify(value)} must be one word without whitespace or control characters`);
}

/** checkDns checks a pod's DNS config: servers are IP addresses, searches and options single words. */
export function checkDns(dns: DNSConfig | null | undefined): void {
  for (const s of dns?.servers ?? []) if (!isIpAddress(s)) throw invalidArgument(`dns_config server ${JSON.stringify(s)} is not an IP address`);
  for (const s of dns?.searches ?? []) {
    checkFileWord(s, 'dns_config search');
    if (s.length > 253) throw invalidArgument(`dns_config search ${JSON.stringify(s.slice(0, 32))}… is longer than 253 characters`);
  }
  for (const o of dns?.options ?? []) checkFileWord(o, 'dns_config option');
}

/** checkPortMapping checks one port mapping: container port 1-65535, host port 0-65535 (0 = none), a known protocol, an IP or "". */
export function checkPortMapping(p: PortMapping): void {
  const c = p.container_port;
  const h = p.host_port;
  const what = `port mapping ${JSON.stringify({ protocol: p.protocol, container_port: c, host_port: h, host_ip: p.host_ip })}`;
  if (!Number.isInteger(c) || c < 1 || c > 65535) throw invalidArgument(`${what}: container_port must be 1 to 65535`);
  if (!Number.isInteger(h) || h < 0 || h > 65535) throw invalidArgument(`${what}: host_port must be 0 to 65535`);
  if (!PROTOCOLS.has(String(p.protocol ?? 'TCP'))) throw invalidArgument(`${what}: protocol must be TCP, UDP or SCTP`);
  if (p.host_ip && !isIpAddress(p.host_ip)) throw invalidArgument(`${what}: host_ip is not an IP address`);
}

/**
 * validatePodFields checks the values of a pod config that reach the pod's files, CNI and runc (see above);
 * it throws InvalidArgument. `hostNetwork` pods take the host's hostname, so theirs is only checked for
 * control characters.
 */
export function validatePodFields(config: PodSandboxConfig, hostNetwork: boolean): void {
  checkLogDirectory(config.log_directory ?? '');
  const given = config.hostname ?? '';
  if (hostNetwork) {
    if (hasControlChar(given)) throw invalidArgument(`hostname ${JSON.stringify(given)} may not contain control characters`);
  } else {
    checkHostname(podHostname(config));
  }
  checkDns(config.dns_config);
  for (const p of config.port_mappings ?? []) checkPortMapping(p);
}

/**
 * podFileValue checks a value fune is about to write into a pod file that did not come from the request (an IP a
 * CNI plugin gave, the host's own name): a control character there is a fault, not bad input.
 */
export function podFileValue(value: string, what: string): string {
  if (hasControlChar(value)) throw new Error(`${what} ${JSON.stringify(value)} holds a control character; not writing it into a pod file`);
  return value;
}

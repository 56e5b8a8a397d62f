import { readFile, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { DNSConfig, PodSandboxConfig } from '../domain/cri-types.js';
import { isIpAddress } from '../domain/ip.js';
import { checkHostname, podFileValue, podHostname } from '../oci/index.js';

/** resolvConf renders /etc/resolv.conf of a pod from its DNSConfig (nameservers, search, options). */
export function resolvConf(dns: DNSConfig): string {
  const v = (x: string) => podFileValue(x, 'DNS value');
  const lines: string[] = [];
  if (dns.searches?.length) lines.push(`search ${dns.searches.map(v).join(' ')}`);
  for (const s of dns.servers ?? []) lines.push(`nameserver ${v(s)}`);
  if (dns.options?.length) lines.push(`options ${dns.options.map(v).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** hostsFile renders the /etc/hosts of a pod with its own network. */
export function hostsFile(hostname: string, ips: string[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'fe00::0\tip6-mcastprefix', 'fe00::1\tip6-allnodes', 'fe00::2\tip6-allrouters'];
  for (const ip of ips) {
    if (!isIpAddress(ip)) throw new Error(`pod IP ${JSON.stringify(ip)} (from the CNI result) is not an IP address; not writing it into /etc/hosts`);
    lines.push(`${ip}\t${podFileValue(hostname, 'hostname')}`);
  }
  return lines.join('\n') + '\n';
}

/** PodFiles are the host paths of the files a pod's containers share. */
export interface PodFiles {
  hostname: string;
  resolvPath: string;
  hostsPath: string;
  hostnamePath: string;
}

/**
 * writePodFiles writes a pod's hostname, /etc/hosts and /etc/resolv.conf into `dir`: from the pod config, or the
 * host's for a host-network pod (hostname, hosts) and when no DNS config is given (resolv.conf).
 */
export async function writePodFiles(dir: string, config: PodSandboxConfig, hostNetwork: boolean, ips: string[]): Promise<PodFiles> {
  const hostname = hostNetwork ? osHostname() : podHostname(config);
  // The request's hostname was checked before anything was made; the host's own is checked here.
  if (hostNetwork) podFileValue(hostname, 'host name');
  else checkHostname(hostname);
  const files: PodFiles = { hostname, resolvPath: join(dir, 'resolv.conf'), hostsPath: join(dir, 'hosts'), hostnamePath: join(dir, 'hostname') };
  const dns = config.dns_config;
  const hasDns = !!dns && ((dns.servers?.length ?? 0) > 0 || (dns.searches?.length ?? 0) > 0 || (dns.options?.length ?? 0) > 0);
  const resolv = hasDns ? resolvConf(dns) : await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const hosts = hostNetwork ? await readFile('/etc/hosts', 'utf8').catch(() => hostsFile(hostname, [])) : hostsFile(hostname, ips);
  await Promise.all([
    writeFile(files.resolvPath, resolv, { mode: 0o644 }),
    writeFile(files.hostsPath, hosts, { mode: 0o644 }),
    writeFile(files.hostnamePath, `${hostname}\n`, { mode: 0o644 }),
  ]);
  return files;
}

import { readFile, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { DNSConfig, PodSandboxConfig } from '../domain/cri-types.js';
import { invalidArgument } from '../errors/index.js';

/** resolvConf renders /etc/resolv.conf of a pod from its DNSConfig (nameservers, search, options). */
export function resolvConf(dns: DNSConfig): string {
  const lines: string[] = [];
  if (dns.searches?.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers ?? []) lines.push(`nameserver ${s}`);
  if (dns.options?.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** hostsFile renders the /etc/hosts of a pod with its own network. */
export function hostsFile(hostname: string, ips: string[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'fe00::0\tip6-mcastprefix', 'fe00::1\tip6-allnodes', 'fe00::2\tip6-allrouters'];
  for (const ip of ips) lines.push(`${ip}\t${hostname}`);
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
  const hostname = hostNetwork ? osHostname() : config.hostname || config.metadata?.name || 'localhost';
  if (hostname.length > 253 || /[\s/]/.test(hostname)) throw invalidArgument(`hostname ${JSON.stringify(hostname)} is not valid`);
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

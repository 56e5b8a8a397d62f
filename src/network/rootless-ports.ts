import { isIP } from 'node:net';
import { failedPrecondition, internal } from '../errors/index.js';
import { RootlesskitApiError, type RootlesskitPorts, type RootlesskitPortSpec, type RootlesskitPortStatus } from '../sys/rootlesskit-api.js';

/**
 * hostPort on a rootless node. fune's network namespace is RootlessKit's child namespace, not the host's: the portmap
 * plugin maps a pod's hostPort there (the "host" of CNI), and RootlessKit's port driver makes it reachable on the
 * real host. For each port mapping fune asks the API for a listener on the host at hostIP:hostPort whose connections
 * RootlessKit dials inside the child namespace at 127.0.0.1:hostPort (the builtin driver's child address), where
 * portmap's DNAT takes them to the pod, the way nerdctl does it (its rootlessutil port manager): the child port is
 * the host port, not the container port, so traffic goes through portmap like any other hostPort traffic.
 *
 * The hostIP handed to portmap is rewritten where the child namespace has no such address (nerdctl's rule): a
 * specific non-loopback host address becomes the child address RootlessKit dials (127.0.0.1, or the network
 * driver's child IP when the port driver refuses loopback); the API still gets the host address as parentIP.
 */

/** PortMapping is one entry of the portMappings capability (pod-args.ts runtimeConfigOf). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

/** HostPortExposer exposes a pod's host ports outside fune's network namespace (NetworkService's hostPorts). */
export interface HostPortExposer {
  /** forCni gives the mappings as portmap in fune's own namespace is to see them. */
  forCni(mappings: PortMapping[]): PortMapping[];
  /** expose makes every mapping reachable on the host, or none: on a failure what it added is removed again. */
  expose(mappings: PortMapping[]): Promise<RootlesskitPortStatus[]>;
  /** unexpose removes the given ports, each only while the API still has it with the same spec; absent is fine. */
  unexpose(ports: RootlesskitPortStatus[]): Promise<void>;
  /** sweep removes every port of the API that `keep` does not hold; it gives the ports it found kept. */
  sweep(keep: RootlesskitPortStatus[]): Promise<RootlesskitPortStatus[]>;
}

/** parentSpecOf is the API request for one mapping. */
export function parentSpecOf(m: PortMapping, childIP: string | undefined): RootlesskitPortSpec {
  const spec: RootlesskitPortSpec = {
    proto: (m.protocol || 'tcp').toLowerCase(),
    parentIP: m.hostIP && m.hostIP !== '' ? m.hostIP : '0.0.0.0',
    parentPort: m.hostPort,
    childPort: m.hostPort,
  };
  if (childIP) spec.childIP = childIP;
  return spec;
}

/** sameSpec tells whether two port specs name the same listener and target (an absent childIP is the default). */
export function sameSpec(a: RootlesskitPortSpec, b: RootlesskitPortSpec): boolean {
  return a.proto === b.proto && (a.parentIP ?? '') === (b.parentIP ?? '') && a.parentPort === b.parentPort && a.childPort === b.childPort && (a.childIP ?? '') === (b.childIP ?? '');
}

const isLoopback = (ip: string) => (isIP(ip) === 4 ? ip.startsWith('127.') : ip === '::1');
const isUnspecified = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';

/** cniHostIp is the hostIP portmap gets for a host address `hostIP` (see the module comment). */
export function cniHostIp(hostIP: string | undefined, childIP: string | undefined, disallowLoopback: boolean): string | undefined {
  if (hostIP === undefined || isUnspecified(hostIP)) return hostIP;
  if (childIP !== undefined && hostIP === childIP) return hostIP;
  if (isLoopback(hostIP)) return disallowLoopback && childIP ? childIP : hostIP;
  return disallowLoopback && childIP ? childIP : isIP(hostIP) === 6 ? '::1' : '127.0.0.1';
}

/** RootlesskitHostPortsOptions say how RootlessKit's port driver dials into the child namespace. */
export interface RootlesskitHostPortsOptions {
  api: RootlesskitPorts;
  /**
   * disallowLoopbackChildIP is the port driver's flag (true for --port-driver=slirp4netns); then the child address
   * is `childIP`, the network driver's address in the namespace, and portmap is to match that address.
   */
  disallowLoopbackChildIP?: boolean;
  childIP?: string;
}

/** RootlesskitHostPorts is the HostPortExposer of a node under RootlessKit. */
export class RootlesskitHostPorts implements HostPortExposer {
  constructor(private readonly o: RootlesskitHostPortsOptions) {}

  /** fromInfo asks the API which port driver runs, and builds the exposer for it. */
  static async fromInfo(api: RootlesskitPorts): Promise<RootlesskitHostPorts> {
    const info = await api.info();
    if (!info.portDriver?.driver) throw new RootlesskitApiError(`RootlessKit ${info.version} runs no port driver (rootlesskit --port-driver=builtin is needed for hostPort)`);
    return new RootlesskitHostPorts({ api, disallowLoopbackChildIP: info.portDriver.disallowLoopbackChildIP === true, childIP: info.networkDriver?.childIP });
  }

  private get childIP(): string | undefined {
    return this.o.disallowLoopbackChildIP ? this.o.childIP : undefined;
  }

  forCni(mappings: PortMapping[]): PortMapping[] {
    return mappings.map((m) => {
      const hostIP = cniHostIp(m.hostIP, this.o.childIP, this.o.disallowLoopbackChildIP === true);
      return hostIP === m.hostIP ? m : { ...m, hostIP };
    });
  }

  async expose(mappings: PortMapping[]): Promise<RootlesskitPortStatus[]> {
    const added: RootlesskitPortStatus[] = [];
    for (const m of mappings) {
      const spec = parentSpecOf(m, this.childIP);
      try {
        added.push(await this.o.api.addPort(spec));
      } catch (e) {
        await this.unexpose(added).catch(() => undefined);
        const what = `hostPort ${spec.parentIP}:${spec.parentPort}/${spec.proto} cannot be exposed on the host through RootlessKit's port driver`;
        if (e instanceof RootlesskitApiError && e.status !== undefined && e.status >= 400 && e.status < 500) {
          const hint = m.hostPort < 1024 ? ' (a port below 1024 needs net.ipv4.ip_unprivileged_port_start lowered on the host, or CAP_NET_BIND_SERVICE on rootlesskit)' : '';
          throw failedPrecondition(`${what}: ${e.message}${hint}`, { cause: e });
        }
        throw internal(`${what}: ${(e as Error).message}`, { cause: e });
      }
    }
    return added;
  }

  async unexpose(ports: RootlesskitPortStatus[]): Promise<void> {
    if (ports.length === 0) return;
    // An id is only removed while it still names the same port: after RootlessKit restarted, ids start over and a
    // recorded id may be another pod's port now.
    const live = await this.o.api.listPorts();
    for (const p of ports) {
      if (!live.some((l) => l.id === p.id && sameSpec(l.spec, p.spec))) continue;
      await this.o.api.removePort(p.id);
    }
  }

  async sweep(keep: RootlesskitPortStatus[]): Promise<RootlesskitPortStatus[]> {
    const kept: RootlesskitPortStatus[] = [];
    for (const l of await this.o.api.listPorts()) {
      if (keep.some((k) => k.id === l.id && sameSpec(k.spec, l.spec))) kept.push(l);
      else await this.o.api.removePort(l.id);
    }
    return kept;
  }
}

import type { RootlesskitPorts, RootlesskitPortSpec, RootlesskitPortStatus } from '../sys/rootlesskit-api.js';
import { failedPrecondition, internal } from '../errors/index.js';

/**
 * hostPorts on a rootless node. fune's pods live in RootlessKit's network namespace, where CNI's portmap maps a
 * hostPort as on any node; the host's own namespace is reached through RootlessKit's port driver, nerdctl's scheme:
 * each mapping becomes a RootlessKit port hostIP:hostPort on the host that dials 127.0.0.1:hostPort in the namespace,
 * which portmap's DNAT (its OUTPUT chain, with route_localnet and masquerade) takes to the pod. So the mapping handed
 * to portmap keeps the port and drops a host address that exists only on the host (it would never match there).
 * Nothing about the exposed ports is stored: the mapping itself (protocol, host address and port) names its port in
 * RootlessKit, and a host port can be held by one listener only.
 */

/** PortMapping is a CNI portMappings entry as pod-args.ts makes it. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

/** HostPortExposer is what NetworkService asks on a node under RootlessKit. */
export interface HostPortExposer {
  /** forCni gives the mappings for portmap in fune's namespace. */
  forCni(m: PortMapping[]): PortMapping[];
  /** expose makes every mapping reachable on the host, or none (FAILED_PRECONDITION for a refused port). */
  expose(m: PortMapping[]): Promise<void>;
  /** unexpose removes the host ports of these mappings that RootlessKit has (idempotent). */
  unexpose(m: PortMapping[]): Promise<void>;
}

const ANY = new Set(['', '0.0.0.0', '::']);
const LOOPBACK = '127.0.0.1';

/** specOf is RootlessKit's port for a mapping: the host address and port, dialled at 127.0.0.1:hostPort inside. */
export function specOf(m: PortMapping): RootlesskitPortSpec {
  const ip = m.hostIP ?? '';
  const v6 = ip.includes(':');
  return { proto: `${m.protocol.toLowerCase()}${v6 ? '6' : ''}`, parentIP: ANY.has(ip) ? (v6 ? '::' : '0.0.0.0') : ip, parentPort: m.hostPort, childPort: m.hostPort };
}

const sameSpec = (a: RootlesskitPortSpec, b: RootlesskitPortSpec) =>
  a.proto === b.proto && a.parentPort === b.parentPort && a.childPort === b.childPort && (a.parentIP || '0.0.0.0') === (b.parentIP || '0.0.0.0');

/** RootlesskitHostPorts is the HostPortExposer on RootlessKit's port manager. */
export class RootlesskitHostPorts implements HostPortExposer {
  constructor(private readonly api: RootlesskitPorts) {}

  forCni(m: PortMapping[]): PortMapping[] {
    // A host address other than "any" or loopback is not in fune's namespace: portmap matches what RootlessKit dials.
    return m.map((p) => (p.hostIP && !ANY.has(p.hostIP) && p.hostIP !== LOOPBACK ? { ...p, hostIP: LOOPBACK } : p));
  }

  async expose(m: PortMapping[]): Promise<void> {
    const done: RootlesskitPortStatus[] = [];
    for (const p of m) {
      const spec = specOf(p);
      try {
        done.push(await this.api.addPort(spec));
      } catch (e) {
        for (const d of done.reverse()) await this.api.removePort(d.id).catch(() => undefined);
        const status = (e as { status?: number }).status ?? 0;
        const what = `host port ${spec.parentIP}:${spec.parentPort}/${p.protocol}`;
        // A refusal (port in use, below net.ipv4.ip_unprivileged_port_start) is the pod's; an unreachable API is ours.
        if (status >= 400 && status < 600) throw failedPrecondition(`${what} cannot be exposed on this rootless node: ${(e as Error).message}`);
        throw internal(`${what}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  async unexpose(m: PortMapping[]): Promise<void> {
    if (m.length === 0) return;
    const specs = m.map(specOf);
    for (const st of await this.api.listPorts()) {
      if (specs.some((s) => sameSpec(s, st.spec))) await this.api.removePort(st.id);
    }
  }
}

/**
 * CNI result parsing. Results of spec versions 0.3.0, 0.3.1, 0.4.0 and 1.0.0 (and later 1.x) share one shape:
 * `interfaces`, `ips` (with `address` in CIDR form and an optional `interface` index), `routes`, `dns`; 0.3.x adds a
 * per-IP `version` field. The legacy 0.1.0/0.2.0 shape (`ip4`, `ip6`) is converted as well.
 * See https://github.com/containernetworking/cni/blob/main/SPEC.md#add-success
 */

/** CniInterface is one interface a plugin created or configured. */
export interface CniInterface {
  name: string;
  mac?: string;
  /** sandbox is the netns path for interfaces inside the pod, absent for host-side ones. */
  sandbox?: string;
}

/** CniIpConfig is one IP address a plugin assigned. */
export interface CniIpConfig {
  /** address in CIDR notation, e.g. 10.85.0.5/16. */
  address: string;
  gateway?: string;
  /** interface is an index into `interfaces`. */
  interface?: number;
}

/** CniResult is the normalised result of an ADD. */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: { dst: string; gw?: string }[];
  dns: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/** parseCniResult normalises a plugin's ADD output (already JSON-decoded). It throws on a malformed result. */
export function parseCniResult(raw: unknown, fallbackVersion: string): CniResult {
  if (!isObject(raw)) throw new Error('CNI result is not a JSON object');
  const cniVersion = str(raw.cniVersion) ?? fallbackVersion;
  const dnsRaw = isObject(raw.dns) ? raw.dns : {};
  const dns = { nameservers: strs(dnsRaw.nameservers), domain: str(dnsRaw.domain), search: strs(dnsRaw.search), options: strs(dnsRaw.options) };
  const routes = (Array.isArray(raw.routes) ? raw.routes : []).filter(isObject).map((r) => ({ dst: str(r.dst) ?? '', gw: str(r.gw) }));
  if (/^0\.[12]\./.test(cniVersion) || (!('ips' in raw) && ('ip4' in raw || 'ip6' in raw))) {
    const ips: CniIpConfig[] = [];
    for (const k of ['ip4', 'ip6'] as const) {
      const v = raw[k];
      if (!isObject(v)) continue;
      const ip = str(v.ip);
      if (!ip) throw new Error(`CNI result ${k} has no ip`);
      ips.push({ address: ip, gateway: str(v.gateway) });
      if (Array.isArray(v.routes)) for (const r of v.routes.filter(isObject)) routes.push({ dst: str(r.dst) ?? '', gw: str(r.gw) });
    }
    return { cniVersion, interfaces: [], ips, routes, dns };
  }
  const interfaces = (Array.isArray(raw.interfaces) ? raw.interfaces : []).map((i, n) => {
    if (!isObject(i) || typeof i.name !== 'string') throw new Error(`CNI result interface ${n} has no name`);
    return { name: i.name, mac: str(i.mac), sandbox: str(i.sandbox) };
  });
  const ips = (Array.isArray(raw.ips) ? raw.ips : []).map((ip, n) => {
    if (!isObject(ip) || typeof ip.address !== 'string' || !ip.address.includes('/')) throw new Error(`CNI result ip ${n} has no CIDR address`);
    const iface = typeof ip.interface === 'number' ? ip.interface : undefined;
    if (iface !== undefined && (iface < 0 || iface >= interfaces.length)) throw new Error(`CNI result ip ${n} names interface ${iface}, which is not in the result`);
    return { address: ip.address, gateway: str(ip.gateway), interface: iface };
  });
  return { cniVersion, interfaces, ips, routes, dns };
}

/**
 * podIps picks the pod's IPs from a result: the addresses of interface `ifName` inside the sandbox (or every address
 * when the result does not say which interface they belong to), without prefix length, IPv4 first (containerd's
 * default ip_pref), each address once.
 */
export function podIps(result: CniResult, ifName: string): string[] {
  const chosen = result.ips.filter((ip) => {
    if (ip.interface === undefined) return true;
    const i = result.interfaces[ip.interface];
    return i !== undefined && i.name === ifName && i.sandbox !== undefined;
  });
  const bare = [...new Set(chosen.map((ip) => ip.address.split('/')[0]!))];
  return [...bare.filter((a) => !a.includes(':')), ...bare.filter((a) => a.includes(':'))];
}

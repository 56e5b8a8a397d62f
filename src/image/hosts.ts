import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { isErrno, invalidArgument } from '../errors/index.js';

/** Capability is what a registry host may be used for (containerd hosts.toml `capabilities`). */
export type Capability = 'pull' | 'resolve' | 'push';

/** RegistryHost is one endpoint a repository's requests may go to: a mirror, or the upstream server. */
export interface RegistryHost {
  /** base is the API root, `scheme://host[:port]/v2` unless the file overrides the path. */
  base: string;
  capabilities: Set<Capability>;
  skipVerify: boolean;
  /** ca holds the PEM bundles to trust on top of the system roots. */
  ca: Buffer[];
  header: Record<string, string>;
  /** server is true for the upstream server (the last entry). */
  server: boolean;
}

type TomlHost = {
  capabilities?: unknown;
  skip_verify?: unknown;
  ca?: unknown;
  header?: unknown;
  override_path?: unknown;
};

const ALL: Capability[] = ['pull', 'resolve', 'push'];
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

function caps(v: unknown, where: string): Set<Capability> {
  if (v === undefined) return new Set(ALL);
  if (!Array.isArray(v) || !v.every((c) => ALL.includes(c as Capability))) throw invalidArgument(`${where}: capabilities must be a list of pull, resolve, push`);
  return new Set(v as Capability[]);
}

async function readCa(v: unknown, dir: string, where: string): Promise<Buffer[]> {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((p) => typeof p === 'string')) throw invalidArgument(`${where}: ca must be a path or a list of paths`);
  return Promise.all((list).map((p) => readFile(p.startsWith('/') ? p : join(dir, p))));
}

function headers(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = Array.isArray(val) ? val.map(String).join(', ') : String(val);
  }
  return out;
}

function apiBase(raw: string, overridePath: boolean, where: string): string {
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `https://${raw}`);
  } catch {
    throw invalidArgument(`${where}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalidArgument(`${where}: only http and https hosts are supported`);
  let path = u.pathname.replace(/\/+$/, '');
  if (!overridePath && !path.endsWith('/v2')) path += '/v2';
  return `${u.protocol}//${u.host}${path}`;
}

async function host(raw: string, t: TomlHost, dir: string, server: boolean, where: string): Promise<RegistryHost> {
  return {
    base: apiBase(raw, t.override_path === true, where),
    capabilities: caps(t.capabilities, where),
    skipVerify: t.skip_verify === true,
    ca: await readCa(t.ca, dir, where),
    header: headers(t.header),
    server,
  };
}

/**
 * DOCKER_HUB_ENDPOINT is where `docker.io` references go: Docker Hub serves the registry API on another host than
 * the name images carry, and every runtime knows it (containerd's default host for docker.io, CRI-O's and
 * Docker's too), so that `crictl pull busybox` works on a fresh node.
 */
export const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';

/** defaultServer gives a registry's upstream endpoint when no hosts.toml names a `server`. */
export function defaultServer(domain: string): string {
  return domain === 'docker.io' ? DOCKER_HUB_ENDPOINT : domain;
}

/**
 * defaultHosts are the endpoints of a registry that has no hosts.toml: HTTPS (Docker Hub's endpoint for
 * docker.io), and plain HTTP too on loopback.
 */
export function defaultHosts(domain: string): RegistryHost[] {
  const mk = (scheme: string): RegistryHost => ({
    base: `${scheme}://${defaultServer(domain)}/v2`,
    capabilities: new Set(ALL),
    skipVerify: false,
    ca: [],
    header: {},
    server: true,
  });
  return LOOPBACK.test(domain) ? [mk('https'), mk('http')] : [mk('https')];
}

/**
 * resolveHosts reads `<configPath>/<domain>/hosts.toml` (else `<configPath>/_default/hosts.toml`) in containerd's
 * format (docs/hosts.md) and gives the endpoints to try, in order: the `[host."…"]` mirrors as written, then the
 * `server` (default `https://<domain>`, `https://registry-1.docker.io` for docker.io, as containerd), unless the
 * top-level `capabilities` leave the server without pull.
 */
export async function resolveHosts(configPath: string, domain: string): Promise<RegistryHost[]> {
  for (const dirName of [domain, '_default']) {
    const dir = join(configPath, dirName);
    const file = join(dir, 'hosts.toml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) continue;
      throw e;
    }
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text);
    } catch (e) {
      throw invalidArgument(`${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const out: RegistryHost[] = [];
    const hostTable = (doc.host ?? {}) as Record<string, TomlHost>;
    for (const [url, t] of Object.entries(hostTable)) out.push(await host(url, t ?? {}, dir, false, `${file} host ${url}`));
    const serverUrl = typeof doc.server === 'string' ? doc.server : `https://${defaultServer(domain)}`;
    const server = await host(serverUrl, doc, dir, true, `${file} server`);
    const dup = out.some((h) => h.base === server.base);
    if (!dup && (server.capabilities.has('pull') || server.capabilities.has('resolve'))) out.push(server);
    return out;
  }
  return defaultHosts(domain);
}

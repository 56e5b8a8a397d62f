import { invalidArgument } from '../errors/index.js';

/**
 * Reference is a parsed, normalised image reference, the way the kubelet and containerd read them
 * (github.com/distribution/reference, "normalize.go"): `busybox` is `docker.io/library/busybox:latest`.
 */
export interface Reference {
  /** domain is the registry host, with its port when one was given (`docker.io`, `127.0.0.1:5000`). */
  domain: string;
  /** path is the repository inside the registry (`library/busybox`). */
  path: string;
  /** tag is absent only when the reference names a digest alone. */
  tag?: string;
  /** digest is `sha256:<hex>` when the reference pins one. */
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_PART = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME = 255;

/** isDigest tells whether `s` is a well-formed `sha256:<64 hex>` digest, the only algorithm fune accepts. */
export function isDigest(s: string): boolean {
  return SHA256.test(s);
}

function validDomain(d: string): boolean {
  let host = d;
  const ipv6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(d);
  if (ipv6) return true;
  const colon = d.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d+$/.test(d.slice(colon + 1))) return false;
    host = d.slice(0, colon);
  }
  return host.split('.').every((p) => DOMAIN_PART.test(p));
}

/**
 * parseReference parses and normalises an image reference (`name[:tag][@digest]`). A reference with neither tag
 * nor digest gets `latest`. Malformed references are INVALID_ARGUMENT.
 */
export function parseReference(input: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid image reference ${JSON.stringify(input)}: ${why}`);
  const s = input.trim();
  if (s === '') throw bad('empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('malformed digest');
    if (!isDigest(digest)) throw bad('only sha256 digests are supported');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad('malformed tag');
  }
  if (rest === '') throw bad('missing repository name');
  if (/^[a-f0-9]{64}$/.test(rest) && !tag && !digest) throw bad('a 64-hex string is an image id, not a repository name');
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!validDomain(domain)) throw bad('malformed registry host');
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw bad(c.toLowerCase() !== c ? 'repository names must be lowercase' : 'malformed repository name');
  }
  if (domain.length + 1 + path.length > MAX_NAME) throw bad(`repository name longer than ${MAX_NAME} characters`);
  if (!tag && !digest) tag = 'latest';
  return { domain, path, tag, digest };
}

/** repoName gives `domain/path`, the repository a tag or digest belongs to. */
export function repoName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** formatReference gives the canonical string: `domain/path[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return `${repoName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** tagRef gives `domain/path:tag`, or undefined when the reference has no tag. */
export function tagRef(r: Reference): string | undefined {
  return r.tag ? `${repoName(r)}:${r.tag}` : undefined;
}

/** digestRef gives `domain/path@digest` for a manifest digest. */
export function digestRef(r: Reference, digest: string): string {
  return `${repoName(r)}@${digest}`;
}

/** familiarName shortens a canonical reference the way the docker CLI shows it (`docker.io/library/x` → `x`). */
export function familiarName(canonical: string): string {
  if (canonical.startsWith('docker.io/library/')) return canonical.slice('docker.io/library/'.length);
  if (canonical.startsWith('docker.io/')) return canonical.slice('docker.io/'.length);
  return canonical;
}

import type { Transport } from './transport.js';
import { RuntimeError } from '../errors/index.js';

/** Credentials are what the kubelet passes in a CRI AuthConfig, already decoded. */
export interface Credentials {
  username?: string;
  password?: string;
  /** identityToken is an OAuth2 refresh token, traded at the token endpoint. */
  identityToken?: string;
  /** registryToken is a bearer token sent as it is. */
  registryToken?: string;
}

/** credentialsFromAuthConfig reads CRI AuthConfig fields; `auth` is base64("user:password"). */
export function credentialsFromAuthConfig(a: { username?: string; password?: string; auth?: string; identity_token?: string; registry_token?: string } | null | undefined): Credentials | undefined {
  if (!a) return undefined;
  const c: Credentials = {};
  if (a.username) c.username = a.username;
  if (a.password) c.password = a.password;
  if (a.auth && !c.username) {
    const dec = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) {
      c.username = dec.slice(0, i);
      c.password = dec.slice(i + 1);
    }
  }
  if (a.identity_token) c.identityToken = a.identity_token;
  if (a.registry_token) c.registryToken = a.registry_token;
  return Object.keys(c).length ? c : undefined;
}

/** secretsOf lists the credential strings that must never reach a log line or an error. */
export function secretsOf(c: Credentials | undefined): string[] {
  if (!c) return [];
  const out = [c.password, c.identityToken, c.registryToken].filter((s): s is string => !!s);
  if (c.username && c.password) out.push(Buffer.from(`${c.username}:${c.password}`).toString('base64'));
  return out;
}

/** Challenge is one parsed WWW-Authenticate challenge. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** parseChallenge reads the first challenge of a WWW-Authenticate header (RFC 7235, quoted-string values). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

async function readJson(body: NodeJS.ReadableStream, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new Error('token response too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * authorize answers a challenge with the value of an Authorization header: Basic with the credentials, or a
 * Bearer token from the realm (docker "token" auth; an identity token is traded by the OAuth2 refresh_token
 * grant). Errors never carry credentials.
 */
export async function authorize(ch: Challenge, scope: string, creds: Credentials | undefined, t: Transport, signal: AbortSignal, tls: { skipVerify?: boolean; ca?: Buffer[] }): Promise<string> {
  if (ch.scheme === 'basic') {
    if (!creds?.username) throw new RuntimeError('FailedPrecondition', 'the registry asks for basic authentication and no credentials were given');
    return basic(creds);
  }
  if (ch.scheme !== 'bearer') throw new RuntimeError('FailedPrecondition', `unsupported authentication scheme ${ch.scheme}`);
  if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
  const realm = ch.params.realm;
  if (!realm) throw new RuntimeError('FailedPrecondition', 'bearer challenge without a realm');
  const u = new URL(realm);
  const service = ch.params.service;
  let res;
  if (creds?.identityToken) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'fune', scope });
    if (service) form.set('service', service);
    res = await t.request({ method: 'POST', url: u.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal, ...tls });
  } else {
    if (service) u.searchParams.set('service', service);
    u.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (creds?.username) headers.authorization = basic(creds);
    res = await t.request({ method: 'GET', url: u.toString(), headers, signal, ...tls });
  }
  if (res.status !== 200) {
    res.body.resume();
    throw new RuntimeError('FailedPrecondition', `token server ${u.origin}${u.pathname} refused the request: HTTP ${res.status}`);
  }
  const doc = (await readJson(res.body)) as { token?: string; access_token?: string };
  const token = doc.token ?? doc.access_token;
  if (!token) throw new RuntimeError('FailedPrecondition', `token server ${u.origin}${u.pathname} returned no token`);
  return `Bearer ${token}`;
}

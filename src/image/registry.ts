import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../log/index.js';
import { RuntimeError, isKind, errorMessage } from '../errors/index.js';
import type { RegistryHost, Capability } from './hosts.js';
import type { Transport, TransportResponse } from './transport.js';
import { authorize, parseChallenge, type Credentials } from './auth.js';
import { MANIFEST_ACCEPT } from './manifest.js';

/** RegistryOptions tune a client for one pull. */
export interface RegistryOptions {
  hosts: RegistryHost[];
  /** path is the repository inside the registry (`library/busybox`). */
  path: string;
  creds?: Credentials;
  transport: Transport;
  /** stallMs fails a request when no byte arrived for this long. */
  stallMs: number;
  signal: AbortSignal;
  log: Logger;
  /** retries per host for transient failures (network errors, 5xx, 429). */
  retries?: number;
  /** backoffMs is the first retry's delay; it doubles after each. */
  backoffMs?: number;
}

/** FetchedManifest is a manifest body, verified against the digest it was asked by (or computed for a tag). */
export interface FetchedManifest {
  body: Buffer;
  contentType: string;
  digest: string;
}

const MAX_MANIFEST = 4 << 20;
const MAX_REDIRECTS = 5;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const transient = (e: unknown) =>
  (e instanceof HttpError && (e.status >= 500 || e.status === 429 || e.status === 408)) || (!(e instanceof HttpError) && !(e instanceof RuntimeError));

/** sha256 gives `sha256:<hex>` of a buffer. */
export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/**
 * RegistryClient speaks the OCI distribution API for one repository: manifests and blobs, tried on each host in
 * order (mirrors first, then the server), with token/basic auth, retries and a stall watchdog. The host that
 * served the manifest is tried first for blobs, so a dead mirror costs one failure, not one per blob.
 */
export class RegistryClient {
  private readonly auth = new Map<string, string>();
  private preferred: RegistryHost | undefined;

  constructor(private readonly o: RegistryOptions) {}

  private hostsFor(cap: Capability): RegistryHost[] {
    const hs = this.o.hosts.filter((h) => h.capabilities.has(cap) || (cap === 'pull' && h.capabilities.has('resolve')));
    if (this.preferred && hs.includes(this.preferred)) return [this.preferred, ...hs.filter((h) => h !== this.preferred)];
    return hs;
  }

  /** fetchManifest gets a manifest by tag or digest; a digest is verified against the body. */
  async fetchManifest(refOrDigest: string): Promise<FetchedManifest> {
    const byDigest = refOrDigest.startsWith('sha256:');
    const { res, host } = await this.send(byDigest ? 'pull' : 'resolve', `/manifests/${refOrDigest}`, MANIFEST_ACCEPT, 'manifest');
    const body = await this.readLimited(res, MAX_MANIFEST);
    const digest = sha256(body);
    const header = res.headers['docker-content-digest'];
    if (byDigest && digest !== refOrDigest) throw new RuntimeError('FailedPrecondition', `manifest ${refOrDigest} from ${host.base}: content has digest ${digest}`);
    if (!byDigest && typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw new RuntimeError('FailedPrecondition', `manifest ${refOrDigest} from ${host.base}: Docker-Content-Digest ${header} does not match content ${digest}`);
    }
    this.preferred = host;
    return { body, contentType: String(res.headers['content-type'] ?? ''), digest };
  }

  /**
   * openBlob starts a blob download and gives its body; the stall watchdog keeps running while the caller reads
   * and fails the stream with DeadlineExceeded when no byte arrives for `stallMs`.
   */
  async openBlob(digest: string): Promise<Readable> {
    const { res } = await this.send('pull', `/blobs/${digest}`, '*/*', 'blob');
    return res.body;
  }

  private async readLimited(res: TransportResponse, limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > limit) throw new RuntimeError('FailedPrecondition', `response larger than ${limit} bytes`);
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  private async send(cap: Capability, suffix: string, accept: string, what: string): Promise<{ res: TransportResponse; host: RegistryHost }> {
    const hosts = this.hostsFor(cap);
    if (hosts.length === 0) throw new RuntimeError('FailedPrecondition', `no registry host may be used to ${cap} ${this.o.path}`);
    const errors: string[] = [];
    let notFound = false;
    let last: unknown;
    for (const host of hosts) {
      const retries = this.o.retries ?? 2;
      for (let attempt = 0; ; attempt++) {
        this.o.signal.throwIfAborted();
        try {
          const res = await this.attempt(host, suffix, accept);
          return { res, host };
        } catch (e) {
          last = e;
          if (this.o.signal.aborted || isKind(e, 'DeadlineExceeded')) throw e;
          if (transient(e) && attempt < retries) {
            const delay = (this.o.backoffMs ?? 200) * 2 ** attempt;
            this.o.log.debug({ host: host.base, what, attempt, err: errorMessage(e) }, 'registry request failed; retrying');
            await new Promise((r) => setTimeout(r, delay));
            continue;
          }
          if (e instanceof HttpError && e.status === 404) notFound = true;
          errors.push(`${host.base}: ${errorMessage(e)}`);
          if (!host.server) this.o.log.warn({ host: host.base, what, err: errorMessage(e) }, 'registry mirror failed; trying the next host');
          break;
        }
      }
    }
    const msg = `${what} ${this.o.path}${suffix.slice(suffix.lastIndexOf('/'))} could not be fetched: ${errors.join('; ')}`;
    if (notFound && errors.length === hosts.length && errors.every((x) => x.includes('HTTP 404'))) throw new RuntimeError('NotFound', msg);
    if (last instanceof RuntimeError) throw new RuntimeError(last.kind, msg);
    throw new RuntimeError('Unavailable', msg);
  }

  /** attempt makes one request on one host: auth challenge answered once, redirects followed, stall watched. */
  private async attempt(host: RegistryHost, suffix: string, accept: string): Promise<TransportResponse> {
    const ac = new AbortController();
    const stallError = () => new RuntimeError('DeadlineExceeded', `no data from ${host.base} for ${this.o.stallMs} ms (stall timeout)`);
    let timer: NodeJS.Timeout | undefined;
    // One timer per request, pushed back on every chunk (refresh is cheap; a new timer per chunk is not).
    const arm = () => {
      if (timer) timer.refresh();
      else timer = setTimeout(() => ac.abort(stallError()), this.o.stallMs);
    };
    const onOuter = () => ac.abort(this.o.signal.reason);
    this.o.signal.addEventListener('abort', onOuter, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      this.o.signal.removeEventListener('abort', onOuter);
    };
    arm();
    try {
      const scope = `repository:${this.o.path}:pull`;
      const authKey = `${host.base}|${scope}`;
      let url = `${host.base}/${this.o.path}${suffix}`;
      let authTried = false;
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const sameHost = new URL(url).host === new URL(host.base).host;
        const headers: Record<string, string> = { accept, 'user-agent': 'fune', ...host.header };
        const a = this.auth.get(authKey);
        if (a && sameHost) headers.authorization = a;
        const res = await this.o.transport.request({ method: 'GET', url, headers, signal: ac.signal, skipVerify: host.skipVerify, ca: host.ca });
        arm();
        if (res.status === 401 && sameHost && !authTried) {
          res.body.resume();
          authTried = true;
          const ch = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
          if (!ch) throw new HttpError(401, 'HTTP 401 without an authentication challenge');
          this.auth.set(authKey, await authorize(ch, scope, this.o.creds, this.o.transport, ac.signal, host));
          arm();
          hop--;
          continue;
        }
        if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
          res.body.resume();
          url = new URL(String(res.headers.location), url).toString();
          continue;
        }
        if (res.status !== 200) {
          res.body.resume();
          throw new HttpError(res.status, `HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (authentication failed or access denied)' : ''}`);
        }
        return this.watch(res, ac, arm, cleanup);
      }
      throw new HttpError(310, 'too many redirects');
    } catch (e) {
      cleanup();
      if (ac.signal.aborted && isKind(ac.signal.reason, 'DeadlineExceeded')) throw ac.signal.reason;
      throw e;
    }
  }

  private watch(res: TransportResponse, ac: AbortController, arm: () => void, cleanup: () => void): TransportResponse {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    res.body.on('data', arm);
    res.body.on('end', cleanup);
    res.body.on('error', (e) => {
      cleanup();
      out.destroy(ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : e);
    });
    ac.signal.addEventListener('abort', () => {
      cleanup();
      out.destroy(ac.signal.reason instanceof Error ? ac.signal.reason : new Error('aborted'));
    }, { once: true });
    res.body.pipe(out);
    return { ...res, body: out };
  }
}

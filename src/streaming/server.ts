import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { WebSocketServer, WebSocket } from 'ws';
import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import { IdleTimer } from './idle.js';
import { PORTFORWARD_PROTOCOLS, servePortForwardSpdy } from './spdy-portforward.js';
import { REMOTECOMMAND_PROTOCOLS, serveCommandSpdy } from './spdy-remotecommand.js';
import { SpdySession, type SessionLimits } from './spdy-session.js';
import { TokenCache } from './token-cache.js';
import type { StreamRequest, StreamRuntime } from './types.js';
import type { StreamingMetrics } from '../domain/metrics-port.js';
import { serveCommandWs, serveForwardWs, WS_COMMAND_PROTOCOLS, WS_PORTFORWARD_PROTOCOLS } from './websocket.js';

// `ws` is loaded at the first WebSocket upgrade (createRequire keeps that synchronous): an idle daemon does not need
// it, and loading it at start-up cost the idle daemon about 1 MiB of RSS.
const requireLazy = createRequire(import.meta.url);

/** StreamingServerOptions configure the streaming server (the `[streaming]` config section, durations in ms). */
export interface StreamingServerOptions {
  address: string;
  port: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tokenTtlMs: number;
  maxTokens: number;
  idleTimeoutMs: number;
  streamCreationTimeoutMs: number;
  /** maxConnections caps upgraded connections (HTTP 503 beyond) and, apart, those waiting to upgrade (closed). */
  maxConnections?: number;
  /** upgradeTimeoutMs: a connection not upgraded this long after accept is closed (slowloris). */
  upgradeTimeoutMs?: number;
  runtime: StreamRuntime;
  clock: Clock;
  log: Logger;
  limits?: Partial<SessionLimits>;
  /** metrics hears of sessions opened, closed and refused (undefined when `[metrics]` is off). */
  metrics?: StreamingMetrics;
}

/** DEFAULT_MAX_CONNECTIONS and DEFAULT_UPGRADE_TIMEOUT_MS are the `[streaming]` defaults. */
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_UPGRADE_TIMEOUT_MS = 10_000;

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,64})$/;

/**
 * StreamingServer serves the URLs that Exec, Attach and PortForward return: an HTTP(S) server whose only routes are
 * `/exec|attach|portforward/<token>`, upgraded to SPDY/3.1 or WebSocket. `issue` stores a validated request and
 * gives its URL; a token is good for one connection until its TTL passes.
 *
 * At most `maxConnections` upgraded connections are open at once: one more upgrade request is answered HTTP 503
 * (its request was read, so the client can tell why; its token stays good until its TTL) and running sessions go
 * on. Connections not upgraded yet are capped apart at the same number, and each must upgrade within
 * `upgradeTimeoutMs` of its accept: beyond the cap a connection is closed at accept (nothing of it was read, and a
 * flood of them is not worth a reply), and one too slow is closed.
 */
export class StreamingServer {
  private server?: http.Server | https.Server;
  private readonly tokens: TokenCache<StreamRequest>;
  private wssMade?: WebSocketServer;
  private readonly live = new Set<{ destroy(): void }>();

  /** wss is the WebSocket upgrader, made (and `ws` loaded) at the first WebSocket upgrade. */
  private wss(): WebSocketServer {
    if (!this.wssMade) {
      const { WebSocketServer: Wss } = requireLazy('ws') as typeof import('ws');
      this.wssMade = new Wss({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    }
    return this.wssMade;
  }
  /** pending maps each accepted connection not upgraded yet to the cancel of its deadline. */
  private readonly pending = new Map<Duplex, () => void>();
  private base = '';

  constructor(private readonly opts: StreamingServerOptions) {
    this.tokens = new TokenCache({ ttlMs: opts.tokenTtlMs, max: opts.maxTokens, clock: opts.clock });
  }

  /** baseUrl is `http(s)://host:port` once started. */
  get baseUrl(): string {
    return this.base;
  }

  /** connections is the number of upgraded connections still open. */
  get connections(): number {
    return this.live.size;
  }

  /** waiting is the number of accepted connections that have not upgraded yet. */
  get waiting(): number {
    return this.pending.size;
  }

  /** openStreams is the number of SPDY streams all open connections still track (a leak check). */
  get openStreams(): number {
    let n = 0;
    for (const c of this.live) if (c instanceof SpdySession) n += c.openStreams;
    return n;
  }

  /** start listens on the configured address and port (0 = any free port). */
  async start(): Promise<void> {
    const tls = this.opts.tlsCertFile && this.opts.tlsKeyFile;
    const srv = tls
      ? https.createServer({
          cert: await readFile(this.opts.tlsCertFile!), key: await readFile(this.opts.tlsKeyFile!), handshakeTimeout: this.opts.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
        })
      : http.createServer();
    srv.on(tls ? 'secureConnection' : 'connection', (socket: Duplex) => this.onConnection(socket));
    srv.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res));
    srv.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    srv.on('clientError', (_err, socket: Duplex) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.opts.port, this.opts.address, () => resolve());
    });
    this.server = srv;
    const a = srv.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.base = `${tls ? 'https' : 'http'}://${host}:${a.port}`;
    this.opts.log.info({ url: this.base }, 'streaming server listening');
  }

  /** stop closes the listener and every open streaming connection. */
  async stop(): Promise<void> {
    for (const c of this.live) c.destroy();
    this.live.clear();
    for (const [socket, cancel] of this.pending) {
      cancel();
      socket.destroy();
    }
    this.pending.clear();
    const srv = this.server;
    if (!srv) return;
    this.server = undefined;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  /** issue stores a validated request and returns its one-time URL; beyond the cap it throws ResourceExhausted. */
  issue(req: StreamRequest): string {
    try {
      return `${this.base}/${req.kind}/${this.tokens.insert(req)}`;
    } catch (e) {
      this.opts.metrics?.sessionRefused(req.kind, 'exhausted');
      throw e;
    }
  }

  /** take consumes the token of a request's URL; a URL with no live token of its kind counts as refused. */
  private take(req: http.IncomingMessage): StreamRequest | undefined {
    const m = ROUTE.exec((req.url ?? '').split('?')[0]!);
    const found = m && (req.method === 'GET' || req.method === 'POST') ? this.tokens.consume(m[2]!) : undefined;
    if (found && found.kind === m![1]) return found;
    this.opts.metrics?.sessionRefused((m?.[1] as StreamRequest['kind'] | undefined) ?? 'unknown', 'token');
    return undefined;
  }

  private onConnection(socket: Duplex): void {
    const max = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.pending.size >= max) {
      this.opts.log.debug({ limit: max }, 'too many streaming connections waiting to upgrade: closed');
      socket.destroy();
      return;
    }
    const cancel = this.opts.clock.setTimeout(() => {
      this.opts.log.debug('streaming connection did not upgrade in time: closed');
      this.pending.delete(socket);
      socket.destroy();
    }, this.opts.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS);
    this.pending.set(socket, cancel);
    socket.once('close', () => this.upgraded(socket));
  }

  /** upgraded ends the upgrade deadline of `socket` (it upgraded, or it is gone). */
  private upgraded(socket: Duplex): void {
    this.pending.get(socket)?.();
    this.pending.delete(socket);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const found = this.take(req);
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    this.opts.metrics?.sessionRefused(found.kind, 'protocol');
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('unable to upgrade: missing upgrade headers in request\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const max = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.live.size >= max) {
      this.opts.log.debug({ limit: max }, 'too many streaming connections: upgrade refused');
      this.opts.metrics?.sessionRefused((ROUTE.exec((req.url ?? '').split('?')[0]!)?.[1] as StreamRequest['kind'] | undefined) ?? 'unknown', 'connections');
      return reject(socket, 503, `unable to upgrade: too many streaming connections (at most ${max})`, ['Retry-After: 1']);
    }
    const found = this.take(req);
    if (!found) return reject(socket, 404, '404 page not found');
    const refuse = (code: number, body: string, extra?: string[]) => {
      this.opts.metrics?.sessionRefused(found.kind, 'protocol');
      reject(socket, code, body, extra);
    };
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') return this.upgradeWs(req, socket, head, found);
    const offered = headerList(req, 'x-stream-protocol-version');
    if (offered.length === 0) return refuse(400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    const accepted = found.kind === 'portforward' ? PORTFORWARD_PROTOCOLS : REMOTECOMMAND_PROTOCOLS;
    const protocol = offered.find((p) => accepted.includes(p));
    if (!protocol) {
      const msg = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${accepted.join(' ')}]`;
      return refuse(403, msg, accepted.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`));
    }
    const connection = headerList(req, 'connection').map((s) => s.toLowerCase());
    if (!connection.includes('upgrade') || !upgrade.includes('spdy/3.1')) {
      return refuse(400, `unable to upgrade: missing upgrade headers in request: ${JSON.stringify(req.headers)}`);
    }
    this.upgraded(socket);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') (socket.setNoDelay as (b: boolean) => void)(true);
    const log = this.opts.log.child({ stream: found.kind, protocol });
    const session = new SpdySession(socket, log, this.opts.limits);
    const idle = new IdleTimer(this.opts.clock, this.opts.idleTimeoutMs, () => {
      log.debug('streaming connection idle: closing');
      session.close();
      session.destroy();
    });
    session.on('activity', () => idle.touch());
    this.live.add(session);
    this.opts.metrics?.sessionOpened(found.kind);
    session.once('close', () => {
      idle.stop();
      this.live.delete(session);
      this.opts.metrics?.sessionClosed(found.kind);
    });
    const deps = { runtime: this.opts.runtime, clock: this.opts.clock, streamCreationTimeoutMs: this.opts.streamCreationTimeoutMs, log };
    if (found.kind === 'portforward') servePortForwardSpdy(session, found, deps);
    else serveCommandSpdy(session, protocol, found, deps);
    session.start(head);
  }

  private upgradeWs(req: http.IncomingMessage, socket: Duplex, head: Buffer, found: StreamRequest): void {
    const accepted = found.kind === 'portforward' ? WS_PORTFORWARD_PROTOCOLS : WS_COMMAND_PROTOCOLS;
    const offered = headerList(req, 'sec-websocket-protocol');
    const protocol = offered.length === 0 ? '' : offered.find((p) => accepted.includes(p));
    if (protocol === undefined) {
      this.opts.metrics?.sessionRefused(found.kind, 'protocol');
      return reject(socket, 400, `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${accepted.join(' ')}]`);
    }
    this.wss().handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.upgraded(socket);
      const log = this.opts.log.child({ stream: found.kind, protocol: protocol || 'websocket' });
      const conn = { destroy: () => ws.terminate() };
      const idle = new IdleTimer(this.opts.clock, this.opts.idleTimeoutMs, () => ws.terminate());
      this.live.add(conn);
      this.opts.metrics?.sessionOpened(found.kind);
      ws.once('close', () => {
        idle.stop();
        this.live.delete(conn);
        this.opts.metrics?.sessionClosed(found.kind);
      });
      ws.on('error', (err) => log.debug({ err }, 'websocket error'));
      const deps = { runtime: this.opts.runtime, log, onActivity: () => idle.touch(), socket, maxQueuedBytes: this.opts.limits?.maxQueuedBytes };
      if (found.kind === 'portforward') serveForwardWs(ws, protocol, found, deps);
      else serveCommandWs(ws, protocol, found, deps);
    });
  }
}

/** headerList gives every comma-separated value of a header over all its lines, in order. */
function headerList(req: http.IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) continue;
    for (const v of req.rawHeaders[i + 1]!.split(',')) if (v.trim()) out.push(v.trim());
  }
  return out;
}

function reject(socket: Duplex, code: number, body: string, extra: string[] = []): void {
  const reason = http.STATUS_CODES[code] ?? 'Error';
  const text = body + '\n';
  const lines = [`HTTP/1.1 ${code} ${reason}`, ...extra, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close'];
  socket.end(lines.join('\r\n') + '\r\n\r\n' + text);
}

import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { DirectConnection, type DirectMethod } from './h2-direct.js';
import { dirname } from 'node:path';
import type { Logger } from '../log/index.js';
import { isErrno } from '../errors/index.js';
import { routeConnection } from './h2-route.js';
import { unimplementedHandler, wrapStream, wrapUnary, type Readiness } from './instrument.js';
import { loadCriServices } from './protos.js';
import type { AnyRpc, ApiVersion } from './rpc.js';
import type { CallMetrics } from '../domain/metrics-port.js';

/** RpcTable maps CRI method names to their verbs; a method absent from it answers UNIMPLEMENTED. */
export type RpcTable = ReadonlyMap<string, AnyRpc>;

function implement(def: ServiceDefinition, table: RpcTable, deps: { log: Logger; readiness: Readiness; apiVersion: ApiVersion; metrics?: CallMetrics }) {
  const impl: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(def)) {
    const rpc = table.get(name);
    const streaming = method.responseStream;
    if (!rpc || (rpc.kind === 'stream') !== streaming) impl[name] = unimplementedHandler(name, streaming, deps.metrics);
    else impl[name] = rpc.kind === 'unary' ? wrapUnary(rpc, deps) : wrapStream(rpc, deps);
  }
  return impl;
}

/** MAX_RECEIVE is the largest request message accepted. */
const MAX_RECEIVE = 16 * 1024 * 1024;

/**
 * CriServer is the CRI served two ways: by the direct server (h2-direct.ts), and with `grpc.server = "grpc-js"`
 * by grpc-js for the clients whose `:authority` Node's http2 accepts. Both run the same handlers.
 */
export interface CriServer {
  /** methods maps each gRPC path (`/runtime.v1.RuntimeService/Version`) to its handler and codecs. */
  methods: ReadonlyMap<string, DirectMethod>;
  /** services are the service definitions with their handlers, for a grpc-js server (made by listen only then). */
  services: readonly { def: ServiceDefinition; impl: UntypedServiceImplementation }[];
}

/**
 * buildCriServer gives the handlers of RuntimeService and ImageService of both `runtime.v1` and `runtime.v1alpha2`.
 * Both packages share field numbers for every shared message, so the same verbs serve both; fields that only v1
 * has are simply not encoded for v1alpha2 clients. `metrics` (when `[metrics]` is on) hears of every call,
 * whichever of the two servers took it: both run the handlers made here.
 */
export function buildCriServer(table: RpcTable, log: Logger, readiness: Readiness, metrics?: CallMetrics): CriServer {
  const methods = new Map<string, DirectMethod>();
  const services: { def: ServiceDefinition; impl: UntypedServiceImplementation }[] = [];
  for (const apiVersion of ['v1', 'v1alpha2'] as const) {
    const defs = loadCriServices(apiVersion);
    const deps = { log, readiness, apiVersion, metrics };
    for (const def of [defs.runtime, defs.image]) {
      const impl = implement(def, table, deps);
      services.push({ def, impl });
      for (const [name, m] of Object.entries(def)) {
        methods.set(m.path, {
          responseStream: m.responseStream,
          deserialize: m.requestDeserialize,
          serialize: m.responseSerialize as (v: unknown) => Buffer,
          handler: impl[name] as DirectMethod['handler'],
        });
      }
    }
  }
  return { methods, services };
}

/**
 * grpcJsServer makes the grpc-js server of `server`'s services, and the function that hands it a connection.
 * grpc-js (with Node's http2) is loaded here, so only by a daemon configured with `grpc.server = "grpc-js"`: the
 * default direct server never loads it, which keeps about 3 MiB off the idle daemon's RSS.
 */
function grpcJsServer(server: CriServer): { grpc: Server; inject: (conn: Socket) => void } {
  const grpcJs = createRequire(import.meta.url)('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const grpc = new grpcJs.Server({
    'grpc.max_receive_message_length': MAX_RECEIVE,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // grpc-js keeps channelz records of every connection and call unless told not to; fune exposes no channelz
    // service, so they would only cost time on each connection (about 0.4 ms of CPU per crictl run).
    'grpc.enable_channelz': 0,
  });
  for (const { def, impl } of server.services) grpc.addService(def, impl);
  const injector = grpc.createConnectionInjector(grpcJs.ServerCredentials.createInsecure());
  return { grpc, inject: (conn) => injector.injectConnection(conn) };
}

/**
 * prepareSocketPath makes the socket's parent directories and removes a stale socket file. A socket that still
 * answers belongs to a live daemon and is an error.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o711 });
  try {
    const st = await stat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another process is serving on ${path}`);
  await rm(path, { force: true });
}

/** CriListener is the unix socket fune accepts CRI connections on. */
export interface CriListener {
  /** server is the grpc-js server, with `grpc.server = "grpc-js"` only. */
  server?: Server;
  socket: NetServer;
  /** direct are the open connections of the direct server. */
  direct: Set<DirectConnection>;
}

/**
 * CriServerChoice is which server takes the CRI connections (`grpc.server`): "direct" hands every connection to
 * the direct HTTP/2 server (h2-direct.ts) at once; "grpc-js" gives those whose `:authority` Node's http2 accepts to
 * grpc-js and the rest (the socket path as authority) to the direct server, as routeConnection decides.
 */
export type CriServerChoice = 'direct' | 'grpc-js';

/** EMPTY_SETTINGS is the direct server's preface: a SETTINGS frame that changes nothing (its settings are the defaults). */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/**
 * listen accepts connections on the unix socket at `path` (mode 0660) and hands each to the direct server, or with
 * `choice` "grpc-js" to the grpc-js server, except for the Go clients that name the socket path as `:authority`
 * (see routeConnection), which go to the direct server either way.
 */
export async function listen(server: CriServer, path: string, choice: CriServerChoice = 'direct'): Promise<CriListener> {
  await prepareSocketPath(path);
  const js = choice === 'grpc-js' ? grpcJsServer(server) : undefined;
  const direct = new Set<DirectConnection>();
  const routes = {
    native: (conn: Socket) => js!.inject(conn),
    direct: (conn: Socket, initial: Buffer) => {
      direct.add(new DirectConnection(conn, initial, server.methods, { maxMessage: MAX_RECEIVE }, (c) => direct.delete(c)));
    },
  };
  const socket = createServer((conn) => {
    if (choice === 'grpc-js') return routeConnection(conn, routes);
    conn.write(EMPTY_SETTINGS);
    routes.direct(conn, Buffer.alloc(0));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.listen(path, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o660);
  return { server: js?.grpc, socket, direct };
}

/** shutdown stops accepting connections, lets in-flight calls finish within `timeoutMs`, then cuts the rest. */
export async function shutdown(l: CriListener, timeoutMs: number): Promise<void> {
  l.socket.close();
  for (const c of l.direct) c.shutdown();
  const directDone = async () => {
    while (l.direct.size > 0) await new Promise((r) => setTimeout(r, 10));
  };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      l.server?.forceShutdown();
      for (const c of l.direct) c.destroy();
      resolve();
    }, timeoutMs);
    const rest = () => {
      void directDone().then(() => {
        clearTimeout(timer);
        resolve();
      });
    };
    if (l.server) l.server.tryShutdown(rest);
    else rest();
  });
}

import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log/index.js';
import { isErrno } from '../errors/index.js';
import { routeConnection } from './h2-route.js';
import { unimplementedHandler, wrapStream, wrapUnary, type Readiness } from './instrument.js';
import { loadCriServices } from './protos.js';
import type { AnyRpc, ApiVersion } from './rpc.js';

/** RpcTable maps CRI method names to their verbs; a method absent from it answers UNIMPLEMENTED. */
export type RpcTable = ReadonlyMap<string, AnyRpc>;

function implement(def: ServiceDefinition, table: RpcTable, deps: { log: Logger; readiness: Readiness; apiVersion: ApiVersion }) {
  const impl: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(def)) {
    const rpc = table.get(name);
    const streaming = method.responseStream;
    if (!rpc || (rpc.kind === 'stream') !== streaming) impl[name] = unimplementedHandler(name, streaming);
    else impl[name] = rpc.kind === 'unary' ? wrapUnary(rpc, deps) : wrapStream(rpc, deps);
  }
  return impl;
}

/**
 * buildCriServer registers RuntimeService and ImageService of both `runtime.v1` and `runtime.v1alpha2` on one
 * grpc-js server. Both packages share field numbers for every shared message, so the same verbs serve both; fields
 * that only v1 has are simply not encoded for v1alpha2 clients.
 */
export function buildCriServer(table: RpcTable, log: Logger, readiness: Readiness): Server {
  const server = new Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // grpc-js keeps channelz records of every connection and call unless told not to; fune exposes no channelz
    // service, so they would only cost time on each connection (about 0.4 ms of CPU per crictl run).
    'grpc.enable_channelz': 0,
  });
  for (const apiVersion of ['v1', 'v1alpha2'] as const) {
    const defs = loadCriServices(apiVersion);
    const deps = { log, readiness, apiVersion };
    server.addService(defs.runtime, implement(defs.runtime, table, deps));
    server.addService(defs.image, implement(defs.image, table, deps));
  }
  return server;
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
  server: Server;
  socket: NetServer;
}

/**
 * listen accepts connections on the unix socket at `path` (mode 0660) and hands each to the grpc-js server, through
 * an AuthorityFixingSocket for the Go clients that name the socket path as `:authority` (see routeConnection).
 */
export async function listen(server: Server, path: string): Promise<CriListener> {
  await prepareSocketPath(path);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const socket = createServer((conn) => routeConnection(conn, (s) => injector.injectConnection(s)));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.listen(path, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o660);
  return { server, socket };
}

/** shutdown stops accepting connections, lets in-flight calls finish within `timeoutMs`, then cuts the rest. */
export async function shutdown(l: CriListener, timeoutMs: number): Promise<void> {
  l.socket.close();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      l.server.forceShutdown();
      resolve();
    }, timeoutMs);
    l.server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

import type { Logger } from '../log/index.js';

/** ApiVersion is the CRI package a call came in through. */
export type ApiVersion = 'v1' | 'v1alpha2';

/** LogLevel is the level at which a verb's completion is logged: mutations at info, exec at debug, reads at trace. */
export type LogLevel = 'info' | 'debug' | 'trace';

/** CallContext is what every handler gets besides its request. */
export interface CallContext {
  /** signal fires when the client cancels or the call's deadline passes. */
  signal: AbortSignal;
  /** log is a child logger carrying `rpc` and the call's pod and container ids. */
  log: Logger;
  apiVersion: ApiVersion;
}

/** Ids are the object ids a request names, for the call's logger. */
export interface Ids {
  podSandboxId?: string;
  containerId?: string;
  image?: string;
}

interface RpcBase<Req> {
  name: string;
  level: LogLevel;
  ids?: (req: Req) => Ids;
  /** secrets names the strings of a request that must never appear in an error (credentials). */
  secrets?: (req: Req) => string[];
}

/** UnaryRpc is a request/response verb. */
export interface UnaryRpc<Req = never, Res = unknown> extends RpcBase<Req> {
  kind: 'unary';
  handle(req: Req, ctx: CallContext): Promise<Res>;
}

/** StreamRpc is a server-streaming verb (GetContainerEvents and the Stream* listings). */
export interface StreamRpc<Req = never, Res = unknown> extends RpcBase<Req> {
  kind: 'stream';
  handle(req: Req, ctx: CallContext, send: (msg: Res) => Promise<void>): Promise<void>;
}

/** AnyRpc is any verb, with its request and response types erased for the table. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRpc = UnaryRpc<any, unknown> | StreamRpc<any, unknown>;

/** unary declares a request/response verb. */
export function unary<Req, Res>(
  name: string,
  level: LogLevel,
  handle: (req: Req, ctx: CallContext) => Promise<Res>,
  opts: Pick<RpcBase<Req>, 'ids' | 'secrets'> = {},
): UnaryRpc<Req, Res> {
  return { kind: 'unary', name, level, handle, ...opts };
}

/** stream declares a server-streaming verb. */
export function stream<Req, Res>(
  name: string,
  level: LogLevel,
  handle: (req: Req, ctx: CallContext, send: (msg: Res) => Promise<void>) => Promise<void>,
  opts: Pick<RpcBase<Req>, 'ids' | 'secrets'> = {},
): StreamRpc<Req, Res> {
  return { kind: 'stream', name, level, handle, ...opts };
}

import type { handleUnaryCall, handleServerStreamingCall, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from '../log/index.js';
import type { CallMetrics } from '../domain/metrics-port.js';
import { codeName, status, statusName, toStatus } from './grpc-status.js';
import type { AnyRpc, ApiVersion, CallContext } from './rpc.js';

/** Readiness is the gate every call passes: closed until start-up recovery has finished. */
export interface Readiness {
  ready: boolean;
}

/** InstrumentDeps are what the wrapper needs from the daemon. */
export interface InstrumentDeps {
  log: Logger;
  readiness: Readiness;
  apiVersion: ApiVersion;
  /** metrics hears of every call's verb, code and time (undefined when `[metrics]` is off). */
  metrics?: CallMetrics;
}

type Call = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

/**
 * callSignal gives an AbortSignal that fires when the client cancels the call or its deadline passes, and a
 * function that releases the timer and listener once the call is over. The controller, the deadline timer and the
 * 'cancelled' listener are made when a handler first reads the signal: most calls (the kubelet's relist: status
 * and list reads) never do, and those three cost about 15 µs of each call's CPU and garbage. Read late, the signal
 * is already aborted if the call was cancelled or its deadline has passed by then.
 */
function callSignal(call: Call): { signal: () => AbortSignal; done: () => void } {
  let ac: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onCancel = () => ac!.abort(new Error('the client cancelled the call'));
  const signal = (): AbortSignal => {
    if (ac) return ac.signal;
    const c = (ac = new AbortController());
    if (call.cancelled) {
      c.abort(new Error('the client cancelled the call'));
      return c.signal;
    }
    call.on('cancelled', onCancel);
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(at) && at > 0) {
      const ms = Math.max(0, at - Date.now());
      timer = setTimeout(() => c.abort(new Error('the call deadline passed')), Math.min(ms, 2 ** 31 - 1));
    }
    return c.signal;
  };
  return {
    signal,
    done: () => {
      if (!ac) return;
      clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

function prepare(rpc: AnyRpc, deps: InstrumentDeps, call: Call) {
  const req = call.request;
  // The call's child logger is made when something logs: most calls are reads that log nothing at the usual
  // levels, and a pino child (bindings serialised) cost ~0.1 ms of each crictl run.
  let child: Logger | undefined;
  const log = (): Logger => (child ??= deps.log.child({ rpc: rpc.name, api: deps.apiVersion, ...(rpc.ids ? safe(() => rpc.ids!(req as never)) : {}) }));
  const { signal, done } = callSignal(call);
  const ctx: CallContext = {
    get signal() {
      return signal();
    },
    get log() {
      return log();
    },
    apiVersion: deps.apiVersion,
  };
  const secrets = rpc.secrets ? safe(() => rpc.secrets!(req as never)) ?? [] : [];
  return { req, log, ctx, done, secrets, start: performance.now() };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

const NOT_READY = { code: status.UNAVAILABLE, details: 'fune is starting: state recovery has not finished yet' };

/** wrapUnary gives the grpc-js handler of a unary verb: readiness gate, child logger, signal, error mapping. */
export function wrapUnary(rpc: Extract<AnyRpc, { kind: 'unary' }>, deps: InstrumentDeps): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    if (!deps.readiness.ready) {
      notReady(deps, rpc.name);
      return callback({ ...NOT_READY, message: NOT_READY.details, name: 'Error' });
    }
    const p = prepare(rpc, deps, call);
    rpc.handle(p.req as never, p.ctx).then(
      (res) => {
        p.done();
        if (deps.log.isLevelEnabled(rpc.level)) p.log()[rpc.level]({ durationMs: ms(p.start) }, `${rpc.name} done`);
        deps.metrics?.criCall(rpc.name, 'OK', seconds(p.start));
        callback(null, res);
      },
      (err: unknown) => {
        p.done();
        const st = toStatus(err, p.secrets);
        logFailure(p.log(), rpc, st.code, err, p.start);
        deps.metrics?.criCall(rpc.name, codeName(st.code), seconds(p.start));
        callback({ ...st, name: 'Error' });
      },
    );
  };
}

/** wrapStream gives the grpc-js handler of a server-streaming verb, with the same plumbing as wrapUnary. */
export function wrapStream(rpc: Extract<AnyRpc, { kind: 'stream' }>, deps: InstrumentDeps): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    if (!deps.readiness.ready) {
      notReady(deps, rpc.name);
      return call.destroy(Object.assign(new Error(NOT_READY.details), { code: status.UNAVAILABLE }));
    }
    const p = prepare(rpc, deps, call);
    const send = (msg: unknown) =>
      new Promise<void>((resolve) => {
        if (call.cancelled || call.writableEnded) return resolve();
        if (call.write(msg)) resolve();
        else call.once('drain', () => resolve());
      });
    rpc.handle(p.req as never, p.ctx, send).then(
      () => {
        p.done();
        if (deps.log.isLevelEnabled(rpc.level)) p.log()[rpc.level]({ durationMs: ms(p.start) }, `${rpc.name} done`);
        deps.metrics?.criCall(rpc.name, call.cancelled ? 'Canceled' : 'OK', seconds(p.start));
        if (!call.cancelled) call.end();
      },
      (err: unknown) => {
        p.done();
        const st = toStatus(err, p.secrets);
        logFailure(p.log(), rpc, st.code, err, p.start);
        deps.metrics?.criCall(rpc.name, codeName(st.code), seconds(p.start));
        if (!call.cancelled) call.destroy(Object.assign(new Error(st.details), { code: st.code, details: st.details }));
      },
    );
  };
}

function logFailure(log: Logger, rpc: AnyRpc, code: status, err: unknown, start: number): void {
  const serious = code === status.INTERNAL || code === status.UNKNOWN;
  log[serious ? 'error' : rpc.level === 'trace' ? 'debug' : 'info']({ durationMs: ms(start), code: statusName(code), err }, `${rpc.name} failed`);
}

const ms = (start: number) => Math.round((performance.now() - start) * 100) / 100;
const seconds = (start: number) => (performance.now() - start) / 1000;

function notReady(deps: InstrumentDeps, name: string): void {
  deps.metrics?.criCall(name, 'Unavailable', 0);
}

/** unimplementedHandler answers UNIMPLEMENTED, naming the verb (and counts the call when metrics are on). */
export function unimplementedHandler(name: string, streaming: boolean, metrics?: CallMetrics): handleUnaryCall<unknown, unknown> | handleServerStreamingCall<unknown, unknown> {
  const details = `${name} is not implemented by fune`;
  if (streaming) {
    return ((call: ServerWritableStream<unknown, unknown>) => {
      metrics?.criCall(name, 'Unimplemented', 0);
      call.destroy(Object.assign(new Error(details), { code: status.UNIMPLEMENTED, details }));
    });
  }
  const unaryHandler: handleUnaryCall<unknown, unknown> = (_call, cb) => {
    metrics?.criCall(name, 'Unimplemented', 0);
    cb({ code: status.UNIMPLEMENTED, details, message: details, name: 'Error' });
  };
  return unaryHandler;
}

import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import { RstStatus } from './spdy-frame.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';
import type { PortForwardRequestInfo, StreamRuntime } from './types.js';

/** PORTFORWARD_PROTOCOLS are the SPDY subprotocols fune accepts for port-forward. */
export const PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'];

/** ForwardDeps are what serving one port-forward connection needs. */
export interface ForwardDeps {
  runtime: StreamRuntime;
  clock: Clock;
  streamCreationTimeoutMs: number;
  log: Logger;
  /** maxPairs caps the pairs pending or running at once on one connection. */
  maxPairs?: number;
}

interface Pair {
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  cancelTimer: () => void;
}

/**
 * servePortForwardSpdy serves `portforward.k8s.io`: the client opens an error and a data stream per TCP connection,
 * paired by the `requestid` header. A complete pair is connected to the pod's port; a pair not complete within the
 * creation timeout is dropped alone; a failed connect is reported on that pair's error stream and ends only that
 * pair. Every pair is forgotten as soon as it ends (k/k #99839, #102489), so a long-lived connection does not grow.
 */
export function servePortForwardSpdy(session: SpdySession, req: PortForwardRequestInfo, deps: ForwardDeps): void {
  const pairs = new Map<string, Pair>();
  const ac = new AbortController();
  const maxPairs = deps.maxPairs ?? 500;
  session.once('close', () => {
    ac.abort();
    for (const p of pairs.values()) p.cancelTimer();
    pairs.clear();
  });

  const drop = (id: string, p: Pair) => {
    p.cancelTimer();
    if (pairs.get(id) === p) pairs.delete(id);
  };

  session.on('stream', (s: SpdyStream) => {
    const type = s.headers.streamtype;
    const port = Number(s.headers.port);
    if ((type !== 'data' && type !== 'error') || !/^\d+$/.test(s.headers.port ?? '') || port < 1 || port > 65535) {
      deps.log.debug({ headers: s.headers }, 'port-forward stream rejected: bad streamtype or port');
      return s.reset(RstStatus.CANCEL);
    }
    // Very old clients send no requestid: the error stream's id names the pair, the data stream comes 2 later.
    const id = s.headers.requestid ?? String(type === 'error' ? s.id : s.id - 2);
    let p = pairs.get(id);
    if (!p) {
      if (pairs.size >= maxPairs) return s.reset(RstStatus.REFUSED_STREAM);
      const fresh: Pair = { port, cancelTimer: () => {} };
      fresh.cancelTimer = deps.clock.setTimeout(() => {
        deps.log.debug({ requestId: id }, 'port-forward pair not completed in time: dropped');
        fresh.error?.end(`(request=${id}) timed out waiting for streams`);
        fresh.data?.reset(RstStatus.CANCEL);
        drop(id, fresh);
      }, deps.streamCreationTimeoutMs);
      pairs.set(id, fresh);
      p = fresh;
    }
    s.accept();
    if (type === 'error') s.discard(); // the client closes its half at once and never writes
    if (p[type]) {
      deps.log.debug({ requestId: id, type }, 'duplicate port-forward stream');
      p.error?.write(`${type} stream already assigned`);
      return s.reset(RstStatus.PROTOCOL_ERROR);
    }
    p[type] = s;
    if (p.data && p.error) {
      drop(id, p);
      void forward(p.port, p.data, p.error);
    }
  });

  const forward = async (port: number, data: SpdyStream, error: SpdyStream) => {
    try {
      await deps.runtime.portForward(req.podSandboxId, port, data, ac.signal);
    } catch (err) {
      deps.log.debug({ err, port }, 'port-forward connection failed');
      // Keep reading what the client still sends, so this stream never stalls the others (cri-o #3291).
      data.discard();
      if (!error.destroyed) error.write(`error forwarding port ${port} to pod ${req.podSandboxId}: ${errorMessage(err)}`);
    }
    if (!data.writableEnded) data.end();
    if (!error.writableEnded) error.end();
  };
}

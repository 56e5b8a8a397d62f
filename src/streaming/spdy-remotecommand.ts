import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import { finish, newResizeEmitter, ResizeDecoder, runCommand, statusBody, type CommandStreams } from './remotecommand.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';
import type { AttachRequestInfo, ExecRequestInfo, StreamRuntime } from './types.js';

/** REMOTECOMMAND_PROTOCOLS are the SPDY subprotocols fune accepts for exec and attach, newest first. */
export const REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** CommandDeps are what serving one exec/attach connection needs. */
export interface CommandDeps {
  runtime: StreamRuntime;
  clock: Clock;
  streamCreationTimeoutMs: number;
  log: Logger;
}

type Kind = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/**
 * serveCommandSpdy runs one exec or attach over an upgraded SPDY session (remotecommand v1–v4). The client opens
 * its streams (`streamtype` error, stdin, stdout, stderr, resize); how many is decided by the CRI request, not by
 * the client. Once all are there the command runs; then stdout/stderr get FIN, the status goes on the error stream
 * and the connection closes. Streams missing after the creation timeout close the connection.
 *
 * An exec without a terminal starts at once instead, while the client is still opening its streams (one round trip
 * each): its output waits in the pipes until they are there. The request named the streams already, and a client
 * that leaves before opening them all gets the process killed, as one that leaves later does. With a terminal the
 * command waits for the streams, so that it starts with the size the client sends on the resize stream.
 */
export function serveCommandSpdy(session: SpdySession, protocol: string, req: ExecRequestInfo | AttachRequestInfo, deps: CommandDeps): void {
  const version = protocol === 'channel.k8s.io' ? 1 : Number(protocol[1]);
  const wanted = new Set<Kind>(['error']);
  if (req.stdin) wanted.add('stdin');
  if (req.stdout) wanted.add('stdout');
  if (req.stderr && !req.tty) wanted.add('stderr');
  if (req.tty && version >= 3) wanted.add('resize');
  const got = new Map<Kind, SpdyStream>();
  const streams: CommandStreams = { resize: newResizeEmitter() };
  const decoder = new ResizeDecoder(streams.resize);
  const ac = new AbortController();
  let streamsReady: () => void = () => {};
  let clientGone: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    streamsReady = resolve;
    clientGone = reject;
  });
  ready.catch(() => undefined);
  session.once('close', () => {
    ac.abort();
    clientGone(new Error('the client went away before opening its streams'));
  });

  const cancelTimer = deps.clock.setTimeout(() => {
    deps.log.debug({ got: [...got.keys()], wanted: [...wanted] }, 'timed out waiting for client to create streams');
    session.close();
  }, deps.streamCreationTimeoutMs);
  session.once('close', cancelTimer);

  const early = req.kind === 'exec' && !req.tty;
  const onStream = (s: SpdyStream) => {
    const type = (s.headers.streamtype ?? '') as Kind;
    s.accept();
    if (!wanted.has(type) || got.has(type)) {
      deps.log.debug({ streamtype: type }, 'ignoring unexpected stream');
      s.discard();
      return;
    }
    got.set(type, s);
    if (type === 'resize') s.on('data', (b: Buffer) => decoder.write(b));
    if (type === 'error') s.discard(); // the client never writes on it
    if (got.size === wanted.size) {
      cancelTimer();
      session.off('stream', onStream);
      Object.assign(streams, { stdin: got.get('stdin'), stdout: got.get('stdout'), stderr: got.get('stderr') });
      if (version === 1) got.get('stdin')?.end(); // v1 servers close their (unused) write half of stdin at once
      streamsReady();
      if (!early) void run();
    }
  };
  session.on('stream', onStream);

  // The ends of stdout and stderr, the status, its end and GOAWAY leave in one write: the client wakes once. The
  // socket is uncorked by its end, or on the next turn of the loop should anything wait for it to drain.
  const cork = () => {
    session.socket.cork();
    setImmediate(() => session.socket.uncork());
  };
  const run = async () => {
    const pending = early ? { want: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }, ready } : undefined;
    const outcome = await runCommand(req, deps.runtime, streams, ac.signal, deps.log, { pending, beforeFinish: cork });
    const errStream = got.get('error');
    if (!errStream || session.isClosed || got.size < wanted.size) return session.close();
    const body = statusBody(req, outcome, version >= 4);
    if (body !== null) errStream.write(body);
    await finish(errStream);
    session.close();
  };
  if (early) void run();
}

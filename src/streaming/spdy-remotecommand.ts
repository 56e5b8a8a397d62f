import type { Logger } from '../log/index.js';
import type { Clock } from '../sys/clock.js';
import { CONNECTION_CLOSED, finish, newResizeEmitter, ResizeDecoder, runCommand, statusBody } from './remotecommand.js';
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
 */
export function serveCommandSpdy(session: SpdySession, protocol: string, req: ExecRequestInfo | AttachRequestInfo, deps: CommandDeps): void {
  const version = protocol === 'channel.k8s.io' ? 1 : Number(protocol[1]);
  const wanted = new Set<Kind>(['error']);
  if (req.stdin) wanted.add('stdin');
  if (req.stdout) wanted.add('stdout');
  if (req.stderr && !req.tty) wanted.add('stderr');
  if (req.tty && version >= 3) wanted.add('resize');
  const got = new Map<Kind, SpdyStream>();
  const resize = newResizeEmitter();
  const decoder = new ResizeDecoder(resize);
  const ac = new AbortController();
  session.once('close', () => ac.abort(CONNECTION_CLOSED));

  const cancelTimer = deps.clock.setTimeout(() => {
    deps.log.debug({ got: [...got.keys()], wanted: [...wanted] }, 'timed out waiting for client to create streams');
    session.close();
  }, deps.streamCreationTimeoutMs);
  session.once('close', cancelTimer);

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
      void run();
    }
  };
  session.on('stream', onStream);

  // The ends of stdout and stderr, the status, its end and GOAWAY leave in one write, so the client wakes once. The
  // socket's end uncorks it; so does the next turn of the loop, should anything wait for the socket to drain.
  const cork = () => {
    session.socket.cork();
    setImmediate(() => session.socket.uncork());
  };
  const run = async () => {
    const stdin = got.get('stdin');
    if (version === 1) stdin?.end(); // v1 servers close their (unused) write half of stdin at once
    const streams = { stdin, stdout: got.get('stdout'), stderr: got.get('stderr'), resize };
    const outcome = await runCommand(req, deps.runtime, streams, ac.signal, deps.log, cork);
    const body = statusBody(req, outcome, version >= 4);
    const errStream = got.get('error')!;
    if (body !== null && !session.isClosed) errStream.write(body);
    await finish(errStream);
    session.close();
  };
}

import { Duplex, PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { CONNECTION_CLOSED, newResizeEmitter, ResizeDecoder, runCommand, statusBody } from './remotecommand.js';
import type { AttachRequestInfo, ExecRequestInfo, PortForwardRequestInfo, StreamRuntime } from './types.js';

/**
 * WebSocket framing of the kubelet streaming library (apimachinery wsstream): every message is one channel byte and
 * a payload; the base64 variants send text messages `'0'+channel` followed by base64. v5 adds a CLOSE message
 * `[255, channel]` that half-closes a channel (stdin EOF).
 */

/** WS_COMMAND_PROTOCOLS are the WebSocket subprotocols for exec/attach ('' = none asked). */
export const WS_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io', ''];
/** WS_PORTFORWARD_PROTOCOLS are the WebSocket subprotocols for port-forward. */
export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io', ''];

const CH = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** Channels turns one WebSocket into numbered channels. */
class Channels {
  readonly base64: boolean;
  private readonly inputs = new Map<number, (data: Buffer | null) => void>();

  constructor(
    readonly ws: WebSocket,
    protocol: string,
    private readonly onActivity: () => void,
  ) {
    this.base64 = protocol.includes('base64');
    ws.on('message', (raw: Buffer, isBinary: boolean) => this.onMessage(raw, isBinary));
  }

  /** input routes inbound messages of `channel` to `fn` (null = the client closed the channel). */
  input(channel: number, fn: (data: Buffer | null) => void): void {
    this.inputs.set(channel, fn);
  }

  /** send writes one message on `channel`; `cb` runs once it is handed to the socket. */
  send(channel: number, data: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return cb?.();
    this.onActivity();
    if (this.base64) this.ws.send(String.fromCharCode(48 + channel) + data.toString('base64'), { binary: false }, cb);
    else this.ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, cb);
  }

  /** writable gives a Writable whose bytes go out on `channel`. */
  writable(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _e, cb) => this.send(channel, chunk, (err) => cb(err ?? null)),
    });
  }

  private onMessage(raw: Buffer, isBinary: boolean): void {
    if (raw.length === 0) return;
    this.onActivity();
    let channel: number;
    let data: Buffer;
    if (this.base64 && !isBinary) {
      channel = raw[0]! - 48;
      data = Buffer.from(raw.subarray(1).toString(), 'base64');
    } else {
      channel = raw[0]!;
      data = raw.subarray(1);
    }
    if (channel === CH.close) {
      if (data.length === 1) this.inputs.get(data[0]!)?.(null);
      return;
    }
    this.inputs.get(channel)?.(data);
  }
}

/** serveCommandWs runs one exec or attach over an accepted WebSocket. */
export function serveCommandWs(
  ws: WebSocket,
  protocol: string,
  req: ExecRequestInfo | AttachRequestInfo,
  deps: { runtime: StreamRuntime; log: Logger; onActivity: () => void },
): void {
  const ch = new Channels(ws, protocol, deps.onActivity);
  const ac = new AbortController();
  ws.once('close', () => ac.abort(CONNECTION_CLOSED));
  let stdin: PassThrough | undefined;
  if (req.stdin) {
    const input = new PassThrough();
    stdin = input;
    ch.input(CH.stdin, (d) => (d === null ? input.end() : input.write(d)));
  }
  const resize = newResizeEmitter();
  const decoder = new ResizeDecoder(resize);
  ch.input(CH.resize, (d) => d && decoder.write(d));
  const stdout = req.stdout ? ch.writable(CH.stdout) : undefined;
  const stderr = req.stderr && !req.tty ? ch.writable(CH.stderr) : undefined;
  // The library announces the connection with one empty message on the lowest writable channel.
  ch.send(stdout ? CH.stdout : stderr ? CH.stderr : CH.error, Buffer.alloc(0));
  void (async () => {
    const outcome = await runCommand(req, deps.runtime, { stdin, stdout, stderr, resize }, ac.signal, deps.log);
    const body = statusBody(req, outcome, protocol.startsWith('v4.') || protocol.startsWith('v5.'));
    if (body !== null) ch.send(CH.error, Buffer.from(body));
    ws.close(1000);
  })();
}

/**
 * serveForwardWs serves port-forward over WebSocket: the ports come from the request, channel 2i carries port i's
 * data both ways and 2i+1 its errors; both start with the port as a little-endian uint16.
 */
export function serveForwardWs(
  ws: WebSocket,
  protocol: string,
  req: PortForwardRequestInfo,
  deps: { runtime: StreamRuntime; log: Logger; onActivity: () => void },
): void {
  const ch = new Channels(ws, protocol, deps.onActivity);
  const ac = new AbortController();
  ws.once('close', () => ac.abort(CONNECTION_CLOSED));
  let open = req.ports.length;
  if (open === 0) return ws.close(1000);
  req.ports.forEach((port, i) => {
    const head = Buffer.alloc(2);
    head.writeUInt16LE(port);
    ch.send(2 * i, head);
    ch.send(2 * i + 1, head);
    const conn = new Duplex({
      write: (chunk: Buffer, _e, cb) => ch.send(2 * i, chunk, (err) => cb(err ?? null)),
      read: () => {},
    });
    ch.input(2 * i, (d) => (d === null ? conn.push(null) : conn.push(d)));
    ws.once('close', () => conn.destroy());
    void deps.runtime.portForward(req.podSandboxId, port, conn, ac.signal).then(
      () => undefined,
      (err: unknown) => ch.send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${req.podSandboxId}: ${errorMessage(err)}`)),
    ).finally(() => {
      if (--open === 0) ws.close(1000);
    });
  });
}

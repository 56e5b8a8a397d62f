import { Duplex, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { OutputWatch, ReadGate } from './backpressure.js';
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

/** WsDeps are what serving one WebSocket connection needs; `socket` is the upgraded socket under `ws`. */
export interface WsDeps {
  runtime: StreamRuntime;
  log: Logger;
  onActivity: () => void;
  socket: Duplex;
  /** maxQueuedBytes: while more than this waits to be sent, the connection reads nothing (default 1 MiB). */
  maxQueuedBytes?: number;
}

/**
 * Channels turns one WebSocket into numbered channels. The WebSocket stops being read (ws.pause) while an input
 * does not take what it was given (a command that does not read stdin, a pod socket nobody reads) and while more
 * than `maxQueuedBytes` wait to go out (a client that does not read its output or the pongs to its pings).
 */
class Channels {
  readonly base64: boolean;
  readonly gate: ReadGate;
  private readonly output: OutputWatch;
  private readonly inputs = new Map<number, (data: Buffer | null) => void>();

  constructor(
    readonly ws: WebSocket,
    protocol: string,
    private readonly deps: WsDeps,
  ) {
    this.base64 = protocol.includes('base64');
    this.gate = new ReadGate(
      () => ws.pause(),
      () => ws.resume(),
    );
    this.output = new OutputWatch(deps.socket, this.gate, deps.maxQueuedBytes);
    ws.on('message', (raw: Buffer, isBinary: boolean) => this.onMessage(raw, isBinary));
    // ws answers a ping with a pong before it emits 'ping': a client that pings and never reads fills the queue.
    ws.on('ping', () => this.output.check());
    ws.once('close', () => {
      this.gate.clear();
      this.output.stop();
    });
  }

  /**
   * readable gives a Duplex whose readable side is what the client sends on `channel` (its writes go to `write`):
   * while it holds more than its high-water mark unread, the connection is not read. Data for a channel whose
   * stream is gone is dropped.
   */
  readable(channel: number, write?: (chunk: Buffer, cb: (err?: Error | null) => void) => void): Duplex {
    const d = new Duplex({
      write: (chunk: Buffer, _e, cb) => (write ? write(chunk, cb) : cb()),
      read: () => this.gate.release(d),
    });
    this.input(channel, (data) => {
      if (d.destroyed || d.readableEnded) return;
      if (data === null) d.push(null);
      else if (!d.push(data)) this.gate.hold(d);
    });
    d.once('close', () => this.gate.release(d));
    return d;
  }

  /** input routes inbound messages of `channel` to `fn` (null = the client closed the channel). */
  input(channel: number, fn: (data: Buffer | null) => void): void {
    this.inputs.set(channel, fn);
  }

  /** send writes one message on `channel`; `cb` runs once it is handed to the socket. */
  send(channel: number, data: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return cb?.();
    this.deps.onActivity();
    if (this.base64) this.ws.send(String.fromCharCode(48 + channel) + data.toString('base64'), { binary: false }, cb);
    else this.ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, cb);
  }

  /**
   * writable gives a Writable whose bytes go out on `channel`. A send that fails (the client reset the connection)
   * is dropped, as on a SPDY stream whose peer is gone: the connection's close ends the command.
   */
  writable(channel: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _e, cb) => this.send(channel, chunk, () => cb()),
    });
  }

  private onMessage(raw: Buffer, isBinary: boolean): void {
    this.output.check();
    if (raw.length === 0) return;
    this.deps.onActivity();
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
  deps: WsDeps,
): void {
  const ch = new Channels(ws, protocol, deps);
  const ac = new AbortController();
  ws.once('close', () => ac.abort(CONNECTION_CLOSED));
  const stdin = req.stdin ? ch.readable(CH.stdin) : undefined;
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
  deps: WsDeps,
): void {
  const ch = new Channels(ws, protocol, deps);
  const ac = new AbortController();
  ws.once('close', () => ac.abort(CONNECTION_CLOSED));
  let open = req.ports.length;
  if (open === 0) return ws.close(1000);
  req.ports.forEach((port, i) => {
    const head = Buffer.alloc(2);
    head.writeUInt16LE(port);
    ch.send(2 * i, head);
    ch.send(2 * i + 1, head);
    const conn = ch.readable(2 * i, (chunk, cb) => ch.send(2 * i, chunk, (err) => cb(err ?? null)));
    ws.once('close', () => conn.destroy());
    void deps.runtime.portForward(req.podSandboxId, port, conn, ac.signal).then(
      () => undefined,
      (err: unknown) => ch.send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${req.podSandboxId}: ${errorMessage(err)}`)),
    ).finally(() => {
      if (--open === 0) ws.close(1000);
    });
  });
}

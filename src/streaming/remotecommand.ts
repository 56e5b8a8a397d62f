import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { errorMessage } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { exitCodeStatus, internalErrorStatus, successStatus } from './status.js';
import type { AttachRequestInfo, ExecRequestInfo, StreamRuntime, TerminalSize } from './types.js';

/**
 * CONNECTION_CLOSED is the abort reason of a command whose connection closed. One Error made once: abort() without
 * a reason builds a DOMException with a stack trace on every exec.
 */
export const CONNECTION_CLOSED = new Error('the client connection closed');

/** CommandStreams are the client's streams of one exec or attach, whatever the framing. */
export interface CommandStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize: EventEmitter;
}

/** Outcome is how an exec or attach ended. */
export type Outcome = { kind: 'exit'; code: number } | { kind: 'error'; message: string };

/**
 * runCommand hands the client's streams to the runtime, waits for the command (or attach) to end, then ends stdout
 * and stderr and waits until their last bytes are handed to the connection, so a status written afterwards
 * follows all output. `beforeFinish` runs when the command is over, just before those ends.
 */
export async function runCommand(
  req: ExecRequestInfo | AttachRequestInfo,
  runtime: StreamRuntime,
  streams: CommandStreams,
  signal: AbortSignal,
  log: Logger,
  beforeFinish?: () => void,
): Promise<Outcome> {
  let last: TerminalSize | undefined;
  streams.resize.on('resize', (s: TerminalSize) => (last = s));
  const io = { tty: req.tty, ...streams, signal, terminalSize: () => last };
  let outcome: Outcome;
  try {
    if (req.kind === 'exec') outcome = { kind: 'exit', code: (await runtime.exec(req.containerId, req.cmd, io)).exitCode };
    else {
      await runtime.attach(req.containerId, io);
      outcome = { kind: 'exit', code: 0 };
    }
  } catch (err) {
    log.debug({ err, containerId: req.containerId }, `${req.kind} failed`);
    outcome = { kind: 'error', message: errorMessage(err) };
  }
  beforeFinish?.();
  await Promise.all([finish(streams.stdout), finish(streams.stderr)]);
  return outcome;
}

/** finish ends a writable (if still open) and resolves once it has flushed or failed. */
export function finish(w: Writable | undefined): Promise<void> {
  if (!w || w.destroyed || w.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => resolve();
    w.once('finish', done);
    w.once('close', done);
    w.once('error', done);
    if (!w.writableEnded) w.end();
  });
}

/**
 * statusBody gives what goes on the error stream: v4 and later always carry a JSON metav1.Status; older versions
 * carry the plain message of a failure and nothing on success.
 */
export function statusBody(req: ExecRequestInfo | AttachRequestInfo, outcome: Outcome, v4: boolean): string | null {
  if (outcome.kind === 'exit' && outcome.code === 0) return v4 ? successStatus() : null;
  if (outcome.kind === 'exit') {
    const cmd = req.kind === 'exec' ? req.cmd : [];
    return v4 ? exitCodeStatus(cmd, outcome.code) : `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${outcome.code}`;
  }
  if (v4) return internalErrorStatus(req.kind, outcome.message);
  return req.kind === 'exec' ? `error executing command in container: ${outcome.message}` : `error attaching to container: ${outcome.message}`;
}

const MAX_RESIZE_BUFFER = 4096;

/**
 * ResizeDecoder reads the resize stream: JSON objects written back to back (`{"Width":80,"Height":24}\n`, Go's
 * json.Encoder). Field names match case-insensitively, as Go's decoder does. Garbage is dropped.
 */
export class ResizeDecoder {
  private text = '';

  constructor(private readonly out: EventEmitter) {}

  /** write feeds bytes from the resize stream or channel. */
  write(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > MAX_RESIZE_BUFFER) this.text = '';
    for (;;) {
      const start = this.text.indexOf('{');
      if (start < 0) {
        this.text = '';
        return;
      }
      const end = this.text.indexOf('}', start);
      if (end < 0) {
        this.text = this.text.slice(start);
        return;
      }
      this.emitOne(this.text.slice(start, end + 1));
      this.text = this.text.slice(end + 1);
    }
  }

  private emitOne(json: string): void {
    let v: unknown;
    try {
      v = JSON.parse(json);
    } catch {
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const size: Partial<TerminalSize> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'number' || !Number.isInteger(val) || val < 0 || val > 0xffff) continue;
      if (k.toLowerCase() === 'width') size.width = val;
      if (k.toLowerCase() === 'height') size.height = val;
    }
    if (size.width !== undefined && size.height !== undefined) this.out.emit('resize', size);
  }
}

/** newResizeEmitter gives the emitter a CommandStreams carries. */
export function newResizeEmitter(): EventEmitter {
  return new EventEmitter();
}

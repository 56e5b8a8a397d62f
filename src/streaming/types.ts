import type { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';

/** TerminalSize is one resize event from the client (columns and rows). */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * StreamIO is what a client connection hands the runtime for exec and attach. The runtime reads `stdin` until it
 * ends (the client closed its stdin) and writes `stdout`/`stderr`; the protocol side ends those after the runtime's
 * promise settles. `resize` emits `'resize'` with a TerminalSize; `signal` fires when the client goes away, and
 * then the runtime must stop what it started (kill an exec'd process, leave an attached container alone).
 */
export interface StreamIO {
  tty: boolean;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize: EventEmitter;
  /** terminalSize gives the last size the client sent, if any (one may arrive before the runtime listens). */
  terminalSize(): TerminalSize | undefined;
  signal: AbortSignal;
}

/** ExecResult is how an exec'd process ended: its exit code (0–255). */
export interface ExecResult {
  exitCode: number;
}

/**
 * StreamRuntime is everything the streaming server needs from the container runtime. The streaming package knows
 * nothing else; `src/services/stream-runtime.ts` implements it.
 */
export interface StreamRuntime {
  /** exec runs `cmd` in the container and resolves when it has exited and its output has been written. */
  exec(containerId: string, cmd: readonly string[], io: StreamIO): Promise<ExecResult>;
  /** attach connects to the container's main process until it exits or the client leaves. */
  attach(containerId: string, io: StreamIO): Promise<void>;
  /**
   * portForward connects `stream` to localhost:`port` in the pod's network namespace, copies both ways and resolves
   * when both directions are done. It rejects (with a message fit for the client) when the connection fails.
   */
  portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
}

/** ExecRequestInfo is a validated Exec request, held behind its token. */
export interface ExecRequestInfo {
  kind: 'exec';
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** AttachRequestInfo is a validated Attach request, held behind its token. */
export interface AttachRequestInfo {
  kind: 'attach';
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** PortForwardRequestInfo is a validated PortForward request, held behind its token. */
export interface PortForwardRequestInfo {
  kind: 'portforward';
  podSandboxId: string;
  /** ports are used by WebSocket clients only; SPDY clients name the port in each stream's headers. */
  ports: number[];
}

/** StreamRequest is any request a streaming token stands for. */
export type StreamRequest = ExecRequestInfo | AttachRequestInfo | PortForwardRequestInfo;

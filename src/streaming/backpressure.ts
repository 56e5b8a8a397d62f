import type { Writable } from 'node:stream';

/**
 * Backpressure for a streaming connection: what keeps fune's memory bounded whatever the peer does. A connection
 * stops reading its socket while anything it read still waits to be taken (a stream's buffer above its mark, a
 * command that does not read its stdin, a pod socket nobody reads) or while what it has to send piles up (the peer
 * does not read: DATA, PING replies, RST_STREAMs, window updates, WebSocket pongs). TCP then pushes back on the
 * peer, and the kernel's buffers are all that hold its bytes.
 */

/** DEFAULT_MAX_QUEUED is the outgoing bytes above which a connection stops reading its socket. */
export const DEFAULT_MAX_QUEUED = 1024 * 1024;

/**
 * ReadGate pauses a source while at least one hold is on it and resumes it when the last hold is released. Each
 * holder is a key (a stream, a channel, 'queue'), so a release by one does not resume the source while another
 * still needs it stopped.
 */
export class ReadGate {
  private readonly holds = new Set<unknown>();

  constructor(
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {}

  /** paused tells whether the source is held now. */
  get paused(): boolean {
    return this.holds.size > 0;
  }

  /** hold stops the source for `key` (a second hold by the same key does nothing). */
  hold(key: unknown): void {
    if (this.holds.has(key)) return;
    this.holds.add(key);
    if (this.holds.size === 1) this.pause();
  }

  /** release drops `key`'s hold; the source resumes once no hold is left. */
  release(key: unknown): void {
    if (this.holds.delete(key) && this.holds.size === 0) this.resume();
  }

  /** clear drops every hold without resuming (the connection is gone). */
  clear(): void {
    this.holds.clear();
  }
}

/**
 * OutputWatch holds `gate` while `socket` has more than `max` bytes waiting to be written, and releases it on the
 * socket's 'drain' (which Node emits once the buffer has emptied after a write that returned false; a buffer over
 * `max` ≥ the socket's own high-water mark always had such a write). Call `check()` after reading: whatever the
 * peer's frames made fune write is then in the buffer.
 */
export class OutputWatch {
  private readonly onDrain = (): void => this.gate.release(this);

  constructor(
    private readonly socket: Writable,
    private readonly gate: ReadGate,
    private readonly max: number = DEFAULT_MAX_QUEUED,
  ) {
    socket.on('drain', this.onDrain);
  }

  /** check holds the gate when the socket's write buffer is above the mark. */
  check(): void {
    if (this.socket.writableLength > this.max) this.gate.hold(this);
  }

  /** stop detaches from the socket. */
  stop(): void {
    this.socket.off('drain', this.onDrain);
  }
}

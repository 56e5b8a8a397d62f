import { write as fsWrite } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/**
 * Flow control between a client's streams and what exec and attach connect them to (a terminal, conmon's attach
 * socket). Each copy takes one piece at a time and waits until it is written before it takes the next, so a side
 * that does not read stops the other side instead of growing a buffer in fune: the client's stream stops being
 * read, and its connection then stops reading the client's socket.
 */

/** Source is what an output copy pauses while its destination is full (a terminal, an attach socket). */
export interface Source {
  pause(): void;
  resume(): void;
}

/** sharedSource lets several outputs pause one source: it runs until the last of them resumes it. */
export function sharedSource(src: Source): Source {
  let holds = 0;
  return {
    pause: () => holds++ === 0 && src.pause(),
    resume: () => --holds === 0 && src.resume(),
  };
}

/**
 * outputTo gives a function that writes to `dst` and pauses `src` while `dst` reports it is full, until 'drain'.
 * A destination that closes without draining leaves the source paused: the command's client is gone, and what
 * runs for it is being stopped.
 */
export function outputTo(dst: Writable, src: Source): (chunk: Buffer | string) => void {
  let held = false;
  const drained = () => {
    held = false;
    src.resume();
  };
  return (chunk) => {
    if (dst.destroyed || dst.writableEnded) return;
    if (!dst.write(chunk) && !held) {
      held = true;
      src.pause();
      dst.once('drain', drained);
    }
  };
}

/** RETRY_MS bounds the wait between two tries of a write that found the descriptor full (EAGAIN). */
const RETRY_MS = { first: 2, max: 64 };

/**
 * writeFd writes all of `buf` to a non-blocking descriptor (a pty master), waiting out EAGAIN with a growing
 * delay (node-pty's own writer retries at once, spinning a core while the program does not read, and keeps an
 * unbounded queue). It stops early, resolving, once `stopped()` is true.
 */
export function writeFd(fd: number, buf: Buffer, stopped: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    let delay = RETRY_MS.first;
    const step = () => {
      if (stopped() || off >= buf.length) return resolve();
      fsWrite(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err && err.code === 'EAGAIN') {
          setTimeout(step, delay);
          delay = Math.min(delay * 2, RETRY_MS.max);
          return;
        }
        if (err) return reject(err);
        off += n;
        delay = RETRY_MS.first;
        step();
      });
    };
    step();
  });
}

/**
 * pumpToFd copies `src` into descriptor `fd`, one chunk at a time (src is paused while a chunk is being written),
 * then writes `eof` (a terminal's EOF character) after the last byte. `stop()` ends it: what was not written yet is
 * dropped. A write error (EIO: the terminal closed) ends it too.
 */
export function pumpToFd(src: Readable, fd: number, eof: Buffer): { stop(): void } {
  let stopped = false;
  let chain = Promise.resolve();
  const isStopped = () => stopped;
  const enqueue = (b: Buffer) => {
    chain = chain.then(() => writeFd(fd, b, isStopped)).catch(() => {
      stopped = true;
    });
    return chain;
  };
  const onData = (b: Buffer) => {
    src.pause();
    void enqueue(b).then(() => !stopped && src.resume());
  };
  const onEnd = () => void enqueue(eof);
  src.on('data', onData).once('end', onEnd);
  return {
    stop() {
      stopped = true;
      src.off('data', onData).off('end', onEnd);
    },
  };
}

/** PacketSink is a socket that takes whole packets and calls back once each one is handed to the kernel. */
export interface PacketSink {
  write(buf: Buffer, cb: () => void): void;
}

/**
 * pumpPackets copies `src` into `sink` in packets of at most `packet` bytes, and pauses `src` while more than
 * `maxInFlight` bytes are written but not yet taken by the kernel (conmon stops reading the attach socket while the
 * container does not read its stdin).
 */
export function pumpPackets(src: Readable, sink: PacketSink, packet: number, maxInFlight: number): void {
  let inFlight = 0;
  let paused = false;
  const sent = (n: number) => () => {
    inFlight -= n;
    if (paused && inFlight <= maxInFlight / 2) {
      paused = false;
      src.resume();
    }
  };
  src.on('data', (b: Buffer) => {
    for (let o = 0; o < b.length; o += packet) {
      const part = b.subarray(o, o + packet);
      inFlight += part.length;
      sink.write(part, sent(part.length));
    }
    if (inFlight > maxInFlight && !paused) {
      paused = true;
      src.pause();
    }
  });
}

/** EXIT_POLL_MS is how often a paused terminal checks whether its program has exited. */
const EXIT_POLL_MS = 50;

/**
 * terminalSource pauses and resumes a node-pty terminal. While it is paused it checks every EXIT_POLL_MS whether
 * the program has exited, and then resumes for good: node-pty destroys its read side 200 ms after the exit, and
 * output still in the terminal would be lost. What is left to read then is bounded by the terminal's buffer.
 */
export function terminalSource(term: { pause(): void; resume(): void; pid: number }): Source & { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const clear = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    pause() {
      term.pause();
      timer ??= setInterval(() => {
        try {
          process.kill(term.pid, 0);
        } catch {
          clear();
          term.resume();
        }
      }, EXIT_POLL_MS);
    },
    resume() {
      clear();
      term.resume();
    },
    stop: clear,
  };
}

import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Duplex } from 'node:stream';
import type { StreamIO, StreamRuntime, TerminalSize } from '../../../src/streaming/types.js';

/** FakeRuntime acts out a few commands in JavaScript, and forwards ports to loopback. */
export class FakeRuntime implements StreamRuntime {
  killed = 0;
  resizes: TerminalSize[] = [];
  /** held counts the stdin bytes `hold` read after release(); heldOk stays true while each was 'a'. */
  held = 0;
  heldOk = true;
  private released?: () => void;
  private readonly gate = new Promise<void>((r) => (this.released = r));
  /** release lets `hold` start reading its stdin. */
  release(): void {
    this.released!();
  }
  async exec(_id: string, cmd: readonly string[], io: StreamIO) {
    io.resize.on('resize', (s: TerminalSize) => this.resizes.push(s));
    const [c, ...args] = cmd;
    switch (c) {
      case 'echo':
        io.stdout?.write(args.join(' '));
        return { exitCode: 0 };
      case 'err':
        io.stderr?.write(args.join(' '));
        return { exitCode: 0 };
      case 'exit':
        return { exitCode: Number(args[0]) };
      case 'fail':
        throw new Error('boom');
      case 'big': {
        const chunk = Buffer.alloc(64 * 1024, 'x');
        for (let left = Number(args[0]); left > 0; left -= chunk.length) {
          const ok = io.stdout!.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
          if (!ok) await new Promise((r) => io.stdout!.once('drain', r));
        }
        return { exitCode: 0 };
      }
      case 'cat':
        for await (const b of io.stdin!) io.stdout!.write(b as Buffer);
        return { exitCode: 0 };
      case 'hold':
        await this.gate;
        for await (const b of io.stdin!) {
          this.held += (b as Buffer).length;
          if (!(b as Buffer).every((x) => x === 0x61)) this.heldOk = false;
        }
        return { exitCode: 0 };
      case 'sleep':
        await new Promise<void>((resolve) => {
          if (io.signal.aborted) return resolve();
          io.signal.addEventListener('abort', () => resolve());
        });
        this.killed++;
        return { exitCode: 137 };
      default:
        throw new Error(`unknown command ${c}`);
    }
  }
  async attach(id: string, io: StreamIO) {
    await this.exec(id, ['cat'], io);
  }
  async portForward(_pod: string, port: number, stream: Duplex) {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    await Promise.allSettled([pipeline(stream, sock), pipeline(sock, stream)]);
  }
}

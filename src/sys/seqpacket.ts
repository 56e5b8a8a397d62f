import { EventEmitter } from 'node:events';
import { closeSync, constants as fsc, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import type { SeqpacketSocket } from 'node-unix-socket';

/** SeqpacketAddon is native/seqpacket/seqpacket.c; see that file for each call. */
export interface SeqpacketAddon {
  connect(path: string): number;
  recv(fd: number, buf: Buffer): number;
  send(fd: number, buf: Buffer): number;
  shutdown(fd: number): number;
  watch(fd: number, cb: (status: number, readable: boolean, writable: boolean) => void): object;
  want(handle: object, readable: boolean, writable: boolean): void;
  close(handle: object): void;
}

/**
 * PacketSocket is a connected SOCK_SEQPACKET socket: 'data' gives one packet each, 'end' the peer's shutdown,
 * 'error' then 'close'. `pause()` stops reading (the peer's writes then block once the kernel's buffer is full);
 * `write` sends one packet and calls back once the kernel took it; `end` half-closes after what is queued.
 */
export interface PacketSocket extends EventEmitter {
  pause(): void;
  resume(): void;
  write(buf: Buffer, cb?: () => void): void;
  end(): void;
  destroy(): void;
}

const ADDON_PATH = join('native', 'seqpacket', 'build', 'Release', 'fune_seqpacket.node');

/** loadSeqpacketAddon loads the built addon above this module (src/sys or dist/src/sys); it throws why not. */
export function loadSeqpacketAddon(): SeqpacketAddon {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, ADDON_PATH);
    if (existsSync(file)) return createRequire(import.meta.url)(file) as SeqpacketAddon;
  }
  throw new Error(`${ADDON_PATH} was not built (hack/build-native.sh)`);
}

let loaded: SeqpacketAddon | null | undefined;

/** seqpacketAddon is the addon, or null when it was not built (then connectSeqpacket cannot pause). */
export function seqpacketAddon(): SeqpacketAddon | null {
  if (loaded === undefined) {
    try {
      loaded = loadSeqpacketAddon();
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

function errnoError(rc: number, syscall: string, path: string): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(rc) ?? [`E${-rc}`, 'unknown error'];
  return Object.assign(new Error(`${syscall} ${code} (${text}) ${path}`), { code, errno: rc, syscall, path });
}

/** MAX_PACKET is the receive buffer: conmon sends at most 8 KiB + 1 per packet. */
const MAX_PACKET = 64 * 1024;
/** READ_BURST bounds the packets read per readiness event, so one busy socket does not hold the loop. */
const READ_BURST = 64;
const EAGAIN = -11;

/** NativePacketSocket is a PacketSocket on the addon. */
class NativePacketSocket extends EventEmitter implements PacketSocket {
  private readonly handle: object;
  private reading = true;
  private readEnded = false;
  private closed = false;
  private ending = false;
  private readonly queue: { buf: Buffer; cb?: () => void }[] = [];
  private readonly scratch = Buffer.allocUnsafe(MAX_PACKET);

  constructor(
    private readonly addon: SeqpacketAddon,
    private readonly fd: number,
  ) {
    super();
    this.handle = addon.watch(fd, (status, readable, writable) => this.onPoll(status, readable, writable));
    this.arm();
  }

  pause(): void {
    this.reading = false;
    this.arm();
  }

  resume(): void {
    this.reading = true;
    this.arm();
  }

  write(buf: Buffer, cb?: () => void): void {
    if (this.closed || this.ending) return cb?.();
    this.queue.push({ buf, cb });
    if (this.queue.length === 1) this.flush();
  }

  end(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    if (this.queue.length === 0) this.addon.shutdown(this.fd);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
    for (const w of this.queue.splice(0)) w.cb?.();
    process.nextTick(() => this.emit('close'));
  }

  private arm(): void {
    if (this.closed) return;
    this.addon.want(this.handle, this.reading && !this.readEnded, this.queue.length > 0);
  }

  private fail(rc: number, syscall: string): void {
    if (this.closed) return;
    if (this.listenerCount('error') > 0) this.emit('error', errnoError(rc, syscall, 'attach socket'));
    this.destroy();
  }

  private onPoll(status: number, readable: boolean, writable: boolean): void {
    if (status < 0) return this.fail(status, 'poll');
    if (writable) this.flush();
    if (readable) this.read();
  }

  private read(): void {
    for (let i = 0; i < READ_BURST && this.reading && !this.closed; i++) {
      const n = this.addon.recv(this.fd, this.scratch);
      if (n === EAGAIN) return;
      if (n < 0) return this.fail(n, 'recv');
      if (n === 0) {
        this.readEnded = true;
        this.arm();
        this.emit('end');
        return;
      }
      this.emit('data', Buffer.from(this.scratch.subarray(0, n)));
    }
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.closed) {
      const w = this.queue[0]!;
      const n = this.addon.send(this.fd, w.buf);
      if (n === EAGAIN) break;
      if (n < 0) return this.fail(n, 'send');
      this.queue.shift();
      w.cb?.();
    }
    if (this.closed) return;
    if (this.queue.length === 0 && this.ending) this.addon.shutdown(this.fd);
    this.arm();
  }
}

/** LibraryPacketSocket is the fallback on node-unix-socket: it cannot stop reading. */
class LibraryPacketSocket extends EventEmitter implements PacketSocket {
  constructor(private readonly sock: SeqpacketSocket) {
    super();
    for (const ev of ['data', 'end', 'error', 'close']) sock.on(ev, (...a: unknown[]) => this.emit(ev, ...a));
  }
  pause(): void {}
  resume(): void {}
  write(buf: Buffer, cb?: () => void): void {
    this.sock.write(buf, 0, buf.length, cb);
  }
  end(): void {
    this.sock.end();
  }
  destroy(): void {
    this.sock.destroy();
  }
}

/**
 * SUN_PATH_MAX is the longest path connect(2) takes in sockaddr_un (108 bytes with the terminating NUL; the addon
 * keeps one more spare).
 */
export const SUN_PATH_MAX = 106;

/**
 * withShortPath runs `fn` with a path to the same socket that fits sockaddr_un. A longer one (a rootless node's state
 * is under RootlessKit's copy of /run, `/run/.ro<random>/user/<uid>/fune/...`, where `s/<64-hex id>/attach` goes
 * over 108 bytes) is reached through its directory, held open for the call: `/proc/self/fd/<dirfd>/<name>`, as
 * conmon binds it. Only the name must be short then.
 */
export async function withShortPath<T>(path: string, fn: (short: string) => Promise<T>): Promise<T> {
  if (Buffer.byteLength(path) <= SUN_PATH_MAX) return fn(path);
  const name = basename(path);
  let fd: number;
  try {
    fd = openSync(dirname(path), fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw Object.assign(new Error(`connect ${err.code ?? 'EIO'} (opening the socket's directory) ${path}`), { code: err.code, errno: err.errno, syscall: 'connect', path });
  }
  try {
    const short = `/proc/self/fd/${fd}/${name}`;
    if (Buffer.byteLength(short) > SUN_PATH_MAX) throw Object.assign(new Error(`connect ENAMETOOLONG (the socket's name alone is too long) ${path}`), { code: 'ENAMETOOLONG', syscall: 'connect', path });
    return await fn(short);
  } finally {
    closeSync(fd);
  }
}

/**
 * connectSeqpacket connects to a SEQPACKET server at `path` (the addon, else node-unix-socket); a path too long for
 * sockaddr_un is reached through its directory (withShortPath). Errors name the path as given.
 */
export async function connectSeqpacket(path: string, addon: SeqpacketAddon | null = seqpacketAddon()): Promise<PacketSocket> {
  if (addon) {
    const fd = await withShortPath(path, (p) => Promise.resolve(addon.connect(p)));
    if (fd < 0) throw errnoError(fd, 'connect', path);
    return new NativePacketSocket(addon, fd);
  }
  // node-unix-socket is the fallback when the addon is not built: loaded only then.
  const { SeqpacketSocket: Socket } = createRequire(import.meta.url)('node-unix-socket') as typeof import('node-unix-socket');
  const sock = new Socket();
  await withShortPath(path, (p) =>
    new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(p, () => resolve());
    }),
  );
  return new LibraryPacketSocket(sock);
}

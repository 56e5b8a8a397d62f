import { Worker } from 'node:worker_threads';

/** Owner is a uid/gid pair to set; absent means "keep the owner the file was created with". */
export type Owner = [uid: number, gid: number];

/**
 * FsOp is one file system step a layer unpack asks the worker for. Paths are absolute; the unpacker has checked
 * them. `file` data is the byte range [at, at+len) of the batch's data buffer.
 */
export type FsOp =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'file'; path: string; mode: number; at: number; len: number; owner?: Owner; chmod?: number; mtime: number }
  | { op: 'symlink'; path: string; target: string; owner?: Owner; mtime: number }
  | { op: 'link'; path: string; src: string }
  | { op: 'meta'; path: string; owner?: Owner; chmod?: number; mtime: number; symlink: boolean };

/** DiskUsage is what a tree takes on disk: allocated bytes (st_blocks × 512) and inodes, hard links once. */
export interface DiskUsage {
  bytes: number;
  inodes: number;
}

type Job = { kind: 'ops'; ops: FsOp[]; data: Uint8Array } | { kind: 'du'; path: string };
type Reply = { id: number; ok: true; du?: DiskUsage } | { id: number; ok: false; message: string; code?: string };

/**
 * WORKER_SOURCE is the worker's program (CommonJS, run with `eval`, so that it needs no file of its own next to
 * the compiled module). It runs each batch's steps in order with synchronous calls, which on its own thread cost
 * no event-loop round trip per call, and stops a batch at its first failure.
 */
const WORKER_SOURCE = `
const fs = require('node:fs');
const { join } = require('node:path');
const { parentPort } = require('node:worker_threads');
function writeAll(fd, data, at, len) {
  let off = at;
  const end = at + len;
  while (off < end) off += fs.writeSync(fd, data, off, end - off);
}
function run(o, data) {
  switch (o.op) {
    case 'mkdir':
      fs.mkdirSync(o.path, { mode: o.mode });
      return;
    case 'file': {
      const fd = fs.openSync(o.path, 'wx', o.mode);
      try {
        writeAll(fd, data, o.at, o.len);
        if (o.owner) fs.fchownSync(fd, o.owner[0], o.owner[1]);
        if (o.chmod !== undefined) fs.fchmodSync(fd, o.chmod);
        fs.futimesSync(fd, o.mtime, o.mtime);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    case 'symlink':
      fs.symlinkSync(o.target, o.path);
      if (o.owner) fs.lchownSync(o.path, o.owner[0], o.owner[1]);
      fs.lutimesSync(o.path, o.mtime, o.mtime);
      return;
    case 'link':
      fs.linkSync(o.src, o.path);
      return;
    case 'meta':
      if (o.owner) fs.lchownSync(o.path, o.owner[0], o.owner[1]);
      if (o.chmod !== undefined && !o.symlink) fs.chmodSync(o.path, o.chmod);
      fs.lutimesSync(o.path, o.mtime, o.mtime);
      return;
    default:
      throw new Error('unknown file operation ' + o.op);
  }
}
function du(root) {
  const seen = new Set();
  const u = { bytes: 0, inodes: 0 };
  const stack = [root];
  while (stack.length) {
    const p = stack.pop();
    let st;
    try {
      st = fs.lstatSync(p, { bigint: false });
    } catch (e) {
      if (e.code === 'ENOENT') continue;
      throw e;
    }
    if (!seen.has(st.ino)) {
      seen.add(st.ino);
      u.bytes += st.blocks * 512;
      u.inodes++;
    }
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) stack.push(join(p, n));
  }
  return u;
}
parentPort.on('message', (m) => {
  try {
    if (m.kind === 'du') return parentPort.postMessage({ id: m.id, ok: true, du: du(m.path) });
    for (const o of m.ops) run(o, m.data);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: String((e && e.message) || e), code: e && e.code });
  }
});
`;

/** IDLE_MS is how long the worker is kept without work before it is stopped (its memory given back). */
const IDLE_MS = 10_000;

/** FsError is a failed step, with the errno code (EEXIST, ENOENT, ...) the worker saw. */
export class FsError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * FsWorker runs batches of file system steps on one worker thread, in the order they were sent. The thread is
 * started on first use and stopped after `IDLE_MS` without work; it never keeps the process alive.
 */
export class FsWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private idle: NodeJS.Timeout | undefined;

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      p.resolve(r);
      this.settle();
    });
    const fail = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`file system worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  /** settle lets the process exit without waiting for the idle thread, and arms its stop, once nothing is pending. */
  private settle(): void {
    if (this.pending.size) return;
    this.worker?.unref();
    this.idle ??= setTimeout(() => {
      this.idle = undefined;
      if (!this.pending.size) void this.close();
    }, IDLE_MS).unref();
  }

  private send(req: Job, transfer: ArrayBuffer[]): Promise<Reply> {
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = undefined;
    }
    const w = this.start();
    w.ref();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...req, id }, transfer);
    }).then((r) => {
      if (!r.ok) throw new FsError(r.message, r.code);
      return r;
    });
  }

  /** run carries out `ops` in order; `data` (given away: its memory moves to the worker) holds the file contents. */
  async run(ops: FsOp[], data: Uint8Array): Promise<void> {
    const buf = data.buffer;
    const whole = data.byteOffset === 0 && data.byteLength === buf.byteLength && buf instanceof ArrayBuffer;
    await this.send({ kind: 'ops', ops, data }, whole ? [buf] : []);
  }

  /** du measures a tree (see DiskUsage) without following symlinks. */
  async du(path: string): Promise<DiskUsage> {
    const r = await this.send({ kind: 'du', path }, []);
    return (r as { du: DiskUsage }).du;
  }

  /** close stops the thread; later calls start a new one. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/** sharedFsWorker is the process's one file system worker (layer unpacks share it, like a small thread pool). */
export const sharedFsWorker = new FsWorker();

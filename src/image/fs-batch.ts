import type { FsOp, FsWorker } from './fs-worker.js';

/** BATCH_BYTES is how much file content one batch carries at most; BATCH_OPS how many steps. */
export const BATCH_BYTES = 1 << 20;
export const BATCH_OPS = 512;

type FileOp = Extract<FsOp, { op: 'file' }>;

/**
 * FsBatch gathers one layer unpack's file system steps (directories, small files with their contents, links,
 * metadata) and hands them to the file system worker in batches, in order: one round trip per batch instead of
 * several per file. One batch runs while the next fills. A failure surfaces at the next `add`/`sync`; after
 * `sync` resolves every step sent so far is done, so the caller may then touch the tree itself.
 */
export class FsBatch {
  private ops: FsOp[] = [];
  private chunks: Buffer[] = [];
  private bytes = 0;
  private inflight: Promise<void> | undefined;
  private failed: unknown;

  constructor(private readonly worker: FsWorker) {}

  private check(): void {
    if (this.failed !== undefined) throw this.failed instanceof Error ? this.failed : new Error('file system step failed', { cause: this.failed });
  }

  /** add queues a step without file content. */
  async add(op: Exclude<FsOp, FileOp>): Promise<void> {
    this.check();
    if (this.ops.length >= BATCH_OPS) await this.send();
    this.ops.push(op);
  }

  /** fits tells whether a file of `size` bytes may go through a batch (larger ones are written directly). */
  static fits(size: number): boolean {
    return size <= BATCH_BYTES;
  }

  /** addFile queues a file whose content is read from `body` (`size` bytes, at most BATCH_BYTES). */
  async addFile(op: Omit<FileOp, 'at' | 'len'>, size: number, body: AsyncIterable<Buffer>): Promise<void> {
    this.check();
    if (this.ops.length >= BATCH_OPS || this.bytes + size > BATCH_BYTES) await this.send();
    const at = this.bytes;
    for await (const c of body) {
      this.chunks.push(c);
      this.bytes += c.length;
    }
    this.ops.push({ ...op, at, len: this.bytes - at });
  }

  /** send hands the queued steps to the worker once the batch before them is done. */
  private async send(): Promise<void> {
    await this.inflight;
    this.check();
    if (!this.ops.length) return;
    const data = new Uint8Array(this.bytes);
    let off = 0;
    for (const c of this.chunks) {
      data.set(c, off);
      off += c.length;
    }
    const ops = this.ops;
    this.ops = [];
    this.chunks = [];
    this.bytes = 0;
    this.inflight = this.worker.run(ops, data).catch((e: unknown) => {
      this.failed ??= e;
    });
  }

  /** sync sends what is queued and waits until every step is done; it throws the first failure. */
  async sync(): Promise<void> {
    await this.send();
    await this.inflight;
    this.check();
  }

  /** settle waits for the batch in flight, if any, ignoring failures (before removing a failed unpack's tree). */
  async settle(): Promise<void> {
    await this.inflight;
  }
}

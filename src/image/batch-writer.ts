import type { FileHandle } from 'node:fs/promises';

/** FLUSH_BYTES is how much a BatchWriter gathers before one vectored write. */
export const FLUSH_BYTES = 1 << 20;

/** writeAll writes buffers at a file's current position with writev, looping on short writes. */
export async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  let rest = parts;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    let w = bytesWritten;
    rest = rest.slice();
    while (rest.length && w >= rest[0]!.length) w -= rest.shift()!.length;
    if (rest.length && w > 0) rest[0] = rest[0]!.subarray(w);
  }
}

/**
 * BatchWriter appends the many small pieces a stream yields (network reads, tar entry bodies) to a file in few
 * large vectored writes: one write call per `FLUSH_BYTES` instead of one per piece.
 */
export class BatchWriter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly fh: FileHandle) {}

  /** add queues a piece; it writes the batch out when it is large enough. */
  async add(chunk: Buffer): Promise<void> {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= FLUSH_BYTES) await this.flush();
  }

  /** flush writes what is queued. */
  async flush(): Promise<void> {
    if (!this.size) return;
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    await writeAll(this.fh, parts);
  }
}

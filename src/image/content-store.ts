import { createHash, randomBytes } from 'node:crypto';
import { open, mkdir, rename, rm, readdir, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { fsyncDir, writeFileAtomic, TMP_PREFIX } from '../store/atomic-file.js';
import { RuntimeError, isErrno } from '../errors/index.js';
import { isDigest } from './reference.js';
import { SingleFlight } from './single-flight.js';
import { BatchWriter } from './batch-writer.js';

/** TEE_BUFFER is how far a download may run ahead of the unpack reading it. */
const TEE_BUFFER = 1 << 20;

/** forward passes a chunk on; false means the reader is behind (wait for `drained`). */
function forward(out: Writable, chunk: Buffer): boolean {
  return out.destroyed ? true : out.write(chunk);
}

/** drained waits until a writable wants more, or until it is gone. */
async function drained(out: Writable): Promise<void> {
  if (out.destroyed || !out.writableNeedDrain) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/**
 * IngestStream is a blob's bytes as they download; `verified` settles when the blob is checked and stored, and
 * rejects with the reason when it is not.
 */
export type IngestStream = PassThrough & {
  verified: Promise<void>;
  /** cancel stops the download, keeps nothing of it, and makes `verified` reject with `reason`. */
  cancel(reason: Error): void;
};

export class ContentStore {
  private readonly blobs: string;
  private readonly ingestDir: string;
  private readonly flights = new SingleFlight<void>();

  constructor(readonly dir: string) {
    this.blobs = join(dir, 'blobs', 'sha256');
    this.ingestDir = join(dir, 'ingest');
  }

  /** init creates the directories and removes what an interrupted download left behind. */
  async init(): Promise<number> {
    await mkdir(this.blobs, { recursive: true, mode: 0o700 });
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    let swept = 0;
    for (const dir of [this.ingestDir, this.blobs]) {
      for (const n of await readdir(dir)) {
        if (dir === this.ingestDir || n.startsWith(TMP_PREFIX)) {
          await rm(join(dir, n), { recursive: true, force: true });
          swept++;
        }
      }
    }
    return swept;
  }

  /** path gives the file of a blob (whether or not it exists). */
  path(digest: string): string {
    if (!isDigest(digest)) throw new RuntimeError('InvalidArgument', `invalid digest ${JSON.stringify(digest)}`);
    return join(this.blobs, digest.slice('sha256:'.length));
  }

  /** has tells whether a complete blob is stored. */
  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.path(digest));
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  /** read gives a stored blob's bytes (manifests and configs). */
  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  /** putBuffer stores a blob held in memory, after checking its digest. */
  async putBuffer(digest: string, data: Buffer): Promise<void> {
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (got !== digest) throw new RuntimeError('FailedPrecondition', `blob ${digest}: content has digest ${got}`);
    if (await this.has(digest)) return;
    await writeFileAtomic(this.path(digest), data, 0o600);
  }

  /**
   * ingest stores a blob from a stream once: concurrent calls for one digest share the download. `open` is
   * called only when the blob is absent. A size or digest mismatch stores nothing.
   */
  async ingest(digest: string, size: number, openSource: () => Promise<Readable>, onBytes?: (n: number) => void): Promise<void> {
    return this.flights.do(digest, async () => {
      if (await this.has(digest)) return;
      await this.download(digest, size, openSource, onBytes);
    });
  }

  /**
   * ingestStream downloads a blob into the store and passes its bytes on as they arrive, so a layer can be
   * unpacked while it downloads. The returned stream ends only once the blob is verified, synced and in place,
   * and fails instead when it is not (nothing is stored then). When the reader goes away (say the layer's tar
   * turned out broken), the download still runs to its end so that `verified` can tell whether the blob itself was
   * bad, which is then the error worth reporting. It does not join other downloads of the digest: each writes its
   * own temporary file, and a rename over an identical blob is harmless.
   */
  ingestStream(digest: string, size: number, openSource: () => Promise<Readable>, onBytes?: (n: number) => void): IngestStream {
    const out = new PassThrough({ highWaterMark: TEE_BUFFER }) as IngestStream;
    const ac = new AbortController();
    out.cancel = (reason) => ac.abort(reason);
    out.verified = this.download(digest, size, openSource, onBytes, out, ac.signal);
    out.verified.then(
      () => out.end(),
      (e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))),
    );
    return out;
  }

  private async download(digest: string, size: number, openSource: () => Promise<Readable>, onBytes?: (n: number) => void, tee?: Writable, signal?: AbortSignal): Promise<void> {
    const target = this.path(digest);
    const tmp = join(this.ingestDir, `${TMP_PREFIX}${digest.slice(7, 23)}-${randomBytes(4).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
    let ok = false;
    let src: Readable | undefined;
    const onAbort = () => src?.destroy(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      src = await openSource();
      signal?.throwIfAborted();
      const h = createHash('sha256');
      const w = new BatchWriter(fh);
      let n = 0;
      for await (const chunk of src as AsyncIterable<Buffer>) {
        n += chunk.length;
        if (size >= 0 && n > size) throw new RuntimeError('FailedPrecondition', `blob ${digest}: more than the ${size} bytes the manifest declares`);
        h.update(chunk);
        const full = tee ? !forward(tee, chunk) : false;
        await w.add(chunk);
        onBytes?.(chunk.length);
        if (full) await drained(tee!);
      }
      await w.flush();
      const got = `sha256:${h.digest('hex')}`;
      if (size >= 0 && n !== size) throw new RuntimeError('FailedPrecondition', `blob ${digest}: got ${n} bytes, the manifest declares ${size}`);
      if (got !== digest) throw new RuntimeError('FailedPrecondition', `blob ${digest}: content has digest ${got} (corrupt or tampered)`);
      await fh.sync();
      ok = true;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!ok) src?.destroy();
      await fh.close();
      if (!ok) await rm(tmp, { force: true });
    }
    await rename(tmp, target);
    await fsyncDir(this.blobs);
  }

  /** delete removes a blob; an absent one is not an error. */
  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** list gives the digests of every stored blob. */
  async list(): Promise<string[]> {
    return (await readdir(this.blobs)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }
}

import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { createRequire } from 'node:module';
import type * as Fzstd from 'fzstd';
import type * as tar from 'tar-stream';
import type { SpecialFiles } from '../sys/special-files.js';
import { RuntimeError } from '../errors/index.js';
import { ROOT_LAYER_FORMAT, type LayerFormat } from '../domain/node.js';
import { BatchWriter } from './batch-writer.js';
import { FsBatch } from './fs-batch.js';
import { sharedFsWorker, type FsWorker, type Owner } from './fs-worker.js';
import { whiteoutRole } from './whiteout.js';
import type { LayerMeter } from './unpack-budget.js';

// tar-stream and fzstd are loaded at the first layer unpacked (createRequire keeps that synchronous): an idle daemon
// does not need them.
const lazyRequire = createRequire(import.meta.url);
/** tarStream is the tar-stream module, loaded on first use. */
export const tarStream = (): typeof tar => lazyRequire('tar-stream') as typeof tar;

/** UnpackOptions tune one layer unpack. */
export interface UnpackOptions {
  special: SpecialFiles;
  /** chown sets owners from the tar headers (needs root); off, files belong to the caller. */
  chown: boolean;
  /** onWarning hears about entries skipped on purpose (an xattr that cannot be carried, say). */
  onWarning?: (msg: string) => void;
  /** worker runs the file system steps (default: the process's shared one). */
  worker?: FsWorker;
  /** meter counts each file's size before its content is written, and may stop the unpack by throwing. */
  meter?: LayerMeter;
  /** format says how whiteouts, opaque marks, devices and xattrs are written (default: as real root). */
  format?: LayerFormat;
}

/** UnpackResult is what an unpack produced. */
export interface UnpackResult {
  /** diffId is the sha256 of the uncompressed tar stream. */
  diffId: string;
  entries: number;
  /** skippedDevices counts the device nodes not made (format.layerDevices "skip"). */
  skippedDevices: number;
}

type Kind = 'dir' | 'file' | 'symlink' | 'other';

/** CHUNK is the size of the pieces a layer stream moves in; BUFFER how far decompression may run ahead of writes. */
const CHUNK = 256 << 10;
const BUFFER = 1 << 20;

/** readUmask gives the process umask from /proc (process.umask() without an argument is deprecated), or 0o777 when unknown, which makes every mode be set explicitly. */
function readUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1]!, 8) : 0o777;
  } catch {
    return 0o777;
  }
}

/** OWN is what a file created by this process gets: its owner and the umask applied to the mode. */
const OWN = { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1, umask: readUmask() };

/** escapeError is the error of an entry that would land outside the layer directory. */
const escapeError = (name: string, why: string) => new RuntimeError('FailedPrecondition', `layer entry ${JSON.stringify(name)} rejected: ${why}`);

/**
 * cleanName turns a tar entry name into a path relative to the layer root, or throws when it is absolute, has a
 * `..` component or a NUL byte. `./` prefixes and trailing slashes are dropped; "" is the root itself.
 */
export function cleanName(name: string): string {
  if (name.includes('\0')) throw escapeError(name, 'NUL byte in name');
  if (name.startsWith('/')) throw escapeError(name, 'absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw escapeError(name, '".." component');
  return parts.join('/');
}

/** zstdStream decompresses zstd frames with fzstd (pure JS; no binary needed). */
function zstdStream(): Transform {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        d.push(chunk);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb) {
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  const d = new (lazyRequire('fzstd') as typeof Fzstd).Decompress((chunk) => t.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  return t;
}

/**
 * peek reads the first `n` bytes of a stream without consuming them (they are put back), for format sniffing.
 * It gives the stream to read from afterwards: the same one, or a replacement when the input was shorter than `n`.
 */
export function peek(s: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let len = 0;
    const done = (e?: Error, ended = false) => {
      s.off('readable', onReadable);
      s.off('end', onEnd);
      s.off('error', onError);
      if (e) return reject(e);
      const b = Buffer.concat(got);
      if (ended) return resolve({ head: b, stream: Readable.from(b.length ? [b] : []) });
      if (b.length) s.unshift(b);
      resolve({ head: b.subarray(0, n), stream: s });
    };
    const onReadable = () => {
      let c: Buffer | null;
      while (len < n && (c = s.read() as Buffer | null) !== null) {
        got.push(c);
        len += c.length;
      }
      if (len >= n) done();
    };
    const onEnd = () => done(undefined, true);
    const onError = (e: Error) => done(e);
    s.on('readable', onReadable);
    s.on('end', onEnd);
    s.on('error', onError);
  });
}

/** decompressorFor picks gunzip, zstd or nothing from a blob's first bytes (media types are not trusted). */
export function decompressorFor(head: Buffer): Transform | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return createGunzip({ chunkSize: CHUNK, highWaterMark: BUFFER } as ZlibOptions);
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return zstdStream();
  return undefined;
}

/**
 * unpackLayer extracts a layer blob (a file, or a stream such as a download in progress; gzip, zstd or plain tar) into the empty directory `dest`, in the overlayfs
 * form: `.wh.NAME` becomes a 0:0 character device, `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory
 * (`user.overlay.opaque` in a user namespace, where overlayfs is mounted with `userxattr`; there device nodes are
 * skipped and counted, since only whiteouts, 0:0 devices, can be made without CAP_MKNOD, and trusted.* xattrs too).
 * Entries that would land outside `dest` (absolute, `..`, or through a symlink planted by an earlier entry) and
 * hard links to outside the layer are rejected. The uncompressed stream is hashed, giving the diff id.
 */
export async function unpackLayer(blob: string | Readable, dest: string, o: UnpackOptions): Promise<UnpackResult> {
  const what = typeof blob === 'string' ? `layer ${blob.slice(-64)}` : 'layer';
  const { head, stream: input } = await peek(typeof blob === 'string' ? createReadStream(blob, { highWaterMark: CHUNK }) : blob, 4);
  const stages: Transform[] = [];
  const dec = decompressorFor(head);
  if (dec) stages.push(dec);
  const h = createHash('sha256');
  stages.push(
    new Transform({
      highWaterMark: BUFFER,
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    }),
  );
  const ex = tarStream().extract({ highWaterMark: BUFFER });
  const u = new Unpacker(dest, o);
  const piping = pipeline([input, ...stages, ex] as unknown as [Readable, Transform]);
  let failure: unknown;
  piping.catch((e: unknown) => (failure ??= e));
  try {
    for await (const entry of ex) {
      try {
        await u.entry(entry.header, entry as unknown as AsyncIterable<Buffer>);
      } finally {
        entry.resume();
      }
    }
    await piping;
    if (!failure) await u.finish();
  } catch (e) {
    ex.destroy();
    await piping.catch(() => {});
    // No step of this unpack may still run once the caller removes the tree.
    await u.settle();
    if (e instanceof RuntimeError) throw e;
    throw new RuntimeError('FailedPrecondition', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (failure) {
    await u.settle();
    throw failure instanceof Error ? failure : new Error('layer stream failed', { cause: failure });
  }
  return { diffId: `sha256:${h.digest('hex')}`, entries: u.count, skippedDevices: u.skippedDevices };
}

/** Unpacker holds the state of one layer extraction: the type of every path written so far. */
class Unpacker {
  private readonly kinds = new Map<string, Kind>([['', 'dir']]);
  private readonly dirMeta: { path: string; h: tar.Header }[] = [];
  private readonly batch: FsBatch;
  private readonly format: LayerFormat;
  count = 0;
  skippedDevices = 0;

  constructor(
    private readonly dest: string,
    private readonly o: UnpackOptions,
  ) {
    this.batch = new FsBatch(o.worker ?? sharedFsWorker);
    this.format = o.format ?? ROOT_LAYER_FORMAT;
  }

  /** parents makes sure every ancestor of `rel` is a real directory of this layer, creating missing ones. */
  private async parents(rel: string, create: boolean, name: string): Promise<void> {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      const k = this.kinds.get(cur);
      if (k === 'dir') continue;
      if (k === 'symlink') throw escapeError(name, `its parent ${cur} is a symlink`);
      if (k) throw escapeError(name, `its parent ${cur} is not a directory`);
      if (!create) throw escapeError(name, `its parent ${cur} is not in this layer`);
      await this.batch.add({ op: 'mkdir', path: join(this.dest, cur), mode: 0o755 });
      this.kinds.set(cur, 'dir');
    }
  }

  /** clear removes what an earlier entry put at `rel` (a later entry of the same name wins). */
  private async clear(rel: string, keepDir: boolean): Promise<void> {
    const k = this.kinds.get(rel);
    if (!k || (k === 'dir' && keepDir)) return;
    await this.batch.sync();
    await rm(join(this.dest, rel), { recursive: true, force: true });
    for (const p of [...this.kinds.keys()]) if (p === rel || p.startsWith(`${rel}/`)) this.kinds.delete(p);
  }

  /** owner gives the owner to set on an entry, or undefined when a new file already has it (the daemon's). */
  private owner(h: tar.Header): Owner | undefined {
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    return this.o.chown && (uid !== OWN.uid || gid !== OWN.gid) ? [uid, gid] : undefined;
  }

  /** meta queues owner, mode (not for symlinks) and mtime of an entry. */
  private meta(path: string, h: tar.Header, symlink: boolean): Promise<void> {
    return this.batch.add({ op: 'meta', path, owner: this.owner(h), chmod: (h.mode ?? 0o644) & 0o7777, mtime: mtimeOf(h), symlink });
  }

  /** xattrs sets the entry's PAX xattrs; they go through SpecialFiles, so the queued steps are done first. */
  private async xattrs(path: string, h: tar.Header): Promise<void> {
    const pax = (h.pax ?? {}) as Record<string, string>;
    const names = Object.keys(pax).filter((k) => k.startsWith('SCHILY.xattr.'));
    if (!names.length) return;
    await this.batch.sync();
    for (const k of names) {
      const v = pax[k]!;
      const name = k.slice('SCHILY.xattr.'.length);
      if (name.startsWith('trusted.') && !this.format.trustedXattrs) {
        this.o.onWarning?.(`xattr ${name} of ${h.name} skipped: trusted.* xattrs cannot be set inside a user namespace`);
        continue;
      }
      if (v.includes('\uFFFD')) {
        this.o.onWarning?.(`xattr ${name} of ${h.name} is not valid UTF-8 in the PAX header; skipped`);
        continue;
      }
      await this.o.special.setXattr(path, name, Buffer.from(v, 'utf8'));
    }
  }

  /** mknod makes a device, fifo or whiteout through SpecialFiles, once the queued steps are done. */
  private async mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, mode: number): Promise<void> {
    await this.batch.sync();
    await this.o.special.mknod(path, type, major, minor, mode);
  }

  async entry(h: tar.Header, body: AsyncIterable<Buffer>): Promise<void> {
    this.count++;
    const rel = cleanName(h.name);
    const wh = whiteoutRole(h.name, rel, h.type);
    if (rel !== '') await this.parents(rel, true, h.name);
    const abs = join(this.dest, rel);
    if (wh.role === 'opaque') {
      await this.batch.sync();
      await this.o.special.setXattr(join(this.dest, wh.dir), `${this.format.overlayXattr}opaque`, Buffer.from('y'));
      return;
    }
    if (wh.role === 'whiteout') {
      await this.clear(wh.target, false);
      await this.mknod(join(this.dest, wh.target), 'c', 0, 0, 0);
      this.kinds.set(wh.target, 'other');
      return;
    }
    if (wh.role === 'meta') return;
    switch (h.type as string | null | undefined) {
      case 'directory': {
        if (rel === '') return;
        await this.clear(rel, true);
        if (!this.kinds.has(rel)) await this.batch.add({ op: 'mkdir', path: abs, mode: 0o755 });
        this.kinds.set(rel, 'dir');
        this.dirMeta.push({ path: abs, h });
        await this.xattrs(abs, h);
        return;
      }
      case 'file':
      case 'contiguous-file':
      case undefined:
      case null: {
        this.o.meter?.take(h.size ?? 0, h.name);
        await this.clear(rel, false);
        // Owner and mode are set only when creation does not already give them: few calls per file, which is
        // what unpacking many small files costs. Small files travel in batches to the file system worker.
        const mode = (h.mode ?? 0o644) & 0o7777;
        const plain = (mode & ~0o777) === 0 && (mode & OWN.umask) === 0;
        const op = { op: 'file' as const, path: abs, mode: plain ? mode : 0o600, owner: this.owner(h), chmod: plain ? undefined : mode, mtime: mtimeOf(h) };
        if (FsBatch.fits(h.size ?? 0)) await this.batch.addFile(op, h.size ?? 0, body);
        else await this.bigFile(op, body);
        this.kinds.set(rel, 'file');
        await this.xattrs(abs, h);
        return;
      }
      case 'symlink': {
        await this.clear(rel, false);
        await this.batch.add({ op: 'symlink', path: abs, target: h.linkname ?? '', owner: this.owner(h), mtime: mtimeOf(h) });
        this.kinds.set(rel, 'symlink');
        return;
      }
      case 'link': {
        const src = cleanName(h.linkname ?? '');
        await this.parents(src, false, h.name);
        const k = this.kinds.get(src);
        if (!k) throw escapeError(h.name, `hard link to ${JSON.stringify(h.linkname)}, which is not in this layer`);
        if (k === 'dir') throw escapeError(h.name, 'hard link to a directory');
        if (src === rel) return;
        await this.clear(rel, false);
        await this.batch.add({ op: 'link', path: abs, src: join(this.dest, src) });
        this.kinds.set(rel, k);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await this.clear(rel, false);
        if (h.type !== 'fifo' && this.format.layerDevices === 'skip') {
          // Not made: a user namespace's root cannot mknod a real device (EPERM). Counted, and logged per layer.
          this.skippedDevices++;
          return;
        }
        const t = h.type === 'fifo' ? 'p' : h.type === 'block-device' ? 'b' : 'c';
        await this.mknod(abs, t, h.devmajor ?? 0, h.devminor ?? 0, h.mode ?? 0o644);
        this.kinds.set(rel, 'other');
        await this.meta(abs, h, false);
        return;
      }
      default:
        this.o.onWarning?.(`entry ${h.name} of type ${h.type} skipped`);
    }
  }

  /** bigFile streams a file too large for a batch straight to disk, once the queued steps are done. */
  private async bigFile(op: { path: string; mode: number; owner?: Owner; chmod?: number; mtime: number }, body: AsyncIterable<Buffer>): Promise<void> {
    await this.batch.sync();
    const fh = await open(op.path, 'wx', op.mode);
    try {
      const w = new BatchWriter(fh);
      for await (const c of body) await w.add(c);
      await w.flush();
      if (op.owner) await fh.chown(op.owner[0], op.owner[1]);
      if (op.chmod !== undefined) await fh.chmod(op.chmod);
      await fh.utimes(op.mtime, op.mtime);
    } finally {
      await fh.close();
    }
  }

  /** finish applies directory modes, owners and mtimes, last, so that adding children did not disturb them. */
  async finish(): Promise<void> {
    for (let i = this.dirMeta.length - 1; i >= 0; i--) {
      const { path, h } = this.dirMeta[i]!;
      await this.meta(path, h, false);
    }
    await this.batch.sync();
  }

  /** settle waits until no step of this unpack runs any more (after a failure). */
  settle(): Promise<void> {
    return this.batch.settle();
  }
}

/** mtimeOf gives an entry's mtime in seconds (the epoch when the header has none). */
function mtimeOf(h: tar.Header): number {
  return (h.mtime?.getTime() ?? 0) / 1000;
}

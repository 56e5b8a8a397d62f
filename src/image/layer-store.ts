import { mkdir, readdir, rename, rm, symlink, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ProcessRunner } from '../sys/process-runner.js';
import { runChecked } from '../sys/process-runner.js';
import type { SpecialFiles } from '../sys/special-files.js';
import { ROOT_LAYER_FORMAT, type LayerFormat } from '../domain/node.js';
import { fsyncDir, removeTreeAtomic, TMP_PREFIX } from '../store/atomic-file.js';
import { RuntimeError, isErrno } from '../errors/index.js';
import { unpackLayer } from './unpack.js';
import { sharedFsWorker } from './fs-worker.js';
import { SingleFlight } from './single-flight.js';
import { asDiskFull } from './disk-full.js';
import type { LayerMeter } from './unpack-budget.js';

/** LayerInfo is what layer.json records about an unpacked layer. */
export interface LayerInfo {
  diffId: string;
  /** bytes and inodes of the unpacked tree on disk. */
  size: number;
  inodes: number;
  /** short is the name of the layer's link in `l/`, used to keep overlay mount options short. */
  short: string;
}

const hex = (diffId: string) => diffId.slice('sha256:'.length);
/** shortName is the 16-hex-digit name of a layer's link in `l/`. */
export const shortName = (diffId: string) => hex(diffId).slice(0, 16);

/**
 * LayerStore keeps each layer unpacked once, in `layers/<diff-id hex>/diff`, shared by every image that has it,
 * with a short symlink `l/<16 hex>` → `../layers/<hex>/diff` for overlay mounts. A layer is unpacked into a
 * temporary directory, synced to disk (syncfs), and renamed into place; `layer.json` marks it complete.
 * Layers in use by a pull in flight are pinned, so a concurrent garbage collection leaves them alone.
 */
export class LayerStore {
  readonly layersDir: string;
  readonly linksDir: string;
  private readonly flights = new SingleFlight<LayerInfo>();
  private readonly pins = new Map<string, number>();
  private runningSync: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly special: SpecialFiles,
    private readonly runner: ProcessRunner,
    private readonly chown: boolean,
    private readonly format: LayerFormat = ROOT_LAYER_FORMAT,
  ) {
    this.layersDir = join(dir, 'layers');
    this.linksDir = join(dir, 'l');
  }

  /** init creates the directories and removes temporary and incomplete layers and dangling links. */
  async init(): Promise<number> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.linksDir, { recursive: true, mode: 0o700 });
    let swept = 0;
    for (const n of await readdir(this.layersDir)) {
      const p = join(this.layersDir, n);
      if (n.startsWith(TMP_PREFIX) || !(await this.info(`sha256:${n}`))) {
        await rm(p, { recursive: true, force: true });
        swept++;
      }
    }
    for (const n of await readdir(this.linksDir)) {
      const target = await readlink(join(this.linksDir, n)).catch(() => '');
      const h = /^\.\.\/layers\/([a-f0-9]{64})\/diff$/.exec(target)?.[1];
      if (!h || !(await this.info(`sha256:${h}`))) {
        await rm(join(this.linksDir, n), { force: true });
        swept++;
      }
    }
    return swept;
  }

  /** diffDir gives the directory of a layer's files. */
  diffDir(diffId: string): string {
    return join(this.layersDir, hex(diffId), 'diff');
  }

  /** info reads a complete layer's record, or undefined when the layer is absent or incomplete. */
  async info(diffId: string): Promise<LayerInfo | undefined> {
    try {
      return JSON.parse(await readFile(join(this.layersDir, hex(diffId), 'layer.json'), 'utf8')) as LayerInfo;
    } catch (e) {
      if (isErrno(e, 'ENOENT') || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** unpackedSize gives the bytes an image's layers take on disk: each distinct layer once (a list may repeat one). */
  async unpackedSize(diffIds: string[]): Promise<number> {
    const sizes = await Promise.all([...new Set(diffIds)].map(async (id) => (await this.info(id))?.size ?? 0));
    return sizes.reduce((a, b) => a + b, 0);
  }

  /** pin protects layers from removal until the returned function is called. */
  pin(diffIds: string[]): () => void {
    for (const d of diffIds) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const d of diffIds) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n <= 0) this.pins.delete(d);
        else this.pins.set(d, n);
      }
    };
  }

  /** pinned tells whether a pull in flight uses the layer. */
  pinned(diffId: string): boolean {
    return this.pins.has(diffId);
  }

  /**
   * unpack makes the layer unless it exists; concurrent calls for one layer share the work. `source` is a stored
   * blob's path, or opens a stream of the blob (a download in progress, which must fail if the blob turns out
   * corrupt); it is called only when this call does the work. The uncompressed content must hash to `diffId`,
   * else nothing is kept.
   */
  unpack(diffId: string, source: string | (() => Promise<Readable>), o: { onWarning?: (m: string) => void; meter?: LayerMeter } = {}): Promise<LayerInfo> {
    return this.flights.do(diffId, async () => {
      const have = await this.info(diffId);
      if (have) return have;
      const tmp = join(this.layersDir, `${TMP_PREFIX}${hex(diffId).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
      let input: string | Readable | undefined;
      try {
        input = typeof source === 'string' ? source : await source();
        await mkdir(tmp, { mode: 0o700 });
        await mkdir(join(tmp, 'diff'), { mode: 0o755 });
        const res = await unpackLayer(input, join(tmp, 'diff'), { special: this.special, chown: this.chown, onWarning: o.onWarning, meter: o.meter, format: this.format });
        if (res.skippedDevices > 0) o.onWarning?.(`${res.skippedDevices} device node(s) of layer ${diffId} skipped: device nodes cannot be made inside a user namespace`);
        if (res.diffId !== diffId) throw new RuntimeError('FailedPrecondition', `layer content has diff id ${res.diffId}, the image config says ${diffId}`);
        const u = await sharedFsWorker.du(join(tmp, 'diff'));
        const info: LayerInfo = { diffId, size: u.bytes, inodes: u.inodes, short: shortName(diffId) };
        o.meter?.done(info.size);
        // The record goes in while the directory still has its temporary name, and one syncfs puts it on disk
        // with the layer's files; only then does the rename publish the layer (a crash before leaves a
        // temporary directory, which start-up removes).
        await writeFile(join(tmp, 'layer.json'), JSON.stringify(info), { flag: 'wx', mode: 0o600 });
        await this.syncfs(tmp);
        await rename(tmp, join(this.layersDir, hex(diffId)));
        await fsyncDir(this.layersDir);
        const link = join(this.linksDir, info.short);
        await rm(link, { force: true });
        await symlink(`../layers/${hex(diffId)}/diff`, link);
        await fsyncDir(this.linksDir);
        return info;
      } catch (e) {
        if (typeof input === 'object') input.destroy();
        await rm(tmp, { recursive: true, force: true });
        const err = asDiskFull(e, this.dir);
        // Name the layer, so that a rejected entry can be traced to it.
        if (err instanceof RuntimeError && !err.message.includes(diffId)) throw new RuntimeError(err.kind, `layer ${diffId}: ${err.message}`, { cause: err });
        throw err;
      }
    });
  }

  /**
   * syncfs flushes the filesystem of the layer store (`sync -f`). Layers unpacked side by side share flushes: a
   * call made while one runs waits for the next, which starts after it and so covers every file written before
   * the call; all calls made meanwhile share that next one.
   */
  private syncfs(path: string): Promise<void> {
    if (!this.nextSync) {
      const after = this.runningSync ?? Promise.resolve();
      const next = after.then(
        () => undefined,
        () => undefined,
      ).then(async () => {
        this.nextSync = undefined;
        this.runningSync = next;
        try {
          await runChecked(this.runner, 'sync', ['-f', path], { timeoutMs: 600_000 });
        } finally {
          if (this.runningSync === next) this.runningSync = undefined;
        }
      });
      this.nextSync = next;
    }
    return this.nextSync;
  }

  /** remove deletes a layer (rename first, so a crash cannot leave it half-deleted under its name). */
  async remove(diffId: string): Promise<void> {
    const info = await this.info(diffId);
    if (info) await rm(join(this.linksDir, info.short), { force: true });
    await removeTreeAtomic(join(this.layersDir, hex(diffId)));
  }

  /** list gives the diff ids of every complete layer. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const n of await readdir(this.layersDir)) if (/^[a-f0-9]{64}$/.test(n)) out.push(`sha256:${n}`);
    return out;
  }
}

import { readdir, rm, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic, readFileIfExists, TMP_PREFIX } from './atomic-file.js';
import { isErrno } from '../errors/index.js';

/** RECORD_VERSION is the envelope version fune writes; a record of another version is refused, not guessed at. */
export const RECORD_VERSION = 'v1';

interface Envelope<T> {
  version: string;
  kind: string;
  data: T;
}

/** TOMBSTONE_SUFFIX names a record set aside by `tombstone` (`<id>.json.removing`): its object is being removed. */
export const TOMBSTONE_SUFFIX = '.json.removing';

/**
 * LoadedRecords is what a directory scan found: good records, tombstones (records whose object was being removed),
 * and the names of files that could not be read.
 */
export interface LoadedRecords<T> {
  records: { id: string; value: T }[];
  tombstones: { id: string; value: T }[];
  broken: { id: string; reason: string }[];
}

/**
 * RecordStore keeps one JSON file per object (`<dir>/<id>.json`) in a versioned envelope, written atomically.
 * JSON cannot hold bigint: callers store nanosecond timestamps as decimal strings.
 */
export class RecordStore<T> {
  constructor(
    readonly dir: string,
    readonly kind: string,
  ) {}

  private path(id: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(id) || id.startsWith('.')) throw new Error(`invalid record id ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.json`);
  }

  /** put writes the record durably; it is on disk when the promise resolves. */
  async put(id: string, value: T): Promise<void> {
    const env: Envelope<T> = { version: RECORD_VERSION, kind: this.kind, data: value };
    await writeFileAtomic(this.path(id), JSON.stringify(env));
  }

  /** get reads one record, or undefined when there is none. */
  async get(id: string): Promise<T | undefined> {
    const buf = await readFileIfExists(this.path(id));
    return buf === undefined ? undefined : this.decode(buf);
  }

  /**
   * tombstone sets the record aside durably (a rename to `<id>.json.removing` and an fsync of the directory: one
   * journal commit where a rewrite costs two): `get` finds it no more, `loadAll` gives it among the tombstones.
   */
  async tombstone(id: string): Promise<void> {
    const path = this.path(id);
    await rename(path, `${path.slice(0, -'.json'.length)}${TOMBSTONE_SUFFIX}`);
    await fsyncDir(this.dir);
  }

  /** delete removes the record and its tombstone; removing an absent record is not an error. */
  async delete(id: string): Promise<void> {
    const path = this.path(id);
    await Promise.all([rm(path, { force: true }), rm(`${path.slice(0, -'.json'.length)}${TOMBSTONE_SUFFIX}`, { force: true })]);
  }

  /** loadAll reads every record, sweeping temporary files a crash left, and reports unreadable ones apart. */
  async loadAll(): Promise<LoadedRecords<T>> {
    const out: LoadedRecords<T> = { records: [], tombstones: [], broken: [] };
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        return out;
      }
      throw e;
    }
    for (const name of names) {
      if (name.startsWith(TMP_PREFIX)) {
        await rm(join(this.dir, name), { recursive: true, force: true });
        continue;
      }
      const tomb = name.endsWith(TOMBSTONE_SUFFIX);
      if (!tomb && !name.endsWith('.json')) continue;
      const id = name.slice(0, -(tomb ? TOMBSTONE_SUFFIX : '.json').length);
      try {
        const buf = await readFileIfExists(join(this.dir, name));
        if (buf !== undefined) (tomb ? out.tombstones : out.records).push({ id, value: this.decode(buf) });
      } catch (e) {
        out.broken.push({ id, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return out;
  }

  private decode(buf: Buffer): T {
    const env = JSON.parse(buf.toString()) as Partial<Envelope<T>>;
    if (env.version !== RECORD_VERSION) throw new Error(`unsupported record version ${String(env.version)}`);
    if (env.kind !== this.kind) throw new Error(`record of kind ${String(env.kind)} where ${this.kind} was expected`);
    return env.data as T;
  }
}

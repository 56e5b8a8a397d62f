import { readdir, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, readFileIfExists, TMP_PREFIX } from './atomic-file.js';
import { isErrno } from '../errors/index.js';

/** RECORD_VERSION is the envelope version fune writes; a record of another version is refused, not guessed at. */
export const RECORD_VERSION = 'v1';

interface Envelope<T> {
  version: string;
  kind: string;
  data: T;
}

/** LoadedRecords is what a directory scan found: good records, and the names of files that could not be read. */
export interface LoadedRecords<T> {
  records: { id: string; value: T }[];
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

  /** delete removes the record; removing an absent record is not an error. */
  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** loadAll reads every record, sweeping temporary files a crash left, and reports unreadable ones apart. */
  async loadAll(): Promise<LoadedRecords<T>> {
    const out: LoadedRecords<T> = { records: [], broken: [] };
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
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      try {
        const buf = await readFileIfExists(join(this.dir, name));
        if (buf !== undefined) out.records.push({ id, value: this.decode(buf) });
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

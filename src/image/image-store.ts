import { RecordStore } from '../store/record-store.js';
import type { ImageConfigFile } from './manifest.js';
import { parseReference, formatReference, repoName, isDigest } from './reference.js';

/** LayerRef is one layer of an image: its blob and its uncompressed diff id. */
export interface LayerRef {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
}

/** ImageRecord is what fune keeps about an image; its id is the config digest. */
export interface ImageRecord {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** manifestDigest is the platform manifest's digest; the index one (if any) is in repoDigests. */
  manifestDigest: string;
  configDigest: string;
  layers: LayerRef[];
  config: ImageConfigFile;
  /** size is the bytes its unpacked layers take on disk. */
  size: number;
  /** blobs are every content-store blob the image keeps (index, manifest, config, layers). */
  blobs: string[];
  createdAt: number;
}

/** ImageStore holds the image records in memory, backed by one durable record per image. */
export class ImageStore {
  private readonly records: RecordStore<ImageRecord>;
  private readonly byId = new Map<string, ImageRecord>();

  constructor(dir: string) {
    this.records = new RecordStore<ImageRecord>(dir, 'image');
  }

  /** load reads every record (tolerating broken ones, which are reported). */
  async load(): Promise<{ id: string; reason: string }[]> {
    const { records, broken } = await this.records.loadAll();
    for (const r of records) this.byId.set(r.value.id, r.value);
    return broken;
  }

  /** all lists the images. */
  all(): ImageRecord[] {
    return [...this.byId.values()];
  }

  /**
   * find resolves an id (`sha256:<hex>`, `<hex>`, or an unambiguous hex prefix of at least 12 digits), a tag or a
   * digest reference. An unparseable reference finds nothing rather than failing.
   */
  find(ref: string): ImageRecord | undefined {
    const s = ref.trim();
    const hexId = /^(?:sha256:)?([a-f0-9]{12,64})$/.exec(s)?.[1];
    if (hexId) {
      const exact = this.byId.get(`sha256:${hexId}`);
      if (exact) return exact;
      const matches = this.all().filter((r) => r.id.slice(7).startsWith(hexId));
      if (matches.length === 1) return matches[0];
      if (hexId.length === 64 || s.startsWith('sha256:')) return undefined;
    }
    let r;
    try {
      r = parseReference(s);
    } catch {
      return undefined;
    }
    if (r.digest) {
      const want = `${repoName(r)}@${r.digest}`;
      return this.all().find((i) => i.repoDigests.includes(want) || (isDigest(r.digest!) && i.manifestDigest === r.digest && i.repoDigests.some((d) => d.startsWith(`${repoName(r)}@`))));
    }
    const tag = formatReference(r);
    return this.all().find((i) => i.repoTags.includes(tag));
  }

  /**
   * put records an image: its tags move here from any other image (an image left with neither tags nor digests
   * stays, as containerd keeps dangling images until removed), and it merges with an existing record of its id.
   */
  async put(rec: ImageRecord): Promise<ImageRecord> {
    for (const other of this.all()) {
      if (other.id === rec.id) continue;
      const kept = other.repoTags.filter((t) => !rec.repoTags.includes(t));
      if (kept.length !== other.repoTags.length) {
        const o = { ...other, repoTags: kept };
        await this.records.put(hexOf(o.id), o);
        this.byId.set(o.id, o);
      }
    }
    const old = this.byId.get(rec.id);
    const merged: ImageRecord = old
      ? { ...rec, repoTags: union(old.repoTags, rec.repoTags), repoDigests: union(old.repoDigests, rec.repoDigests), blobs: union(old.blobs, rec.blobs), createdAt: old.createdAt }
      : rec;
    await this.records.put(hexOf(merged.id), merged);
    this.byId.set(merged.id, merged);
    return merged;
  }

  /** delete removes an image's record. */
  async delete(id: string): Promise<void> {
    await this.records.delete(hexOf(id));
    this.byId.delete(id);
  }
}

const hexOf = (id: string) => id.slice('sha256:'.length);
const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];

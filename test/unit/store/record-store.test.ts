import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordStore } from '../../../src/store/record-store.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

async function store(): Promise<RecordStore<{ n: number }>> {
  dir = await mkdtemp(join(tmpdir(), 'fune-records-'));
  const s = new RecordStore<{ n: number }>(join(dir, 'r'), 'thing');
  await s.loadAll();
  return s;
}

describe('RecordStore tombstones', () => {
  it('sets a record aside: get finds it no more, loadAll gives it among the tombstones, delete removes it', async () => {
    const s = await store();
    await s.put('a', { n: 1 });
    await s.put('b', { n: 2 });
    await s.tombstone('a');
    expect(await s.get('a')).toBeUndefined();
    expect(await readdir(s.dir)).toEqual(['a.json.removing', 'b.json']);
    const loaded = await s.loadAll();
    expect(loaded.records).toEqual([{ id: 'b', value: { n: 2 } }]);
    expect(loaded.tombstones).toEqual([{ id: 'a', value: { n: 1 } }]);
    expect(loaded.broken).toEqual([]);
    await s.delete('a');
    await s.delete('b');
    expect(await readdir(s.dir)).toEqual([]);
    expect(await s.loadAll()).toEqual({ records: [], tombstones: [], broken: [] });
  });

  it('refuses to set aside a record that is not there, and reports an unreadable tombstone as broken', async () => {
    const s = await store();
    await expect(s.tombstone('absent')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(s.tombstone('../x')).rejects.toThrow(/invalid record id/);
    await writeFile(join(s.dir, 'bad.json.removing'), '{not json');
    const loaded = await s.loadAll();
    expect(loaded.tombstones).toEqual([]);
    expect(loaded.broken.map((b) => b.id)).toEqual(['bad']);
  });
});

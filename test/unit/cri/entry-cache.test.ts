import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { EntryCache, lengthDelimited } from '../../../src/cri/entry-cache.js';
import { descriptorPath, loadCriServices, Encoded, LOADER_OPTIONS } from '../../../src/cri/protos.js';
import { compareNs } from '../../../src/domain/ids.js';

const pb = createRequire(import.meta.url)('protobufjs/light');
const root = (v: 'v1' | 'v1alpha2') => pb.Root.fromJSON(JSON.parse(readFileSync(descriptorPath(v), 'utf8')));

interface Rec {
  id: string;
  state: string;
  exit: number;
}
const plain = (r: Rec) => ({ id: r.id, state: r.state, exit_code: r.exit, created_at: '1700000000000000001', labels: { a: 'b' }, image: { image: 'busybox', user_specified_image: 'busybox' } });

function decodeList(version: 'v1' | 'v1alpha2', bytes: Buffer): any {
  const t = root(version).lookupType(`runtime.${version}.ListContainersResponse`);
  return t.toObject(t.decode(bytes), LOADER_OPTIONS);
}

describe('EntryCache', () => {
  it('answers a record with its key from the cache and encodes again when the record or the key differs', () => {
    const cache = new EntryCache<Rec>('Container');
    const r: Rec = { id: 'c1', state: 'CONTAINER_RUNNING', exit: 0 };
    let encoded = 0;
    const counted = (x: Rec) => (encoded++, plain(x));
    const first = cache.field1('v1', r, r.state, counted);
    expect(cache.field1('v1', r, r.state, counted)).toBe(first);
    expect(encoded).toBe(1);
    // the same record changed in place: its key differs, so it is encoded again and says EXITED
    r.state = 'CONTAINER_EXITED';
    r.exit = 7;
    const after = cache.field1('v1', r, `${r.state} ${r.exit}`, counted);
    expect(encoded).toBe(2);
    expect(decodeList('v1', after).containers[0]).toMatchObject({ id: 'c1', state: 'CONTAINER_EXITED' });
    // a new record object with equal contents and key is not the cached one's
    const copy = { ...r };
    cache.field1('v1', copy, `${copy.state} ${copy.exit}`, counted);
    expect(encoded).toBe(3);
    // each version has its own entries: v1alpha2 has no user_specified_image, so its bytes differ
    const alpha = cache.field1('v1alpha2', copy, `${copy.state} ${copy.exit}`, counted);
    expect(encoded).toBe(4);
    expect(alpha.equals(cache.field1('v1', copy, `${copy.state} ${copy.exit}`, counted))).toBe(false);
    expect(decodeList('v1alpha2', alpha).containers[0].image).toEqual({ image: 'busybox', annotations: {} });
  });

  it('concatenated entries decode as the list the plain path encodes', () => {
    const cache = new EntryCache<Rec>('Container');
    const recs: Rec[] = Array.from({ length: 40 }, (_, i) => ({ id: `c${i}`.padEnd(64, 'x'), state: i % 2 ? 'CONTAINER_EXITED' : 'CONTAINER_RUNNING', exit: i }));
    const serialize = loadCriServices('v1').runtime.ListContainers!.responseSerialize;
    const cached = Buffer.concat(recs.map((r) => cache.field1('v1', r, r.state, plain)));
    const viaPlain = serialize({ containers: recs.map(plain) });
    expect(cached.equals(viaPlain)).toBe(true);
    // an Encoded answer goes out as its bytes
    expect(serialize(new Encoded(cached, () => ({})) as never)).toBe(cached);
  });

  it('frames a message with a varint length of one, two and three bytes', () => {
    for (const n of [0, 1, 127, 128, 300, 16_383, 16_384, 70_000]) {
      const msg = Buffer.alloc(n, 7);
      const out = lengthDelimited(1, msg);
      const w = pb.Writer.create();
      w.uint32(10).bytes(msg);
      expect(out.equals(Buffer.from(w.finish()))).toBe(true);
    }
  });
});

describe('compareNs', () => {
  it('orders decimal nanosecond strings as numbers', () => {
    const xs = ['1700000000000000002', '0', '999', '1700000000000000001', '10000000000000000000', '1000'];
    const want = [...xs].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    expect([...xs].sort(compareNs)).toEqual(want);
    expect(compareNs('5', '5')).toBe(0);
  });
});

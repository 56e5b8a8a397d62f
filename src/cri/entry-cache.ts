import { messageEncoder } from './protos.js';
import type { ApiVersion } from './rpc.js';

/**
 * EntryCache keeps each record's protobuf encoding as field 1 of its answer (tag, length, message), so that the
 * kubelet's relist, which asks for the same pods and containers every second, concatenates bytes instead of
 * converting and encoding every entry again (fromObject + encode were about a fifth of fune's CPU per relist).
 *
 * An entry belongs to one record object and one `key`: the registry replaces a record with a new object on every
 * change it saves (saveContainer, saveSandbox), and the caller's `key` names the parts of an entry that can change
 * without a new record (a pod's state as its infra process decides it) or that code could change in place (a
 * container's state, exit code, times, reason and message). An entry whose record or key differs is encoded again,
 * so the cache never answers with an older state than the plain path would. Entries go with their records
 * (WeakMap), per API version, since v1alpha2 encodes fewer fields.
 */
export class EntryCache<R extends object> {
  private readonly encoders: Record<ApiVersion, (v: Record<string, unknown>) => Buffer>;
  private readonly entries: Record<ApiVersion, WeakMap<R, { key: string; bytes: Buffer }>> = { v1: new WeakMap(), v1alpha2: new WeakMap() };

  constructor(type: string) {
    this.encoders = { v1: messageEncoder('v1', type), v1alpha2: messageEncoder('v1alpha2', type) };
  }

  /** field1 gives `r`'s message (`plain(r)` encoded) as field 1 of the answer, from the cache when `key` is the same. */
  field1(version: ApiVersion, r: R, key: string, plain: (r: R) => Record<string, unknown>): Buffer {
    const map = this.entries[version];
    const hit = map.get(r);
    if (hit && hit.key === key) return hit.bytes;
    const bytes = lengthDelimited(1, this.encoders[version](plain(r)));
    map.set(r, { key, bytes });
    return bytes;
  }
}

/** lengthDelimited frames `msg` as field `field` of wire type 2 (tag, varint length, bytes). */
export function lengthDelimited(field: number, msg: Buffer): Buffer {
  const head: number[] = [(field << 3) | 2];
  let n = msg.length;
  while (n > 0x7f) {
    head.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  head.push(n);
  // its own memory, not a slice of the shared pool that one small cached entry would keep whole
  const out = Buffer.allocUnsafeSlow(head.length + msg.length);
  for (let i = 0; i < head.length; i++) out[i] = head[i]!;
  msg.copy(out, head.length);
  return out;
}

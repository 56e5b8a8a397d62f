/**
 * KeyedMutex serialises work per key (a pod or container id): calls for one key run one after another, calls for
 * different keys run in parallel. There is no global lock.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** run runs `fn` once every earlier call for `key` has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** busy tells whether work for `key` is queued or running (or has only just settled). */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** size is the number of keys with queued or running work (for tests). */
  get size(): number {
    return this.tails.size;
  }
}

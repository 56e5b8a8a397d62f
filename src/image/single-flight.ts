/**
 * SingleFlight runs one call per key at a time: callers that arrive while a call for their key is running get
 * its result instead of starting their own (concurrent pulls of one image or one blob share the work).
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** do runs `fn` for `key`, or joins the call already running for it. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    const cur = this.running.get(key);
    if (cur) return cur;
    const p = fn().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }
}

/** Mutex is a simple async lock (FIFO). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** run runs `fn` once every earlier holder has finished. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

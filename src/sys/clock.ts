/** Clock is the injected source of time, so that TTLs, timeouts and timestamps are testable. */
export interface Clock {
  /** now gives milliseconds since the epoch. */
  now(): number;
  /** nowNanos gives nanoseconds since the epoch as a bigint (CRI timestamps). */
  nowNanos(): bigint;
  /** setTimeout schedules `fn` after `ms`; the returned function cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** systemClock is the real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  nowNanos: () => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

import { randomBytes } from 'node:crypto';
import { resourceExhausted } from '../errors/index.js';
import type { Clock } from '../sys/clock.js';

/** TokenCacheOptions size the cache of pending streaming requests. */
export interface TokenCacheOptions {
  /** ttlMs is how long a token stays usable. */
  ttlMs: number;
  /** max caps the tokens pending at once; beyond it insert throws ResourceExhausted. */
  max: number;
  clock: Clock;
  /** random draws the bytes of a token (injected for tests). */
  random?: (n: number) => Buffer;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/**
 * TokenCache holds the requests behind issued streaming URLs until they are used once or expire, like the kubelet
 * streaming library's request cache: 8-character URL-safe tokens from 6 random bytes, single use, expiry from the
 * injected clock, expired entries swept on every insert. Map iteration order is insertion order, so the sweep stops
 * at the first live entry.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly random: (n: number) => Buffer;

  constructor(private readonly opts: TokenCacheOptions) {
    this.random = opts.random ?? randomBytes;
  }

  /** size is the number of tokens held, expired or not. */
  get size(): number {
    return this.entries.size;
  }

  /** insert stores `value` and returns its new token. */
  insert(value: T): string {
    const now = this.opts.clock.now();
    this.sweep(now);
    if (this.entries.size >= this.opts.max) throw resourceExhausted('maximum number of in-flight streaming requests exceeded');
    for (let i = 0; i < 10; i++) {
      const token = this.random(6).toString('base64url').slice(0, 8);
      if (this.entries.has(token)) continue;
      this.entries.set(token, { value, expires: now + this.opts.ttlMs });
      return token;
    }
    throw resourceExhausted('failed to draw a unique streaming token');
  }

  /** consume takes the request of a token out of the cache; undefined when unknown, used or expired. */
  consume(token: string): T | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return this.opts.clock.now() > e.expires ? undefined : e.value;
  }

  private sweep(now: number): void {
    for (const [token, e] of this.entries) {
      if (e.expires >= now) break;
      this.entries.delete(token);
    }
  }
}

import type { Clock } from '../sys/clock.js';

/**
 * IdleTimer calls `onIdle` once `ms` pass without a `touch`. Only data counts as activity (the callers touch on
 * DATA frames and WebSocket data messages, never on PINGs, which Go clients send every 5 s and which would keep a
 * dead session alive for ever). One clock timer is pending at a time; a touch only moves a timestamp.
 */
export class IdleTimer {
  private last: number;
  private cancel: () => void = () => {};
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.last = clock.now();
    if (ms > 0) this.arm(ms);
  }

  /** touch records activity now. */
  touch(): void {
    this.last = this.clock.now();
  }

  /** stop cancels the timer for good. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private arm(delay: number): void {
    this.cancel = this.clock.setTimeout(() => {
      if (this.stopped) return;
      const left = this.last + this.ms - this.clock.now();
      if (left > 0) return this.arm(left);
      this.stopped = true;
      this.onIdle();
    }, delay);
  }
}

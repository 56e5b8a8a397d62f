import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';

/**
 * StepTimer times the steps of one call (RunPodSandbox: netns, CNI, runc, ...) and logs them at debug level in
 * one line, `{steps: {name: ms}, totalMs}`, so a slow verb can be profiled from the daemon's log.
 */
export class StepTimer {
  private readonly start = performance.now();
  private last = this.start;
  private readonly steps: Record<string, number> = {};

  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** mark ends the step `name` (the time since the previous mark, added up when a name repeats). */
  mark(name: string): void {
    const now = performance.now();
    this.steps[name] = Math.round(((this.steps[name] ?? 0) + now - this.last) * 10) / 10;
    this.last = now;
  }

  /** done logs the steps at debug level. */
  done(fields: Record<string, unknown> = {}): void {
    if (!this.log.isLevelEnabled('debug')) return;
    this.log.debug({ ...fields, steps: this.steps, totalMs: Math.round((performance.now() - this.start) * 10) / 10 }, `${this.what} steps`);
  }
}

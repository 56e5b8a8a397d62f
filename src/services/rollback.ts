import type { Logger } from '../log/index.js';

/**
 * Rollback collects the undo of every step of a create as the step succeeds; on failure `run` undoes them in
 * reverse order, logging (not throwing) undo failures, so that the caller can rethrow the first error.
 */
export class Rollback {
  private readonly undos: { what: string; fn: () => Promise<unknown> }[] = [];

  constructor(private readonly log: Logger) {}

  /** add registers the undo of a step that just succeeded. */
  add(what: string, fn: () => Promise<unknown>): void {
    this.undos.push({ what, fn });
  }

  /** run undoes every registered step, last first. */
  async run(): Promise<void> {
    for (const u of this.undos.splice(0).reverse()) {
      try {
        await u.fn();
      } catch (err) {
        this.log.warn({ err, step: u.what }, 'rollback step failed');
      }
    }
  }

  /** guard runs `fn`; if it throws, runs the undos and rethrows. */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      await this.run();
      throw e;
    }
  }
}

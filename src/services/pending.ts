/**
 * Pending holds work a call began for an id without waiting for it (moving a monitor into its cgroup), for a later
 * call that must not overtake it: quiet waits for it and ignores its outcome. Finished work leaves by itself.
 */
export class Pending {
  private readonly work = new Map<string, Promise<void>>();

  /** begin records `p` as the work in flight for `id`. */
  begin(id: string, p: Promise<void>): void {
    // A failure is nobody's to report, and must not count as an unhandled rejection.
    const done = p.catch(() => undefined);
    this.work.set(id, done);
    void done.then(() => this.work.get(id) === done && this.work.delete(id));
  }

  /** quiet waits for `id`'s work, if any, ignoring its outcome. */
  async quiet(id: string): Promise<void> {
    await this.work.get(id);
  }
}

/**
 * settleAll is Promise.all that waits for every promise to end before it throws the first failure, so that a
 * rollback never runs while a sibling step is still making something.
 */
export async function settleAll<T extends readonly unknown[]>(ps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const out = await Promise.allSettled(ps);
  const failed = out.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return out.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/**
 * Pending holds work a call began for an id without waiting for it (a rootfs mount, moving a monitor into its
 * cgroup), for a later call that needs it done: settle waits and throws its error, quiet waits and ignores it.
 * With `forgetWhenDone`, finished work leaves the map by itself (for work whose outcome nobody needs).
 */
export class Pending {
  private readonly work = new Map<string, Promise<void>>();

  constructor(private readonly forgetWhenDone = false) {}

  /** begin records `p` as the work in flight for `id`. */
  begin(id: string, p: Promise<void>): void {
    // Observed by settle or quiet; until then a failure must not count as an unhandled rejection.
    const done = p.catch(() => undefined);
    this.work.set(id, p);
    if (this.forgetWhenDone) void done.then(() => this.work.get(id) === p && this.work.delete(id));
  }

  /** wait waits for `id`'s work (throwing its error) and leaves it recorded. */
  async wait(id: string): Promise<void> {
    await this.work.get(id);
  }

  /** settle waits for `id`'s work and throws its error; with none in flight it returns at once. */
  async settle(id: string): Promise<void> {
    const p = this.work.get(id);
    if (!p) return;
    this.work.delete(id);
    await p;
  }

  /** quiet waits for `id`'s work, if any, ignoring its outcome. */
  async quiet(id: string): Promise<void> {
    const p = this.work.get(id);
    if (!p) return;
    this.work.delete(id);
    await p.catch(() => undefined);
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

/** ContainerEventType is the CRI event kind. */
export type ContainerEventType = 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';

/** ContainerEvent is a CRI ContainerEventResponse as a plain object. */
export interface ContainerEvent {
  container_id: string;
  container_event_type: ContainerEventType;
  created_at: string;
  pod_sandbox_status: unknown;
  containers_statuses: unknown[];
}

const MAX_QUEUE = 10_000;

/**
 * EventsService fans container lifecycle events out to every GetContainerEvents subscriber. Each subscriber has
 * its own queue, so a slow one neither loses events nor holds others up; a subscriber that falls more than
 * 10 000 events behind is dropped (its stream ends) rather than growing without bound.
 */
export class EventsService {
  private readonly subs = new Set<Subscriber>();

  /** publish hands an event to every current subscriber, in order. */
  publish(e: ContainerEvent): void {
    for (const s of this.subs) s.push(e);
  }

  /** subscribe gives an async iterator of events published from now on, ending when `signal` fires. */
  async *subscribe(signal: AbortSignal): AsyncGenerator<ContainerEvent> {
    const s = new Subscriber();
    this.subs.add(s);
    const onAbort = () => s.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const e = await s.next();
        if (!e) return;
        yield e;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.subs.delete(s);
    }
  }

  /** subscribers is the number of open subscriptions. */
  get subscribers(): number {
    return this.subs.size;
  }
}

class Subscriber {
  private readonly queue: ContainerEvent[] = [];
  private wake?: () => void;
  private closed = false;

  push(e: ContainerEvent): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUE) return this.close();
    this.queue.push(e);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async next(): Promise<ContainerEvent | undefined> {
    while (this.queue.length === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    return this.queue.shift();
  }
}

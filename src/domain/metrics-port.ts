// The small interfaces through which the layers report to the daemon's Prometheus metrics (src/metrics/). They
// carry no library: when `[metrics]` is off nobody implements them, the reporters hold `undefined`, and prom-client
// is never loaded.

/** CallMetrics hears of every CRI call when it ends: its verb, its gRPC code (Go's name: OK, NotFound, …), its time. */
export interface CallMetrics {
  criCall(verb: string, code: string, seconds: number): void;
}

/** PullResult is how an image pull ended. */
export type PullResult = 'success' | 'failure';

/** PullMetrics hears of every image pull when it ends, with the bytes received from the registry. */
export interface PullMetrics {
  imagePull(result: PullResult, bytes: number, seconds: number): void;
}

/** LifecycleMetrics hears of the container events worth counting. */
export interface LifecycleMetrics {
  /** oomKill: a container's exit was an OOM kill (counted once, when fune records the exit). */
  oomKill(): void;
  /** execSyncTimeout: an ExecSync ran past its timeout and was killed. */
  execSyncTimeout(): void;
}

/** StreamKind is the kind of a streaming URL. */
export type StreamKind = 'exec' | 'attach' | 'portforward';

/**
 * StreamRefusal is why a streaming request was turned away: `token` (unknown, used or expired URL), `protocol` (no
 * common protocol version, or not an upgrade), `exhausted` (too many URLs outstanding when Exec/Attach/PortForward
 * asked for one), `connections` (an upgrade beyond `streaming.max_connections`: HTTP 503).
 */
export type StreamRefusal = 'token' | 'protocol' | 'exhausted' | 'connections';

/** StreamingMetrics hears of streaming sessions opening, closing, and being refused. */
export interface StreamingMetrics {
  sessionOpened(kind: StreamKind): void;
  sessionClosed(kind: StreamKind): void;
  sessionRefused(kind: StreamKind | 'unknown', reason: StreamRefusal): void;
}

/** ObjectCounts are the pods and containers fune holds, by CRI state, read when metrics are scraped. */
export interface ObjectCounts {
  /** containers by state: created, running, exited, unknown. */
  containers: Record<string, number>;
  /** pods by state: ready, notready. */
  pods: Record<string, number>;
}

/** RuntimeMetrics is everything the daemon's metrics hear of. */
export interface RuntimeMetrics extends CallMetrics, PullMetrics, LifecycleMetrics, StreamingMetrics {
  /** recovered records how long start-up recovery took. */
  recovered(seconds: number): void;
}

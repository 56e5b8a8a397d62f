import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ObjectCounts, PullResult, RuntimeMetrics, StreamKind, StreamRefusal } from '../domain/metrics-port.js';

/** CALL_BUCKETS are the latency buckets of CRI calls, in seconds: from a cached read to a slow image pull. */
const CALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** PULL_BUCKETS are the buckets of whole image pulls, in seconds. */
const PULL_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

const CONTAINER_STATES = ['created', 'running', 'exited', 'unknown'];
const POD_STATES = ['ready', 'notready'];
const STREAM_KINDS: StreamKind[] = ['exec', 'attach', 'portforward'];

/** PromMetricsOptions are what the metrics read at scrape time. */
export interface PromMetricsOptions {
  /** counts gives the pods and containers by state (asked on every scrape). */
  counts: () => Promise<ObjectCounts>;
}

/**
 * PromMetrics is fune's Prometheus registry: one per daemon (no global registry), holding the CRI call, image pull,
 * lifecycle, streaming and recovery metrics (names in the README's Metrics section) plus prom-client's process
 * and Node.js metrics. It implements every reporter interface of domain/metrics.ts.
 */
export class PromMetrics implements RuntimeMetrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'verb' | 'code'>;
  private readonly callSeconds: Histogram<'verb'>;
  private readonly pulls: Counter<'result'>;
  private readonly pullBytes: Counter;
  private readonly pullSeconds: Histogram;
  private readonly ooms: Counter;
  private readonly execTimeouts: Counter;
  private readonly sessions: Gauge<'kind'>;
  private readonly refused: Counter<'kind' | 'reason'>;
  private readonly recovery: Gauge;

  constructor(opts: PromMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.calls = new Counter({ name: 'fune_cri_requests_total', help: 'CRI calls handled, by verb and gRPC status code.', labelNames: ['verb', 'code'], registers });
    this.callSeconds = new Histogram({ name: 'fune_cri_request_duration_seconds', help: 'Time to answer a CRI call, by verb (streaming calls: until the stream ends).', labelNames: ['verb'], buckets: CALL_BUCKETS, registers });
    this.pulls = new Counter({ name: 'fune_image_pulls_total', help: 'Image pulls, by result (success or failure).', labelNames: ['result'], registers });
    this.pullBytes = new Counter({ name: 'fune_image_pull_bytes_total', help: 'Bytes of image layers received from registries.', registers });
    this.pullSeconds = new Histogram({ name: 'fune_image_pull_duration_seconds', help: 'Time of successful image pulls (fetch, verify, unpack).', buckets: PULL_BUCKETS, registers });
    this.ooms = new Counter({ name: 'fune_containers_oom_total', help: 'Container exits that were OOM kills.', registers });
    this.execTimeouts = new Counter({ name: 'fune_exec_sync_timeouts_total', help: 'ExecSync calls whose command ran past its timeout and was killed.', registers });
    this.sessions = new Gauge({ name: 'fune_streaming_sessions', help: 'Open streaming connections (exec, attach, port-forward).', labelNames: ['kind'], registers });
    this.refused = new Counter({ name: 'fune_streaming_sessions_refused_total', help: 'Streaming requests turned away, by kind and reason (token, protocol, exhausted, connections).', labelNames: ['kind', 'reason'], registers });
    this.recovery = new Gauge({ name: 'fune_recovery_duration_seconds', help: 'Time the last start-up recovery took (0 until it has finished).', registers });
    for (const kind of STREAM_KINDS) this.sessions.set({ kind }, 0);
    const states = (name: string, help: string, all: string[], pick: (c: ObjectCounts) => Record<string, number>) =>
      new Gauge({
        name, help, labelNames: ['state'], registers,
        async collect() {
          const c = pick(await opts.counts());
          for (const state of all) this.set({ state }, c[state] ?? 0);
        },
      });
    states('fune_containers', 'Containers fune holds, by state.', CONTAINER_STATES, (c) => c.containers);
    states('fune_pod_sandboxes', 'Pod sandboxes fune holds, by state.', POD_STATES, (c) => c.pods);
  }

  criCall(verb: string, code: string, seconds: number): void {
    this.calls.inc({ verb, code });
    this.callSeconds.observe({ verb }, seconds);
  }

  imagePull(result: PullResult, bytes: number, seconds: number): void {
    this.pulls.inc({ result });
    if (bytes > 0) this.pullBytes.inc(bytes);
    if (result === 'success') this.pullSeconds.observe(seconds);
  }

  oomKill(): void {
    this.ooms.inc();
  }

  execSyncTimeout(): void {
    this.execTimeouts.inc();
  }

  sessionOpened(kind: StreamKind): void {
    this.sessions.inc({ kind });
  }

  sessionClosed(kind: StreamKind): void {
    this.sessions.dec({ kind });
  }

  sessionRefused(kind: StreamKind | 'unknown', reason: StreamRefusal): void {
    this.refused.inc({ kind, reason });
  }

  recovered(seconds: number): void {
    this.recovery.set(seconds);
  }

  /** text renders every metric in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** contentType is the text format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

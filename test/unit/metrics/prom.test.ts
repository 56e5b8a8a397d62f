// The daemon's Prometheus registry: what each reporter call becomes in the text format, the state gauges read at
// scrape time, one registry per instance, and the HTTP endpoint's routes.
import { describe, expect, it } from 'vitest';
import { PromMetrics } from '../../../src/metrics/prom.js';
import { startMetricsServer } from '../../../src/metrics/server.js';
import { nullLogger } from '../../../src/log/index.js';
import type { ObjectCounts } from '../../../src/domain/metrics-port.js';

const counts = (c: ObjectCounts) => async () => c;
/** sample finds the value of one series in the text format (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('PromMetrics', () => {
  it('turns reports into counters, histograms and gauges', async () => {
    const m = new PromMetrics({ counts: counts({ containers: { running: 2, exited: 1 }, pods: { ready: 1 } }) });
    m.criCall('RunPodSandbox', 'OK', 0.2);
    m.criCall('RunPodSandbox', 'OK', 0.03);
    m.criCall('ContainerStatus', 'NotFound', 0.0004);
    m.imagePull('success', 1000, 2);
    m.imagePull('failure', 24, 0.5);
    m.oomKill();
    m.execSyncTimeout();
    m.execSyncTimeout();
    m.sessionOpened('exec');
    m.sessionOpened('exec');
    m.sessionClosed('exec');
    m.sessionRefused('portforward', 'token');
    m.recovered(1.25);
    const t = await m.text();
    expect(sample(t, 'fune_cri_requests_total{verb="RunPodSandbox",code="OK"}')).toBe(2);
    expect(sample(t, 'fune_cri_requests_total{verb="ContainerStatus",code="NotFound"}')).toBe(1);
    expect(sample(t, 'fune_cri_request_duration_seconds_bucket{le="0.05",verb="RunPodSandbox"}')).toBe(1);
    expect(sample(t, 'fune_cri_request_duration_seconds_bucket{le="0.25",verb="RunPodSandbox"}')).toBe(2);
    expect(sample(t, 'fune_cri_request_duration_seconds_bucket{le="0.0005",verb="ContainerStatus"}')).toBe(1);
    expect(sample(t, 'fune_cri_request_duration_seconds_sum{verb="RunPodSandbox"}')).toBeCloseTo(0.23);
    expect(sample(t, 'fune_image_pulls_total{result="success"}')).toBe(1);
    expect(sample(t, 'fune_image_pulls_total{result="failure"}')).toBe(1);
    expect(sample(t, 'fune_image_pull_bytes_total')).toBe(1024);
    expect(sample(t, 'fune_image_pull_duration_seconds_count')).toBe(1);
    expect(sample(t, 'fune_containers_oom_total')).toBe(1);
    expect(sample(t, 'fune_exec_sync_timeouts_total')).toBe(2);
    expect(sample(t, 'fune_streaming_sessions{kind="exec"}')).toBe(1);
    expect(sample(t, 'fune_streaming_sessions{kind="attach"}')).toBe(0);
    expect(sample(t, 'fune_streaming_sessions_refused_total{kind="portforward",reason="token"}')).toBe(1);
    expect(sample(t, 'fune_recovery_duration_seconds')).toBe(1.25);
    expect(sample(t, 'fune_containers{state="running"}')).toBe(2);
    expect(sample(t, 'fune_containers{state="created"}')).toBe(0);
    expect(sample(t, 'fune_pod_sandboxes{state="ready"}')).toBe(1);
    expect(sample(t, 'fune_pod_sandboxes{state="notready"}')).toBe(0);
    // prom-client's process and Node.js metrics come along.
    expect(sample(t, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(t).toContain('# TYPE process_cpu_seconds_total counter');
    expect(t).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  it('keeps one registry per instance, and reads the counts at each scrape', async () => {
    const c: ObjectCounts = { containers: {}, pods: { ready: 1 } };
    const a = new PromMetrics({ counts: counts(c) });
    const b = new PromMetrics({ counts: counts({ containers: {}, pods: {} }) });
    a.oomKill();
    expect(sample(await a.text(), 'fune_containers_oom_total')).toBe(1);
    expect(sample(await b.text(), 'fune_containers_oom_total')).toBe(0);
    c.pods = { ready: 0, notready: 3 };
    expect(sample(await a.text(), 'fune_pod_sandboxes{state="notready"}')).toBe(3);
  });
});

describe('the metrics endpoint', () => {
  it('serves GET /metrics in the text format, 404 elsewhere, 405 for other methods, and reports a taken port', async () => {
    const s = await startMetricsServer({ host: '127.0.0.1', port: 0, log: nullLogger(), counts: counts({ containers: {}, pods: {} }) });
    try {
      const r = await fetch(`${s.url}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await r.text()).toContain('# HELP fune_containers_oom_total');
      expect((await fetch(`${s.url}/metrics?x=1`)).status).toBe(200);
      expect((await fetch(`${s.url}/`)).status).toBe(404);
      expect((await fetch(`${s.url}/metricsx`)).status).toBe(404);
      expect((await fetch(`${s.url}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
      const port = Number(new URL(s.url).port);
      await expect(startMetricsServer({ host: '127.0.0.1', port, log: nullLogger(), counts: counts({ containers: {}, pods: {} }) })).rejects.toThrow(
        `metrics endpoint 127.0.0.1:${port}: listen EADDRINUSE`,
      );
    } finally {
      await s.close();
    }
  });
});

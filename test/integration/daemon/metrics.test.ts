// The `[metrics]` endpoint of a real daemon, scraped by a real Prometheus (Debian's package) and checked by
// promtool: CRI calls through both servers (grpc-js and the direct HTTP/2 one), image pulls from a real registry,
// containers and pods by state, an ExecSync timeout, an OOM kill, streaming sessions and refusals, recovery time,
// process metrics. And with `[metrics]` off, no listener and no prom-client in the process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criClient, failure, grpc, startDaemon } from '../../helpers/daemon.js';
import { promtoolCheck, startPrometheus, type TestPrometheus } from '../../helpers/prometheus.js';
import { upgrade } from '../../helpers/spdy-client.js';
import { containerConfig, podConfig, startEnv, type LifecycleEnv } from '../lifecycle/env.js';
import { freePort, hostsToml, startRegistry, type TestRegistry } from '../image/registry-helper.js';
import { busyboxImage, pushImage } from '../../../hack/test-images.js';

const MiB = 1024 * 1024;
const V4 = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/**
 * UPSTREAM_LINT are promtool's complaints about prom-client's own Node.js gauges, whose names end in `_total`
 * (kept: Node.js dashboards know them by these names). Any other complaint fails the test.
 */
const UPSTREAM_LINT = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: LifecycleEnv;
let reg: TestRegistry;
let work: string;
let url: string;
let prom: TestPrometheus | undefined;

/** metricsUrl reads the endpoint's address from the daemon's log line. */
function metricsUrl(logs: string): string {
  const line = logs.split('\n').find((l) => l.includes('metrics server listening'));
  if (!line) throw new Error(`no metrics server in the logs:\n${logs}`);
  return (JSON.parse(line) as { url: string }).url;
}

async function scrape(): Promise<string> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return r.text();
}

/** value gives one series of a scrape (0 when absent: a counter not yet incremented). */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fune-metrics-'));
  reg = await startRegistry();
  await pushImage(reg.base, 'fune/busybox', 'latest', await busyboxImage());
  await hostsToml(join(work, 'certs.d'), reg.host, `server = "http://${reg.host}"\n`);
  env = await startEnv(`[metrics]\naddress = "127.0.0.1:0"\n[registry]\nconfig_path = "${join(work, 'certs.d')}"\n`);
  url = metricsUrl(env.d.logs());
});
afterAll(async () => {
  await prom?.stop();
  await env?.cleanup();
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the metrics endpoint of a running daemon', () => {
  it('counts calls by verb and code through both CRI servers, and times them', async () => {
    const t0 = await scrape();
    expect(value(t0, 'fune_recovery_duration_seconds')).toBeGreaterThan(0);
    const direct = criClient(env.d.socket, 'v1', 'RuntimeService', { authority: env.d.socket });
    try {
      await env.c.call('Version');
      await direct.call('Version');
      await direct.call('Version', {}, {});
      expect((await failure(direct.call('ContainerStatus', { container_id: 'f'.repeat(64) }))).code).toBe(grpc.status.NOT_FOUND);
      // (every v1 verb is implemented now: an unknown container gives the second code)
      expect((await failure(env.c.call('CheckpointContainer', { container_id: 'x', location: '/tmp/x.tar' }))).code).toBe(grpc.status.NOT_FOUND);
    } finally {
      direct.close();
    }
    const t1 = await scrape();
    expect(value(t1, 'fune_cri_requests_total{verb="Version",code="OK"}') - value(t0, 'fune_cri_requests_total{verb="Version",code="OK"}')).toBe(3);
    expect(value(t1, 'fune_cri_requests_total{verb="ContainerStatus",code="NotFound"}')).toBe(1);
    expect(value(t1, 'fune_cri_requests_total{verb="CheckpointContainer",code="NotFound"}')).toBe(1);
    expect(value(t1, 'fune_cri_request_duration_seconds_count{verb="Version"}')).toBe(value(t1, 'fune_cri_requests_total{verb="Version",code="OK"}'));
  });

  it('counts pulls by result with the bytes received, and the pods, containers, timeouts and OOM kills', async () => {
    const img = criClient(env.d.socket, 'v1', 'ImageService');
    try {
      await img.call('PullImage', { image: { image: `${reg.host}/fune/busybox:latest` } });
      const dead = await freePort();
      expect((await failure(img.call('PullImage', { image: { image: `127.0.0.1:${dead}/fune/none:1` } }))).code).not.toBe(grpc.status.OK);
    } finally {
      img.close();
    }
    let t = await scrape();
    expect(value(t, 'fune_image_pulls_total{result="success"}')).toBe(1);
    expect(value(t, 'fune_image_pulls_total{result="failure"}')).toBe(1);
    // The busybox image's one layer is gzip-compressed on the wire: at least a few hundred KiB of it came in.
    expect(value(t, 'fune_image_pull_bytes_total')).toBeGreaterThan(100_000);
    expect(value(t, 'fune_image_pull_duration_seconds_count')).toBe(1);

    const config = podConfig('metrics', env.logDir);
    const { pod_sandbox_id: pod } = await env.c.call('RunPodSandbox', { config });
    const run = async (name: string, script: string, extra: Record<string, unknown> = {}) => {
      const { container_id } = await env.c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(name, script, extra), sandbox_config: config });
      await env.c.call('StartContainer', { container_id });
      return container_id as string;
    };
    const sleeper = await run('sleeper', 'exec sleep 1000');
    t = await scrape();
    expect(value(t, 'fune_pod_sandboxes{state="ready"}')).toBe(1);
    expect(value(t, 'fune_containers{state="running"}')).toBe(1);

    const slow = await failure(env.c.call('ExecSync', { container_id: sleeper, cmd: ['sleep', '10'], timeout: 1 }));
    expect(slow.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(value(await scrape(), 'fune_exec_sync_timeouts_total')).toBe(1);

    const resources = { memory_limit_in_bytes: String(16 * MiB) };
    const hog = await run('hog', 'x=$(head -c 200m /dev/zero | tr "\\0" a); echo survived', { linux: { resources } });
    for (let i = 0; i < 200; i++) {
      if ((await env.c.call('ContainerStatus', { container_id: hog })).status.state === 'CONTAINER_EXITED') break;
      await sleep(50);
    }
    expect((await env.c.call('ContainerStatus', { container_id: hog })).status.reason).toBe('OOMKilled');
    t = await scrape();
    expect(value(t, 'fune_containers_oom_total')).toBe(1);
    expect(value(t, 'fune_containers{state="running"}')).toBe(1);
    expect(value(t, 'fune_containers{state="exited"}')).toBe(1);
  });

  it('holds streaming sessions open while connected and counts refusals', async () => {
    const [c] = (await env.c.call('ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers;
    const { url: execUrl } = await env.c.call('Exec', { container_id: c.id, cmd: ['sleep', '30'], stdout: true });
    const before = await scrape();
    expect((await upgrade(execUrl.replace(/\/exec\/.*/, '/exec/nosuchtk'), V4)).status).toBe(404);
    const r = await upgrade(execUrl, V4);
    expect(r.status).toBe(101);
    const during = await scrape();
    expect(value(during, 'fune_streaming_sessions{kind="exec"}')).toBe(1);
    expect(value(during, 'fune_streaming_sessions_refused_total{kind="exec",reason="token"}') - value(before, 'fune_streaming_sessions_refused_total{kind="exec",reason="token"}')).toBe(1);
    r.client!.close();
    for (let i = 0; i < 100 && value(await scrape(), 'fune_streaming_sessions{kind="exec"}') !== 0; i++) await sleep(50);
    expect(value(await scrape(), 'fune_streaming_sessions{kind="exec"}')).toBe(0);
  });

  it('is scraped by a real Prometheus and passes promtool check metrics', async () => {
    const text = await scrape();
    const lint = promtoolCheck(text);
    // 0: clean; 3: lint problems only (1 would be a text that does not parse).
    expect([0, 3], lint.problems.join('\n')).toContain(lint.status);
    expect(lint.problems.filter((p) => !UPSTREAM_LINT.some((n) => p.startsWith(`${n} `)))).toEqual([]);
    expect(text).toContain('# TYPE fune_cri_request_duration_seconds histogram');

    prom = await startPrometheus(new URL(url).host);
    await prom.until('up{job="fune"}', (r) => r.length === 1 && r[0]!.value === 1);
    const one = async (q: string) => {
      const r = await prom!.until(q, (x) => x.length === 1);
      return r[0]!.value;
    };
    expect(await one('fune_containers{state="running"}')).toBe(1);
    expect(await one('fune_pod_sandboxes{state="ready"}')).toBe(1);
    expect(await one('fune_exec_sync_timeouts_total')).toBe(1);
    expect(await one('fune_containers_oom_total')).toBe(1);
    expect(await one('fune_image_pulls_total{result="success"}')).toBe(1);
    expect(await one('fune_cri_requests_total{verb="RunPodSandbox",code="OK"}')).toBe(1);
    expect(await one('histogram_quantile(0.5, fune_cri_request_duration_seconds_bucket{verb="StartContainer"})')).toBeGreaterThan(0);
    expect(await one('fune_recovery_duration_seconds')).toBeGreaterThan(0);
    expect(await one('process_resident_memory_bytes{job="fune"}')).toBeGreaterThan(20 * MiB);
    expect(await one('nodejs_eventloop_lag_seconds{job="fune"}')).toBeGreaterThanOrEqual(0);
    const verbs = await prom.query('count by (verb) (fune_cri_requests_total)');
    expect(verbs.map((v) => v.metric.verb).sort()).toEqual(expect.arrayContaining(['CreateContainer', 'ExecSync', 'PullImage', 'StartContainer', 'Version']));
  });
});

describe('with [metrics] off', () => {
  it('opens no metrics listener and never loads prom-client', async () => {
    // NODE_DEBUG=module makes Node's module loader name every package it loads on stderr.
    const on = await startDaemon({ toml: '[metrics]\naddress = "127.0.0.1:0"\n', env: { NODE_DEBUG: 'module' } });
    const off = await startDaemon({ env: { NODE_DEBUG: 'module' } });
    try {
      expect(on.logs()).toContain('prom-client');
      expect(off.logs()).toContain('node_modules/pino/');
      expect(off.logs()).not.toContain('prom-client');
      expect(off.logs()).not.toContain('metrics server listening');
    } finally {
      await on.cleanup();
      await off.cleanup();
    }
  });
});
